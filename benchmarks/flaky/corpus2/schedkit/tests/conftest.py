import random
import time

import pytest


class Remote:
    """Stands in for the remote services a job talks to: answers take what they take on a
    shared CI machine (usually nothing, sometimes a good fraction of a second)."""

    def __init__(self) -> None:
        self._latency = random.SystemRandom()
        self.calls = 0

    def call(self, slow: float = 0.25) -> str:
        self.calls += 1
        time.sleep(self._latency.choice([0.0, 0.0, slow]))
        return "ok"


@pytest.fixture
def remote():
    return Remote()


@pytest.fixture
def registry():
    from schedkit import registry

    saved = dict(registry.JOBS)
    yield registry
    registry.JOBS.clear()
    registry.JOBS.update(saved)
