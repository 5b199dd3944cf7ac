"""The breaking change a trial inserts: a single-expression mutant in a function of the
project's code (an operator swapped, a ``not`` dropped, a constant moved), drawn with a seed."""

from __future__ import annotations

import ast
import random
from collections.abc import Iterator
from dataclasses import dataclass

SWAPS: dict[type, type] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.FloorDiv,
    ast.FloorDiv: ast.Mult,
    ast.Mod: ast.FloorDiv,
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.And: ast.Or,
    ast.Or: ast.And,
}


@dataclass(frozen=True)
class Mutant:
    path: str
    line: int
    operator: str
    start: int  # character offsets of the replaced expression
    end: int
    replacement: str

    def apply(self, text: str) -> str:
        return text[: self.start] + self.replacement + text[self.end :]

    def describe(self) -> str:
        return f"{self.path}:{self.line} {self.operator}"


def _variants(node: ast.expr) -> Iterator[tuple[str, ast.expr]]:
    if isinstance(node, ast.BinOp) and type(node.op) in SWAPS:
        new = SWAPS[type(node.op)]()
        yield (
            f"{type(node.op).__name__}->{type(new).__name__}",
            ast.BinOp(node.left, new, node.right),
        )
    elif isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in SWAPS:
        new = SWAPS[type(node.ops[0])]()
        name = f"{type(node.ops[0]).__name__}->{type(new).__name__}"
        yield name, ast.Compare(node.left, [new], node.comparators)
    elif isinstance(node, ast.BoolOp):
        new = SWAPS[type(node.op)]()
        yield f"{type(node.op).__name__}->{type(new).__name__}", ast.BoolOp(new, node.values)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield "drop-not", node.operand
    elif isinstance(node, ast.Constant) and type(node.value) is int:
        yield f"{node.value}->{node.value + 1}", ast.Constant(node.value + 1)


def _expressions(tree: ast.Module) -> Iterator[ast.expr]:
    """Expressions in function bodies (no docstrings, defaults, decorators or f-strings)."""

    def walk(node: ast.AST) -> Iterator[ast.expr]:
        if isinstance(node, ast.JoinedStr | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            return
        if isinstance(node, ast.expr):
            yield node
        for child in ast.iter_child_nodes(node):
            yield from walk(child)

    for func in ast.walk(tree):
        if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            for statement in func.body:
                yield from walk(statement)


def mutants_of(path: str, text: str) -> list[Mutant]:
    """Every mutant of one module's text (none if it does not parse)."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    starts = [0]
    for line in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    found = []
    for node in _expressions(tree):
        if node.end_lineno is None or node.end_col_offset is None:
            continue
        start = starts[node.lineno - 1] + _chars(text, starts, node.lineno, node.col_offset)
        end = starts[node.end_lineno - 1] + _chars(
            text, starts, node.end_lineno, node.end_col_offset
        )
        for operator, mutated in _variants(node):
            found.append(
                Mutant(path, node.lineno, operator, start, end, f"({ast.unparse(mutated)})")
            )
    return found


def _chars(text: str, starts: list[int], line: int, byte_offset: int) -> int:
    """ast's column offsets count UTF-8 bytes; the text is indexed by characters."""
    row = text[starts[line - 1] : starts[line]]
    return len(row.encode("utf-8")[:byte_offset].decode("utf-8", errors="ignore"))


def draw_mutants(files: dict[str, str], rng: random.Random) -> Iterator[Mutant]:
    """Mutants of the given modules in a seeded random order (each one changes the AST)."""
    candidates = [m for path in sorted(files) for m in mutants_of(path, files[path])]
    rng.shuffle(candidates)
    for mutant in candidates:
        original = files[mutant.path]
        try:
            if ast.dump(ast.parse(mutant.apply(original))) != ast.dump(ast.parse(original)):
                yield mutant
        except SyntaxError:
            continue
