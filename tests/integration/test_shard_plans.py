"""Shard plans in a real store (SQLite and PostgreSQL): the first plan stored under a key wins,
a second one under the same key and shard count is refused without harm, and reads back."""

from __future__ import annotations

from datetime import UTC, datetime

from greenline.model.shards import decode_plan, encode_plan
from greenline.selection.split import split_tests
from greenline.store import Store, writes
from greenline.store.shards import insert_shard_plan, read_shard_plan

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def test_the_first_plan_under_a_key_wins(database_url: str) -> None:
    first = split_tests({"a": 3.0, "b": 2.0, "c": 1.0}, 2)
    second = split_tests({"a": 1.0, "b": 2.0, "c": 3.0}, 2)
    with Store(database_url) as store:
        with store.write() as conn:
            repo = writes.ensure_repository(conn, "r", None)
            assert insert_shard_plan(conn, repo, "ci:1", 2, "abc", None, NOW, encode_plan(first))
            assert not insert_shard_plan(
                conn, repo, "ci:1", 2, "abc", None, NOW, encode_plan(second)
            )
            assert insert_shard_plan(conn, repo, "ci:1", 3, "abc", None, NOW, encode_plan(second))
        with store.read() as conn:
            text = read_shard_plan(conn, "r", "ci:1", 2)
            assert read_shard_plan(conn, "r", "ci:2", 2) is None
    assert text is not None
    plan = decode_plan(text, "ci:1")
    assert plan.assignment == first.assignment and plan.loads == first.loads
    assert plan.key == "ci:1" and plan.durations == first.durations
