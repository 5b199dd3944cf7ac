"""Named jobs, registered with a decorator."""

from __future__ import annotations

from collections.abc import Callable

JOBS: dict[str, Callable[[], object]] = {}


def job(name: str) -> Callable[[Callable[[], object]], Callable[[], object]]:
    def register(func: Callable[[], object]) -> Callable[[], object]:
        if name in JOBS:
            raise ValueError(f"job {name} exists")
        JOBS[name] = func
        return func

    return register


def run(name: str) -> object:
    return JOBS[name]()
