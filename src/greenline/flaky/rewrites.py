"""Fixes that rewrite expressions inside a test (the api verifies each before offering it), and
the guard every patch passes: it keeps every assertion.

- unordered collections: a set that the test iterates where order matters (``list(s)``,
  ``next(iter(s))``, ``",".join(s)``, a comprehension, a ``for`` loop) is iterated as
  ``sorted(s)``: the same elements, in an order that no hash seed changes;
- float noise: an exact ``==`` whose failures differed only in the last digits compares with
  ``pytest.approx(expected, rel=1e-12)``, a tolerance thousands of times below any decimal a
  test would write, and only when every failure seen fits inside it;
- the clock: the test runs under ``time_machine.travel(INSTANT, tick=False)``, an instant at which
  it passed with the clock frozen.

Pure: source text in, patched text out.
"""

from __future__ import annotations

import ast
import math
import re
from collections import Counter
from collections.abc import Iterable

from greenline.flaky.fixes import FORBIDDEN_CALLS, FixError, Patch, ensure_import, find_function

#: relative tolerance of a float-noise fix (1e-12 is ~4,500 ulps: noise, never a real change)
FLOAT_TOLERANCE = 1e-12
SET_BUILDERS = frozenset({"set", "frozenset"})
SET_METHODS = frozenset({"union", "intersection", "difference", "symmetric_difference", "copy"})
ORDERED_CONSUMERS = frozenset({"list", "tuple", "iter", "enumerate", "zip", "sum", "reversed"})
SET_OPERATORS = (ast.BitOr, ast.BitAnd, ast.Sub, ast.BitXor)


def _offsets(source: str) -> list[int]:
    starts, at = [], 0
    for line in source.splitlines(keepends=True):
        starts.append(at)
        at += len(line)
    starts.append(at)
    return starts


def _position(source: str, starts: list[int], line: int, col_bytes: int) -> int:
    """A character offset from an AST position (whose columns count UTF-8 bytes)."""
    text = source[starts[line - 1] : starts[line]]
    return starts[line - 1] + len(text.encode("utf-8")[:col_bytes].decode("utf-8"))


def _wrap(source: str, nodes: Iterable[ast.expr], before: str, after: str) -> str:
    """``source`` with each node's text wrapped as ``before + text + after``."""
    starts = _offsets(source)
    spans = []
    for node in nodes:
        assert node.end_lineno is not None and node.end_col_offset is not None
        start = _position(source, starts, node.lineno, node.col_offset)
        end = _position(source, starts, node.end_lineno, node.end_col_offset)
        spans.append((start, end))
    out = source
    for start, end in sorted(set(spans), reverse=True):  # from the end: offsets stay valid
        out = out[:start] + before + out[start:end] + after + out[end:]
    ast.parse(out)  # still Python
    return out


# unordered collections ------------------------------------------------------------------------


def _set_names(func: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(func):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and _is_set(node.value, names):
                names.add(target.id)
    return names


def _is_set(node: ast.expr, names: set[str]) -> bool:
    if isinstance(node, ast.Set | ast.SetComp):
        return True
    if isinstance(node, ast.Name):
        return node.id in names
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name) and func.id in SET_BUILDERS:
            return True
        if isinstance(func, ast.Attribute) and func.attr in SET_METHODS:
            return _is_set(func.value, names)
    if isinstance(node, ast.BinOp) and isinstance(node.op, SET_OPERATORS):
        return _is_set(node.left, names) and _is_set(node.right, names)
    return False


def unordered_iterations(func: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.expr]:
    """The sets that ``func`` iterates where the order shows."""
    names = _set_names(func)
    found: list[ast.expr] = []
    for node in ast.walk(func):
        if isinstance(node, ast.Call):
            callee = node.func
            ordered = (isinstance(callee, ast.Name) and callee.id in ORDERED_CONSUMERS) or (
                isinstance(callee, ast.Attribute) and callee.attr == "join"
            )
            if ordered:
                found += [a for a in node.args if _is_set(a, names)]
        elif isinstance(node, ast.ListComp | ast.GeneratorExp | ast.DictComp):
            found += [g.iter for g in node.generators if _is_set(g.iter, names)]
        elif isinstance(node, ast.For | ast.AsyncFor) and _is_set(node.iter, names):
            found.append(node.iter)
        elif isinstance(node, ast.List | ast.Tuple):
            found += [
                e.value for e in node.elts if isinstance(e, ast.Starred) and _is_set(e.value, names)
            ]
    return found


