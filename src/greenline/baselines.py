"""Baseline files: one run's results and per-test coverage as gzipped JSON, to carry a baseline
between machines (a CI cache artifact) without a shared store.

The format is versioned (``greenline.baseline/1``) and checked field by field on the way in; it
never holds code (no pickle), so a file from anywhere is safe to read.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from greenline.errors import InputError
from greenline.model import (
    Block,
    CommitInfo,
    Environment,
    Outcome,
    Phase,
    Run,
    TestResult,
)

SCHEMA = "greenline.baseline/1"


@dataclass(frozen=True)
class BaselineFile:
    """What a baseline file holds."""

    commit: CommitInfo
    environment: Environment | None
    started_at: datetime
    finished_at: datetime | None
    args: str | None
    results: list[TestResult]
    coverage: dict[str, list[Block]]
    files: dict[str, list[str]]


def write_baseline(
    path: Path,
    run: Run,
    results: list[TestResult],
    coverage: dict[str, frozenset[Block]],
    files: dict[str, frozenset[str]],
) -> None:
    blocks = sorted({b for bs in coverage.values() for b in bs}, key=lambda b: (b.path, b.name))
    index = {b: i for i, b in enumerate(blocks)}
    env = run.environment
    doc = {
        "schema": SCHEMA,
        "repository": run.repository,
        "commit": {
            "sha": run.commit.sha,
            "branch": run.commit.branch,
            "dirty": run.commit.dirty,
            "subject": run.commit.subject,
        },
        "environment": (
            {"python": env.python, "platform": env.platform, "packages_hash": env.packages_hash}
            if env
            else None
        ),
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "args": run.args,
        "results": [
            [
                r.test_id,
                r.outcome.value,
                r.duration,
                r.phase.value if r.phase else None,
                r.message,
                r.attempt,
                r.path,
            ]
            for r in results
        ],
        "blocks": [[b.path, b.name, b.checksum] for b in blocks],
        "coverage": {t: sorted(index[b] for b in bs) for t, bs in sorted(coverage.items())},
        "files": {t: sorted(paths) for t, paths in sorted(files.items())},
    }
    tmp = path.with_name(path.name + ".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8") as out:
        json.dump(doc, out, separators=(",", ":"))
    tmp.replace(path)


def read_baseline(path: Path) -> BaselineFile:
    """Parse and check a baseline file; InputError (naming the file) for anything off."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as stream:
            doc = json.load(stream)
    except FileNotFoundError:
        raise InputError(
            f"no such file: {path}", hint="pass a file made by greenline baseline export"
        ) from None
    except (OSError, EOFError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(
            f"{path}: not a greenline baseline file ({exc})",
            hint="make one with: greenline baseline export FILE",
        ) from None
    try:
        return _parse(doc)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise InputError(
            f"{path}: malformed baseline file: {type(exc).__name__}: {exc}",
            hint="make a new one with: greenline baseline export FILE",
        ) from None


def _parse(doc: Any) -> BaselineFile:
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        found = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        raise ValueError(f"schema is {found!r}, expected {SCHEMA!r}")
    commit = doc["commit"]
    env = doc["environment"]
    blocks = [Block(str(p), str(n), str(c)) for p, n, c in doc["blocks"]]
    results = [
        TestResult(
            str(t),
            Outcome(o),
            float(d),
            Phase(ph) if ph else None,
            None if m is None else str(m),
            int(a),
            None if p is None else str(p),
        )
        for t, o, d, ph, m, a, p in doc["results"]
    ]
    coverage = {str(t): [blocks[int(i)] for i in idx] for t, idx in doc["coverage"].items()}
    files = {str(t): [str(p) for p in paths] for t, paths in doc.get("files", {}).items()}
    return BaselineFile(
        commit=CommitInfo(
            sha=commit["sha"],
            branch=commit["branch"],
            dirty=bool(commit["dirty"]),
            subject=commit.get("subject"),
        ),
        environment=Environment(env["python"], env["platform"], env["packages_hash"])
        if env
        else None,
        started_at=datetime.fromisoformat(doc["started_at"]),
        finished_at=datetime.fromisoformat(doc["finished_at"]) if doc["finished_at"] else None,
        args=doc.get("args"),
        results=results,
        coverage=coverage,
        files=files,
    )
