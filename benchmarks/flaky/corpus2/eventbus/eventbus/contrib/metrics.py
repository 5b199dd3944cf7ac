"""Counts what is published, per topic."""

from __future__ import annotations

from collections import Counter

from eventbus.plugins import Plugin


class MetricsPlugin(Plugin):
    name = "metrics"

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def record(self, topic: str) -> None:
        self.counts[topic] += 1


def create() -> MetricsPlugin:
    return MetricsPlugin()
