"""What changed between two configurations."""

from __future__ import annotations


def changed_keys(
    old: dict[str, str], new: dict[str, str]
) -> dict[str, tuple[str | None, str | None]]:
    keys = set(old) | set(new)
    return {key: (old.get(key), new.get(key)) for key in keys if old.get(key) != new.get(key)}


def format_changes(changes: dict[str, tuple[str | None, str | None]]) -> str:
    return "\n".join(f"{key}: {before} -> {after}" for key, (before, after) in changes.items())