def sort_unordered(path: str, source: str, test_name: str) -> Patch:
    func = find_function(ast.parse(source), test_name)
    sets = unordered_iterations(func)
    if not sets:
        raise FixError("the test iterates no set where order shows")
    after = _wrap(source, sets, "sorted(", ")")
    return Patch(path, source, after, f"iterate {len(sets)} set(s) in sorted order")


def sort_unordered_in_code(path: str, source: str) -> list[Patch]:
    """For a module of the code under test: one patch per function whose output shows a set's
    order (it joins, lists or enumerates a set), iterating those sets in sorted order. A set
    promises no order, so sorting changes no contract; verification proves it holds."""
    patches = []
    for func in ast.walk(ast.parse(source)):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        sets = unordered_iterations(func)
        if sets:
            after = _wrap(source, sets, "sorted(", ")")
            where = f"{func.name} in {path}"
            patches.append(Patch(path, source, after, f"iterate the set(s) of {where} in order"))
    return patches


# float noise ----------------------------------------------------------------------------------

_COMPARISON = re.compile(r"^E\s+assert (.+?) == (.+?)\s*$", re.MULTILINE)
_ARITHMETIC = (ast.Add, ast.Sub, ast.Mult, ast.Div)


def _number(text: str) -> float | None:
    """The value of a number, or of arithmetic on numbers as pytest prints intermediate
    results (``(1.2 / 7)``); None for anything else."""

    def value(node: ast.expr) -> float:
        number = node.value if isinstance(node, ast.Constant) else None
        if isinstance(number, int | float) and not isinstance(number, bool):
            return float(number)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            inner = value(node.operand)
            return -inner if isinstance(node.op, ast.USub) else inner
        if isinstance(node, ast.BinOp) and isinstance(node.op, _ARITHMETIC):
            left, right = value(node.left), value(node.right)
            if isinstance(node.op, ast.Add):
                return left + right
            if isinstance(node.op, ast.Sub):
                return left - right
            if isinstance(node.op, ast.Mult):
                return left * right
            return left / right
        raise ValueError(text)

    try:
        return value(ast.parse(text.strip(), mode="eval").body)
    except (ValueError, SyntaxError, ZeroDivisionError, OverflowError):
        return None


_FAILING_LINE = re.compile(r"^>\s+(assert .+)$", re.MULTILINE)


def float_noise(messages: Iterable[str]) -> list[tuple[float, float]]:
    """The (actual, expected) float pairs the failures compared; raises when any failure is
    not float noise (a difference larger than the tolerance, or no float comparison at all)."""
    pairs = []
    for message in messages:
        found = _COMPARISON.findall(message)
        if not found:
            raise FixError("a failure does not show two floats compared with ==")
        for left, right in found:
            a, b = _number(left), _number(right)
            if a is None or b is None:
                raise FixError(f"{left} == {right} is not a comparison of two numbers")
            if not math.isclose(a, b, rel_tol=FLOAT_TOLERANCE, abs_tol=FLOAT_TOLERANCE):
                raise FixError(f"{left} and {right} differ by more than float noise")
            pairs.append((a, b))
    if not pairs:
        raise FixError("no failure message to judge the float noise by")
    return pairs


