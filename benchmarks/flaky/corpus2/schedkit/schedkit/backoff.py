"""Retry delays: exponential, with jitter so that clients do not retry in step."""

from __future__ import annotations

import random


def delays(attempts: int, base: float = 0.1, jitter: float = 0.5) -> list[float]:
    return [base * 2**i * random.uniform(1 - jitter, 1 + jitter) for i in range(attempts)]
