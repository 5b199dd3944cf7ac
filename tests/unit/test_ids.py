from __future__ import annotations

from greenline.ids import file_of_test_id, is_pytest_node_id, make_junit_test_id


def test_junit_ids() -> None:
    assert make_junit_test_id("com.acme.CartTest", "adds") == "com.acme.CartTest::adds"
    assert make_junit_test_id("", "lonely") == "lonely"


def test_file_of_pytest_node_id() -> None:
    assert file_of_test_id("tests/test_a.py::TestX::test_y[1-2]") == "tests/test_a.py"
    assert file_of_test_id("com.acme.CartTest::adds") is None
    assert is_pytest_node_id("tests/test_a.py")
    assert not is_pytest_node_id("pkg.mod::name")
