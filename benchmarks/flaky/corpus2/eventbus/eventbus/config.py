"""Settings from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    broker: str = "memory://"
    max_retries: int = 3

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            broker=os.environ.get("EVENTBUS_BROKER", cls.broker),
            max_retries=int(os.environ.get("EVENTBUS_MAX_RETRIES", cls.max_retries)),
        )
