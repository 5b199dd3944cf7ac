"""Deadlines for multi-step jobs."""

from __future__ import annotations

from time import monotonic


class DeadlineExceeded(Exception):
    pass


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.expires = monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self.expires - monotonic())

    def check(self) -> None:
        if monotonic() >= self.expires:
            raise DeadlineExceeded(f"deadline passed {monotonic() - self.expires:.3f}s ago")
