"""Branch-granularity fingerprints: a function split into regions, and which lines each owns.

A function's root region is its own statements, with its signature and decorators; every body of a
compound statement inside it (``if``/``else``, ``for``/``while`` and their ``else``, ``try``'s
body, handlers, ``else`` and ``finally``, ``with``, each ``case`` of a ``match``) is a region of
its own, named by its path from the root: ``f#if1``, ``f#if1.else``, ``f#for2.else``,
``f#try1.except2``, ``f#match1.case3``, ``f#if1.else.if1`` (an ``elif`` is an ``if`` in the
``else``). The root keeps the function's name.

A region's checksum hashes its own statements with each nested body replaced by a placeholder, so
it keeps what decides which body runs (the ``if`` test, the ``for`` target and iterable, the
``except`` types, the ``case`` patterns) and whether a body exists at all. A change inside a body
changes only that body's region; a change to a test, or a branch added or removed, changes the
region around it, which every test that reached the statement entered. Nested functions, classes
and lambdas stay whole in the region that defines them. A function without compound statements has
one region whose checksum is the function's own (the same block at both granularities). Like the
function checksums, these come from the AST: comments and formatting never change them.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

#: Stands for a nested body in its parent's checksum; no parsed source has this name, so a
#: region's checksum never equals a whole function's unless the code is the same.
_HOLE = "<region>"
_KINDS: dict[type[ast.stmt], str] = {
    ast.If: "if",
    ast.For: "for",
    ast.AsyncFor: "for",
    ast.While: "while",
    ast.With: "with",
    ast.AsyncWith: "with",
    ast.Try: "try",
    ast.TryStar: "try",
    ast.Match: "match",
}
#: The statement lists a compound statement may have besides handlers and cases.
_BODIES = ("body", "orelse", "finalbody")

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef
_Node = TypeVar("_Node", bound=ast.AST)


@dataclass
class _Region:
    """One region while a function is read: its path, parent, statements and owned lines."""

    path: str
    parent: int
    statements: list[ast.stmt]
    lines: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class FunctionRegions:
    """A function's regions (the root first) with their checksums, and, per line that is not
    the root's alone, the indices of the regions running it entered (ancestors included)."""

    names: tuple[str, ...]
    checksums: tuple[str, ...]
    lines: dict[int, tuple[int, ...]]


def _is_unseen(statements: list[ast.stmt]) -> bool:
    """True for a body that runs no code (only ``global`` or ``nonlocal``): no line event would
    say a test entered it, so it stays in its parent's checksum instead of being a region."""
    return all(isinstance(s, ast.Global | ast.Nonlocal) for s in statements)


def _hole(statements: list[ast.stmt]) -> list[ast.stmt]:
    if _is_unseen(statements):
        return statements  # empty, or code-free: kept whole
    return [ast.Expr(ast.Name(_HOLE, ast.Load()))]


def _rebuilt(node: _Node, **fields: object) -> _Node:
    """A copy of ``node`` (sharing its children) with some fields replaced."""
    values = {name: getattr(node, name, None) for name in node._fields}
    return type(node)(**{**values, **fields})


def _header(node: ast.stmt) -> ast.stmt:
    """The statement as its parent region sees it: every nested body a placeholder."""
    holes: dict[str, object] = {
        name: _hole(getattr(node, name)) for name in _BODIES if hasattr(node, name)
    }
    if isinstance(node, ast.Try | ast.TryStar):
        holes["handlers"] = [_rebuilt(h, body=_hole(h.body)) for h in node.handlers]
    if isinstance(node, ast.Match):
        holes["cases"] = [_rebuilt(c, body=_hole(c.body)) for c in node.cases]
    return _rebuilt(node, **holes)


def _first_line(node: ast.stmt) -> int:
    decorators: list[ast.expr] = getattr(node, "decorator_list", [])
    return min([node.lineno, *(d.lineno for d in decorators)])


def _nested_bodies(node: ast.stmt, path: str) -> Iterator[tuple[str, int | None, list[ast.stmt]]]:
    """(path, first line of its header, statements) of each non-empty body of a compound
    statement; an ``else:`` or ``finally:`` has no header of its own (nothing runs there)."""
    if not isinstance(node, ast.Match):
        yield path, node.lineno, getattr(node, "body", [])
    if isinstance(node, ast.Try | ast.TryStar):
        for i, handler in enumerate(node.handlers, 1):
            yield f"{path}.except{i}", handler.lineno, handler.body
    if isinstance(node, ast.Match):
        for i, case in enumerate(node.cases, 1):
            yield f"{path}.case{i}", case.pattern.lineno, case.body
    for name, suffix in (("orelse", ".else"), ("finalbody", ".finally")):
        body: list[ast.stmt] = getattr(node, name, [])
        if body:
            yield path + suffix, None, body


class _Splitter:
    """Walks one function, region by region, recording what each owns."""

    def __init__(self, function: FunctionNode) -> None:
        self.regions = [_Region("", -1, function.body)]
        self._split(0)

    def _split(self, index: int) -> None:
        region = self.regions[index]
        counts: dict[str, int] = {}
        for statement in region.statements:
            kind = _KINDS.get(type(statement))
            if kind is None:  # a simple statement, or a nested def or class: owned whole
                end = statement.end_lineno or statement.lineno
                region.lines.update(range(_first_line(statement), end + 1))
                continue
            counts[kind] = counts.get(kind, 0) + 1
            prefix = f"{region.path}.{kind}{counts[kind]}".lstrip(".")
            for path, header, body in _nested_bodies(statement, prefix):
                if header is not None:  # a test, an iterable, an except clause: the parent's
                    region.lines.update(range(header, max(header, body[0].lineno - 1) + 1))
                if _is_unseen(body):
                    continue
                self.regions.append(_Region(path, index, body))
                self._split(len(self.regions) - 1)
            region.lines.add(statement.lineno)

    def ancestry(self, index: int) -> tuple[int, ...]:
        chain = []
        while index >= 0:
            chain.append(index)
            index = self.regions[index].parent
        return tuple(sorted(chain))


def read_regions(
    qualname: str, function: FunctionNode, checksum: Callable[[ast.AST], str]
) -> FunctionRegions:
    """The regions of ``function`` (named after ``qualname``); ``checksum`` hashes a node."""
    splitter = _Splitter(function)
    names, sums = [], []
    for region in splitter.regions:
        headers = [_header(s) if type(s) in _KINDS else s for s in region.statements]
        if region.parent < 0:
            names.append(qualname)
            sums.append(checksum(_rebuilt(function, body=headers)))
        else:
            names.append(f"{qualname}#{region.path}")
            sums.append(checksum(ast.Module(body=headers, type_ignores=[])))
    owners: dict[int, set[int]] = {}
    for index, region in enumerate(splitter.regions):
        for line in region.lines:
            owners.setdefault(line, set()).update(splitter.ancestry(index))
    lines = {line: tuple(sorted(o)) for line, o in owners.items() if o != {0}}
    return FunctionRegions(tuple(names), tuple(sums), lines)
