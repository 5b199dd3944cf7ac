"""Reading providers' JSON records one at a time: a bad record becomes an IngestProblem with
its location, and the rest of the file is still read."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from greenline.errors import InputError
from greenline.model.delivery import IngestProblem

T = TypeVar("T")
#: the warehouse stores attempts as 32-bit integers: a larger one would abort the whole ingest
INT_MAX = 2**31 - 1


class RecordError(ValueError):
    """One record is malformed; the message says which field and why."""


def dig(payload: Any, *path: str) -> Any:
    """The value at ``path`` in nested JSON objects, or None where one is missing."""
    for key in path:
        payload = payload.get(key) if isinstance(payload, dict) else None
    return payload


def dig_text(payload: Any, *path: str) -> str:
    """The string at ``path`` (see ``dig``), or "" where there is none."""
    value = dig(payload, *path)
    return value if isinstance(value, str) else ""


def load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file", hint="check the path") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f":{exc.lineno}:{exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise InputError(
            f"{path}{where}: not JSON ({exc})",
            hint="pass the API's response bodies as saved, one per file",
        ) from None


def read_records(
    items: Iterable[Any],
    location: str,
    read: Callable[[dict[str, Any]], T | None],
    problems: list[IngestProblem],
) -> list[T]:
    """``read`` each record; a malformed one is reported at ``location[i]`` and skipped."""
    out: list[T] = []
    for i, item in enumerate(items):
        try:
            if not isinstance(item, dict):
                raise RecordError(f"a record is an object, not {type(item).__name__}")
            value = read(item)
        except RecordError as exc:
            problems.append(IngestProblem(f"{location}[{i}]", str(exc)))
        except (ValueError, OverflowError) as exc:
            # a value no reader check foresaw is still this record's fault, not the file's
            problems.append(IngestProblem(f"{location}[{i}]", f"unreadable value: {exc}"))
        else:
            if value is not None:
                out.append(value)
    return out


def field(record: dict[str, Any], *path: str) -> Any:
    """A required field (``path`` into nested objects); missing or null is a RecordError."""
    value: Any = record
    for key in path:
        if not isinstance(value, dict) or value.get(key) is None:
            raise RecordError(f"{'.'.join(path)} is missing")
        value = value[key]
    return value


def text(record: dict[str, Any], *path: str) -> str:
    value = field(record, *path)
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise RecordError(f"{'.'.join(path)} is {type(value).__name__}, not text")
    return str(value)


def optional_text(record: dict[str, Any], *path: str) -> str | None:
    """An optional text field: absent or null is None, any other type a RecordError."""
    if optional(record, *path) is None:
        return None
    return text(record, *path)


def integer(
    record: dict[str, Any], *path: str, default: int, low: int = 1, high: int = INT_MAX
) -> int:
    """An optional whole number in ``[low, high]`` (JSON number or digits); ``default`` when
    absent. NaN, fractions, booleans and numbers out of range are RecordErrors."""
    value = optional(record, *path)
    if value is None:
        return default
    name = ".".join(path)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise RecordError(f"{name} is not a whole number: {value!r}")
    if not low <= value <= high:
        raise RecordError(f"{name} {value} is out of range ({low} to {high})")
    return value


def optional(record: dict[str, Any], *path: str) -> Any:
    try:
        return field(record, *path)
    except RecordError:
        return None


def timestamp(record: dict[str, Any], *path: str, required: bool = True) -> datetime | None:
    """An ISO 8601 time with a time zone, in UTC; a time without a zone is ambiguous."""
    value = field(record, *path) if required else optional(record, *path)
    if value is None:
        return None
    name = ".".join(path)
    if not isinstance(value, str):
        raise RecordError(f"{name} is {type(value).__name__}, not a time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise RecordError(f"{name} is not an ISO 8601 time: {value!r}") from None
    if parsed.tzinfo is None:
        raise RecordError(f"{name} has no time zone: {value!r}")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00 lies before the first UTC year
        raise RecordError(f"{name} is out of range in UTC: {value!r}") from None
