"""Planning a batch of jobs: the order to run them in by their cost estimates."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol


class Job(Protocol):
    name: str

    def estimate(self) -> float: ...


def plan(jobs: Iterable[Job]) -> list[str]:
    """Cheapest first."""
    return [j.name for j in sorted(jobs, key=lambda j: j.estimate())]
