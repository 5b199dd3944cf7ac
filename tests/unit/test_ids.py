from __future__ import annotations

from greenline.ids import make_junit_test_id


def test_junit_ids() -> None:
    assert make_junit_test_id("com.acme.CartTest", "adds") == "com.acme.CartTest::adds"
    assert make_junit_test_id("", "lonely") == "lonely"
