"""The queue's state as JSON and back, so it can live in the store between steps (and survive
the process that ran them)."""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

from greenline.model.queue import (
    Purpose,
    QueueConfig,
    QueueEntry,
    QueueRun,
    QueueState,
    Stage,
    Strategy,
)

VERSION = 1


def dump_state(state: QueueState) -> dict[str, Any]:
    doc = asdict(state)
    doc["version"] = VERSION
    doc["flaky_tests"] = sorted(state.flaky_tests)
    doc["entries"] = [dump_entry(e) for e in state.entries]
    return doc


def load_state(doc: dict[str, Any]) -> QueueState:
    if doc.get("version") != VERSION:
        raise ValueError(f"merge-queue state version {doc.get('version')!r}, expected {VERSION}")
    config = dict(doc["config"])
    config["strategy"] = Strategy(config["strategy"])
    return QueueState(
        config=QueueConfig(**config),
        base=doc["base"],
        landed=tuple(doc["landed"]),
        entries=tuple(_entry(e) for e in doc["entries"]),
        runs=tuple(_run(r) for r in doc["runs"]),
        window=doc["window"],
        paused=doc["paused"],
        next_run=doc["next_run"],
        flaky_tests=frozenset(doc["flaky_tests"]),
        failing=doc["failing"],
        failing_tests=tuple(doc["failing_tests"]),
        failing_run=doc["failing_run"],
        probe=doc["probe"],
    )


def dump_entry(entry: QueueEntry) -> dict[str, Any]:
    doc = asdict(entry)
    doc["impacted"] = sorted(entry.impacted)
    return doc


def load_entry(doc: dict[str, Any]) -> QueueEntry:
    """An entry as ``dump_entry`` wrote it, back in the pre-check stage (it is queued anew)."""
    return replace(_entry(doc), stage=Stage.PRECHECK, entered_gate_at=None)


def _entry(doc: dict[str, Any]) -> QueueEntry:
    return QueueEntry(
        **{**doc, "impacted": frozenset(doc["impacted"]), "stage": Stage(doc["stage"])}
    )


def _run(doc: dict[str, Any]) -> QueueRun:
    return QueueRun(
        **{
            **doc,
            "purpose": Purpose(doc["purpose"]),
            "changes": tuple(doc["changes"]),
            "failed_tests": tuple(doc["failed_tests"]),
        }
    )
