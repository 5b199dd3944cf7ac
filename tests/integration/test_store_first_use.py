"""Several sessions opening one empty store at once (parallel CI jobs on a new database): one
creates the schema, the others wait for it, and every one of them opens the store."""

from __future__ import annotations

import threading

from greenline.store import HEAD_REVISION, Store

SESSIONS = 6


def test_parallel_first_use_of_an_empty_store_succeeds_everywhere(database_url: str) -> None:
    start = threading.Barrier(SESSIONS)
    failures: list[BaseException] = []

    def open_store() -> None:
        start.wait()  # all at once: the race is between reading "no schema" and creating it
        try:
            Store(database_url).close()
        except Exception as exc:  # collected: a thread cannot fail the test itself
            failures.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(SESSIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    with Store(database_url, migrate=False) as store:
        assert store.revision() == (HEAD_REVISION, HEAD_REVISION)
