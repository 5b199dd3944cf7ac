"""Baseline files: one run's results and per-test coverage as gzipped JSON, to carry a baseline
between machines (a CI cache artifact) without a shared store.

The format is versioned (``greenline.baseline/1``) and checked field by field on the way in; it
never holds code (no pickle), so a file from anywhere is safe to read.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from greenline.config import mask_args
from greenline.errors import InputError
from greenline.ids import clip_message, is_object_id, test_id_problem
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
#: The most a baseline may expand to: far more than a large suite's baseline needs, and little
#: enough that parsing it cannot exhaust a CI machine's memory.
MAX_BASELINE_BYTES = 128 << 20


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
    #: what ran while each module was imported before the first test (absent in older files)
    import_time: dict[str, list[Block]] = field(default_factory=dict)


def write_baseline(
    path: Path,
    run: Run,
    results: list[TestResult],
    coverage: dict[str, frozenset[Block]],
    files: dict[str, frozenset[str]],
    import_time: Mapping[str, frozenset[Block]] | None = None,
) -> None:
    import_time = import_time or {}
    every = {b for bs in coverage.values() for b in bs} | {
        b for bs in import_time.values() for b in bs
    }
    blocks = sorted(every, key=lambda b: (b.path, b.name, b.checksum))
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
        "args": mask_args(run.args),
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
        "import_time": {m: sorted(index[b] for b in bs) for m, bs in sorted(import_time.items())},
    }
    tmp = path.with_name(path.name + ".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)  # a CI cache folder the job has not made
    with gzip.open(tmp, "wt", encoding="utf-8") as out:
        json.dump(doc, out, separators=(",", ":"))
    tmp.replace(path)


def read_baseline(path: Path, label: str | None = None) -> BaselineFile:
    """Parse and check a baseline file; InputError (naming the file, or ``label`` for one
    that came another way) for anything off."""
    name = label or str(path)
    try:
        doc = json.loads(_read_capped(path, name))
    except FileNotFoundError:
        raise InputError(
            f"no such file: {name}", hint="pass a file made by greenline baseline export"
        ) from None
    except (OSError, EOFError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(
            f"{name}: not a greenline baseline file ({exc})",
            hint="make one with: greenline baseline export FILE",
        ) from None
    try:
        return _parse(doc)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise InputError(
            f"{name}: malformed baseline file: {type(exc).__name__}: {exc}",
            hint="make a new one with: greenline baseline export FILE",
        ) from None


def _read_capped(path: Path, name: str) -> bytes:
    """The file's JSON, decompressed in a stream that stops one byte past the cap: a small
    gzip of zeros can expand to gigabytes, and must be refused before it is held."""
    with gzip.open(path, "rb") as stream:
        data = stream.read(MAX_BASELINE_BYTES + 1)
    if len(data) > MAX_BASELINE_BYTES:
        raise InputError(
            f"{name}: expands to more than {MAX_BASELINE_BYTES} bytes, the cap for a baseline "
            "file; it was not read further",
            hint="export the baseline again (greenline baseline export FILE)",
        )
    return data


def _parse(doc: Any) -> BaselineFile:
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        found = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        raise ValueError(f"schema is {found!r}, expected {SCHEMA!r}")
    blocks = [_block(b, f"blocks[{i}]") for i, b in enumerate(_items(doc["blocks"], "blocks"))]
    results = [_result(r, f"results[{i}]") for i, r in enumerate(_items(doc["results"], "results"))]
    coverage = {
        _test_id(t, "coverage"): [_index(i, blocks, f"coverage[{t[:60]!r}]") for i in idx]
        for t, idx in _mapping(doc["coverage"], "coverage").items()
    }
    files = {
        _test_id(t, "files"): [_text(p, "files") for p in _items(paths, "files")]
        for t, paths in _mapping(doc.get("files", {}), "files").items()
    }
    import_time = {
        _text(m, "import_time"): [_index(i, blocks, f"import_time[{m[:60]!r}]") for i in idx]
        for m, idx in _mapping(doc.get("import_time", {}), "import_time").items()
    }
    env = doc["environment"]
    return BaselineFile(
        commit=_commit(_mapping(doc["commit"], "commit")),
        environment=Environment(
            _text(env["python"], "python"),
            _text(env["platform"], "platform"),
            _text(env["packages_hash"], "packages_hash"),
        )
        if env
        else None,
        started_at=datetime.fromisoformat(_text(doc["started_at"], "started_at")),
        finished_at=datetime.fromisoformat(_text(doc["finished_at"], "finished_at"))
        if doc["finished_at"]
        else None,
        args=mask_args(_optional_text(doc.get("args"), "args")),
        results=results,
        coverage=coverage,
        files=files,
        import_time=import_time,
    )


# -- field checks: every value in the file is data from anywhere -------------------------------


def _items(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"{where}: expected a list, got {type(value).__name__}")
    return value


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{where}: expected a string, got {type(value).__name__}")
    return value


def _optional_text(value: Any, where: str) -> str | None:
    return None if value is None else _text(value, where)


def _test_id(value: Any, where: str) -> str:
    problem = test_id_problem(_text(value, where))
    if problem:
        raise ValueError(f"{where}: {problem}")
    return str(value)


def _whole(value: Any, where: str, least: int) -> int:
    # bool is an int to Python, and 1.5 is no index: both are refused, not coerced
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ValueError(f"{where}: {value!r} is not a whole number of at least {least}")
    return value


def _seconds(value: Any, where: str) -> float:
    number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if number is None or not math.isfinite(number) or number < 0:
        raise ValueError(f"{where}: duration {value!r} is not a finite number of seconds >= 0")
    return float(number)


def _index(value: Any, blocks: list[Block], where: str) -> Block:
    index = _whole(value, where, 0)
    if index >= len(blocks):
        raise ValueError(f"{where}: block index {index} is past the {len(blocks)} blocks")
    return blocks[index]


def _block(value: Any, where: str) -> Block:
    fields = _items(value, where)
    if len(fields) != 3:
        raise ValueError(f"{where}: expected [path, name, checksum]")
    return Block(*(_text(f, where) for f in fields))


def _result(value: Any, where: str) -> TestResult:
    fields = _items(value, where)
    if len(fields) != 7:
        raise ValueError(f"{where}: expected 7 fields, got {len(fields)}")
    test_id, outcome, duration, phase, message, attempt, path = fields
    return TestResult(
        _test_id(test_id, where),
        Outcome(outcome),
        _seconds(duration, where),
        Phase(phase) if phase else None,
        clip_message(_optional_text(message, where)),
        _whole(attempt, where, 1),
        _optional_text(path, where),
    )


def _commit(commit: dict[str, Any]) -> CommitInfo:
    sha = commit["sha"]
    if sha is not None and not is_object_id(sha):
        # a ref such as HEAD would resolve to whatever is checked out where the file is read:
        # selection would see no change and run nothing
        raise ValueError(
            f"commit sha {str(sha)[:80]!r} is not a full commit id (40 or 64 hex digits)"
        )
    if not isinstance(commit["dirty"], bool):
        raise ValueError("commit.dirty: expected true or false")
    return CommitInfo(
        sha=sha,
        branch=_optional_text(commit["branch"], "commit.branch"),
        dirty=commit["dirty"],
        subject=_optional_text(commit.get("subject"), "commit.subject"),
    )
