"""Every MCP answer within a size: a page of the tool's main list, then the largest lists and
texts left cut until the compact JSON fits, each cut named in ``omitted``.

An agent pays for every character it reads: a store of 64,000 tests must answer a question in
as few characters as one of 40. The page of the main list says ``total``, ``returned`` and
``next_offset`` (ask again with ``offset`` for more); anything else cut is listed under
``omitted`` by its path (``over_budget``, ``tests[3].evidence``, ``patch.diff``) with how many
items, or characters of a text, were left out. The text the client reads is the same JSON,
compact.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from mcp.types import CallToolResult, TextContent

from greenline import views

#: the most bytes of JSON an answer holds
BUDGET = 16_000
#: a text is cut to no fewer characters than this (a message this short is worth keeping)
SHORTEST_TEXT = 200
#: what an answer's return annotation is: a bounded CallToolResult whose structured content
#: is the document (its schema the output schema)
Answer = Annotated[CallToolResult, dict[str, Any]]
_Path = tuple[str | int, ...]


def answer(
    doc: dict[str, Any],
    *,
    main: str | None = None,
    offset: int = 0,
    limit: int | None = None,
    total: int | None = None,
    caps: dict[str, int] | None = None,
    budget: int = BUDGET,
) -> CallToolResult:
    """``doc`` as a tool's answer: its list ``main`` cut to the page at ``offset`` (``limit``
    items at most; ``total`` when the list is only the first items of one that long), its
    other lists named in ``caps`` to their first so many items, then fitted into ``budget``
    bytes."""
    if main is not None:
        size = None if limit is None else max(limit, 1)
        views.cut_list(doc, main, size, max(offset, 0), total)
    omitted: dict[str, int] = {}
    for key, most in (caps or {}).items():
        if len(doc[key]) > most:
            omitted[key] = len(doc[key]) - most
            doc[key] = doc[key][:most]
    if omitted:
        doc.update(omitted=omitted, truncated=True)
    fitted = fit(doc, budget, main=main)
    text = views.dump_json(fitted)
    # the structured content is the text read back: non-finite numbers are null in both
    return CallToolResult(
        content=[TextContent(type="text", text=text)], structured_content=json.loads(text)
    )


def size_of(value: Any) -> int:
    return len(views.dump_json(value).encode())


def fit(doc: dict[str, Any], budget: int = BUDGET, *, main: str | None = None) -> dict[str, Any]:
    """``doc`` cut until its compact JSON is at most ``budget`` bytes: each time the heaviest
    list (of two items or more) or long text loses what it must, a list at most half."""
    omitted: dict[str, int] = doc.get("omitted", {})
    while (size := size_of(doc)) > budget:
        found = _heaviest(doc, ())
        if found is None:
            break  # nothing left that can be cut: no list of two, no long text
        path, value = found
        excess = size - budget + 120  # room for the entry in omitted, and the flags
        left_out = _cut(doc, path, value, excess)
        key = _dotted(path)
        if main is not None and path == (main,):
            _repage(doc, main)
        else:
            omitted[key] = omitted.get(key, 0) + left_out
            doc["omitted"] = omitted
        doc["truncated"] = True
    return doc


def _repage(doc: dict[str, Any], main: str) -> None:
    """The page fields after the main list lost items to the budget."""
    returned = len(doc[main])
    doc["returned"] = returned
    end = doc.get("offset", 0) + returned
    if "next_offset" in doc:
        doc["next_offset"] = end if end < doc["total"] else None


def _heaviest(value: Any, path: _Path) -> tuple[_Path, Any] | None:
    """The path of the heaviest thing that can be cut, and it."""
    best: tuple[int, _Path, Any] | None = None
    for child_path, child in _cuttable(value, path):
        weight = size_of(child)
        if best is None or weight > best[0]:
            best = (weight, child_path, child)
    return None if best is None else (best[1], best[2])


def _cuttable(value: Any, path: _Path) -> Any:
    """Every list of two or more items and every text longer than SHORTEST_TEXT in ``value``
    (the answer's own bookkeeping aside)."""
    if isinstance(value, dict):
        for key, child in value.items():
            if path or key != "omitted":
                yield from _cuttable(child, (*path, key))
    elif isinstance(value, list):
        if len(value) >= 2:
            yield path, value
        for i, child in enumerate(value):
            yield from _cuttable(child, (*path, i))
    elif isinstance(value, str) and len(value) > SHORTEST_TEXT + 1:
        yield path, value


def _cut(doc: dict[str, Any], path: _Path, value: Any, excess: int) -> int:
    """Shorten what ``path`` names by at least ``excess`` bytes where it can; how many items
    (or characters) it lost."""
    parent: Any = doc
    for step in path[:-1]:
        parent = parent[step]
    if isinstance(value, str):
        keep = max(SHORTEST_TEXT, len(value) - excess)
        parent[path[-1]] = value[:keep] + "…"
        return len(value) - keep
    # at most half of a list at a time: two long lists end up cut alike, not one emptied
    kept, dropped, most = len(value), 0, min(excess, size_of(value) // 2)
    while kept > 1 and (dropped < most or kept == len(value)):
        kept -= 1
        dropped += size_of(value[kept]) + 1
    parent[path[-1]] = value[:kept]
    return len(value) - kept


def _dotted(path: _Path) -> str:
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else step)
    return out