def approx_floats(path: str, source: str, test_name: str, messages: list[str]) -> Patch:
    float_noise(messages)
    func = find_function(ast.parse(source), test_name)
    failing = {m.strip() for message in messages for m in _FAILING_LINE.findall(message)}
    targets: list[ast.expr] = []
    for node in ast.walk(func):
        if not (isinstance(node, ast.Assert) and isinstance(node.test, ast.Compare)):
            continue
        compare = node.test
        if len(compare.ops) != 1 or not isinstance(compare.ops[0], ast.Eq):
            continue
        text = ast.get_source_segment(source, node) or ""
        if failing and text.splitlines()[0].strip() not in failing:
            continue
        left, right = compare.left, compare.comparators[0]
        targets.append(left if _is_float_literal(left) and not _is_float_literal(right) else right)
    if not targets:
        raise FixError("no failing == comparison found in the test")
    after = _wrap(source, targets, "pytest.approx(", f", rel={FLOAT_TOLERANCE})")
    after = ensure_import(after, "pytest")
    return Patch(path, source, after, "compare floats with pytest.approx (rel=1e-12)")


def _is_float_literal(node: ast.expr) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        node = node.operand
    return isinstance(node, ast.Constant) and isinstance(node.value, float)


# the clock ------------------------------------------------------------------------------------


def freeze_clock(path: str, source: str, test_name: str, instant: str) -> Patch:
    func = find_function(ast.parse(source), test_name)
    lines = source.splitlines(keepends=True)
    first = min([func.lineno, *(d.lineno for d in func.decorator_list)])
    indent = " " * func.col_offset
    block = [
        f"{indent}# greenline: the outcome depended on the wall clock; run at one instant\n",
        f'{indent}@time_machine.travel("{instant}", tick=False)\n',
    ]
    after = "".join(lines[: first - 1] + block + lines[first - 1 :])
    after = ensure_import(after, "time_machine")
    ast.parse(after)
    return Patch(path, source, after, f"freeze the clock at {instant} (time-machine)")


# the guard ------------------------------------------------------------------------------------


class _Normalise(ast.NodeTransformer):
    """Undo what a fix may wrap around an expression: ``sorted(s)`` of a set ``s`` and
    ``pytest.approx(x, rel=r)`` with r at most the float tolerance."""

    def __init__(self, set_names: set[str]) -> None:
        self.set_names = set_names

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        func = node.func
        single = len(node.args) == 1
        if isinstance(func, ast.Name) and func.id == "sorted" and single and not node.keywords:
            return node.args[0] if _is_set(node.args[0], self.set_names) else node
        if isinstance(func, ast.Attribute) and func.attr == "approx" and single:
            keywords = {k.arg: k.value for k in node.keywords}
            rel = keywords.get("rel")
            tight = (
                isinstance(rel, ast.Constant)
                and isinstance(rel.value, float)
                and rel.value <= FLOAT_TOLERANCE
            )
            if set(keywords) == {"rel"} and tight:
                return node.args[0]
        return node


def _asserts(source: str) -> list[str]:
    tree = ast.parse(source)
    names: set[str] = set()
    for func in ast.walk(tree):
        if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            names |= _set_names(func)
    tree = _Normalise(names).visit(tree)
    return sorted(ast.dump(n) for n in ast.walk(tree) if isinstance(n, ast.Assert))


def _names(source: str) -> Counter[str]:
    """How often each name and attribute occurs (``pytest.mark.xfail`` counts ``xfail``)."""
    out: Counter[str] = Counter()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute):
            out[node.attr] += 1
        elif isinstance(node, ast.Name):
            out[node.id] += 1
    return out


def check_patch(patch: Patch) -> None:
    """Raise FixError unless the patch keeps every assertion as strong as it was (up to a
    sorted set or a float-noise tolerance) and adds no sleep, retry, skip or xfail."""
    if _asserts(patch.before) != _asserts(patch.after):
        raise FixError("it would change an assertion")
    check_added_calls(patch)


def check_added_calls(patch: Patch) -> None:
    """Raise FixError if the patch adds a sleep, retry, rerun, skip, xfail or flaky marker."""
    added = {c for c in _names(patch.after) - _names(patch.before) if c in FORBIDDEN_CALLS}
    if added:
        raise FixError(f"it would add {', '.join(sorted(added))}")
