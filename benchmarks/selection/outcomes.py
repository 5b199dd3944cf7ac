"""A pytest plugin for the selection benchmark: which tests ran, in which order, how they ended.

Loaded with ``-p outcomes`` (this folder on PYTHONPATH); it writes JSON lines to the file named by
``BENCH_OUTCOMES``:

- ``{"collected": [nodeid, ...]}`` once, after collection (and any plugin's deselection/reorder):
  with ``--collect-only`` this is what a selecting plugin such as pytest-testmon would run;
- ``{"test": nodeid, "failed": bool, "seconds": float}`` per test as it finishes, flushed at
  once so that a run killed by a timeout still tells how far it got.

Durations come from a ``perf_counter`` bound when this plugin loads, before any test module can
patch the clock (freezegun does), and cover set-up, call and tear-down.
"""

from __future__ import annotations

import json
import os
from collections.abc import Generator
from time import perf_counter as _clock
from typing import IO, Any

import pytest

_out: IO[str] | None = None
_failed: set[str] = set()


def _write(record: dict[str, Any]) -> None:
    global _out
    if _out is None:
        _out = open(os.environ["BENCH_OUTCOMES"], "a", encoding="utf-8")  # noqa: SIM115
    _out.write(json.dumps(record) + "\n")
    _out.flush()


def pytest_collection_finish(session: pytest.Session) -> None:
    _write({"collected": [item.nodeid for item in session.items]})


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.failed:  # in any phase: set-up, call or tear-down
        _failed.add(report.nodeid)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    start = _clock()
    result = yield
    seconds = _clock() - start
    _write({"test": item.nodeid, "failed": item.nodeid in _failed, "seconds": seconds})
    return result
