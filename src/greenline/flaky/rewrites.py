"""Fixes that rewrite expressions inside a test (the api verifies each before offering it), and
the guard every patch passes: it keeps every assertion (sets sorted: ``set_order``).

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

from greenline.flaky.fixes import (
    FORBIDDEN_CALLS,
    FixError,
    Patch,
    ensure_import,
    find_function,
    wrap,
)
from greenline.flaky.set_order import SetScope, function_scopes

#: relative tolerance of a float-noise fix (1e-12 is ~4,500 ulps: noise, never a real change)
FLOAT_TOLERANCE = 1e-12


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
    after = wrap(source, targets, "pytest.approx(", f", rel={FLOAT_TOLERANCE})")
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
    """Undo what a fix may wrap around an expression: ``sorted(s)`` (or ``sorted(s,
    key=repr)``) of what is a set by construction in its function, and ``pytest.approx(x,
    rel=r)`` with r at most the float tolerance."""

    def __init__(self, scopes: dict[int, SetScope]) -> None:
        self.scopes = scopes
        self.scope: SetScope | None = None

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        return self._in_function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> ast.AST:
        return self._in_function(node)

    def _in_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        outer, self.scope = self.scope, self.scopes.get(id(node), self.scope)
        self.generic_visit(node)
        self.scope = outer
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        func = node.func
        single = len(node.args) == 1
        if isinstance(func, ast.Name) and func.id == "sorted" and single:
            by_repr = [ast.unparse(k) for k in node.keywords] == ["key=repr"]
            scope = self.scope or SetScope(set())
            if (not node.keywords or by_repr) and scope.is_set(node.args[0]):
                return node.args[0]
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


#: calls that assert: unittest's ``self.assert*`` and ``self.fail``, pytest's raises and warns
ASSERTING = ("assert", "fail")
EXPECTING = frozenset({"raises", "warns", "deprecated_call"})
_CONTROL = (ast.If, ast.While, ast.For, ast.AsyncFor, ast.With, ast.AsyncWith, ast.Try)


def _is_assertion(node: ast.AST) -> bool:
    if isinstance(node, ast.Assert):
        return True
    if isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        return name in EXPECTING or (isinstance(func, ast.Attribute) and name.startswith(ASSERTING))
    return False


def _heading(node: ast.stmt) -> str:
    """A control statement without its body (where an assertion sits)."""
    if isinstance(node, ast.If | ast.While):
        return f"{type(node).__name__}({ast.dump(node.test)})"
    if isinstance(node, ast.For | ast.AsyncFor):
        return f"For({ast.dump(node.iter)})"
    if isinstance(node, ast.With | ast.AsyncWith):
        return f"With({', '.join(ast.dump(i.context_expr) for i in node.items)})"
    return type(node).__name__


def assertions(source: str) -> Counter[str]:
    """Every assertion of a module (normalised as ``_Normalise`` does), with the function and
    the control statements it sits in: moving one under an ``if`` changes it."""
    tree = ast.parse(source)
    scopes = {id(func): scope for func, scope in function_scopes(tree)}
    tree = _Normalise(scopes).visit(tree)
    found: Counter[str] = Counter()

    def visit(node: ast.AST, where: tuple[str, ...]) -> None:
        for child in ast.iter_child_nodes(node):
            here = where
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                here = (*where, child.name)
            elif isinstance(child, _CONTROL):
                here = (*where, _heading(child))
            if _is_assertion(child):
                found[f"{' / '.join(where)}: {ast.dump(child)}"] += 1
            visit(child, here)

    visit(tree, ())
    return found


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
    before, after = assertions(patch.before), assertions(patch.after)
    if before - after:
        raise FixError("it would remove or change an assertion")
    check_added_calls(patch)


def check_added_calls(patch: Patch) -> None:
    """Raise FixError if the patch adds a sleep, retry, rerun, skip, xfail or flaky marker."""
    added = {c for c in _names(patch.after) - _names(patch.before) if c in FORBIDDEN_CALLS}
    if added:
        raise FixError(f"it would add {', '.join(sorted(added))}")
