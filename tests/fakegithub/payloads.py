"""GitHub's payload shapes, from the example files in ``tests/data/github/``: a template's
string ``"$name"`` becomes the value ``name`` (of any type; ``OMIT`` drops the key), and
``{name}`` inside other strings is filled in as text (``{{`` for a brace)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent.parent / "data" / "github"
#: a value that removes its key from the rendered payload
OMIT = object()


@cache
def _template(name: str) -> Any:
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))


def render(template: str, /, **values: Any) -> Any:
    """The template (``api/check-run``, ``webhooks/push``) with ``values`` in it."""
    return _fill(_template(template), values)


def _fill(node: Any, values: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        out = {key: _fill(value, values) for key, value in node.items()}
        return {key: value for key, value in out.items() if value is not OMIT}
    if isinstance(node, list):
        return [_fill(item, values) for item in node]
    if isinstance(node, str):
        if node.startswith("$") and node[1:].isidentifier():
            return values[node[1:]]
        return node.format_map(values) if "{" in node else node
    return node
