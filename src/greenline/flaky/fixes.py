"""Fix synthesis: source patches for a flaky test's root cause (verified by the api before any
is offered).

- order-dependent, with a cleaner: the cleaner's statements (what resets the leaked state) run
  at the start of the victim (iFixFlakies' patch);
- order-dependent, failing alone, with a state-setter: the setter's statements likewise;
- randomness: ``random.seed(0)`` at the start of the test.

A patch only ever adds statements at the top of the test; what it adds may not contain an
``assert``, a sleep, a retry, a skip or an xfail (so a fix can never weaken a test). Pure: source
text in, patched text out.
"""

from __future__ import annotations

import ast
import difflib
from dataclasses import dataclass

FORBIDDEN_CALLS = frozenset({"sleep", "skip", "xfail", "skipif", "importorskip", "flaky"})


@dataclass(frozen=True, slots=True)
class Patch:
    path: str
    before: str
    after: str
    description: str

    def diff(self) -> str:
        return "".join(
            difflib.unified_diff(
                self.before.splitlines(keepends=True),
                self.after.splitlines(keepends=True),
                fromfile=f"a/{self.path}",
                tofile=f"b/{self.path}",
            )
        )


class FixError(ValueError):
    """The test or the donor cannot be patched this way (the reason says why)."""


def _function(tree: ast.Module, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef:
    """A test function by its name; ``Class::method`` reaches into a class."""
    scope: list[ast.stmt] = tree.body
    *classes, func = name.split("::")
    for cls in classes:
        found = next((n for n in scope if isinstance(n, ast.ClassDef) and n.name == cls), None)
        if found is None:
            raise FixError(f"no class {cls}")
        scope = found.body
    base = func.split("[", 1)[0]  # a parametrized id names the function before "["
    node = next(
        (
            n
            for n in scope
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == base
        ),
        None,
    )
    if node is None:
        raise FixError(f"no function {base}")
    return node


def _is_safe(statement: ast.stmt) -> bool:
    for node in ast.walk(statement):
        if isinstance(node, ast.Assert | ast.Raise | ast.Return | ast.Yield | ast.YieldFrom):
            return False
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in FORBIDDEN_CALLS:
                return False
    return True


def donor_statements(source: str, name: str) -> list[str]:
    """The statements of test ``name`` that change state (its asserts left out)."""
    tree = ast.parse(source)
    func = _function(tree, name)
    body = func.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    if func.args.args or func.args.kwonlyargs:
        raise FixError(f"{name} takes fixtures: its statements need them")
    kept = [s for s in body if _is_safe(s)]
    if not kept:
        raise FixError(f"{name} has no statements that could reset state")
    return [ast.unparse(s) for s in kept]  # each at indentation 0, however it was nested


def insert_at_start(source: str, name: str, statements: list[str], why: str) -> str:
    """``source`` with ``statements`` (and a comment saying ``why``) first in test ``name``."""
    tree = ast.parse(source)
    func = _function(tree, name)
    body = func.body
    first = body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and len(body) > 1:
        first = body[1]  # after the docstring
    lines = source.splitlines(keepends=True)
    indent = " " * first.col_offset
    block = [f"{indent}# {why}\n"]
    for statement in statements:
        block += [f"{indent}{line}\n" for line in statement.splitlines()]
    at = first.lineno - 1  # a statement in a function body
    patched = "".join(lines[:at] + block + lines[at:])
    ast.parse(patched)  # still Python
    return patched


def ensure_import(source: str, module: str) -> str:
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.Import) and any(a.name == module for a in node.names):
            return source
    lines = source.splitlines(keepends=True)
    at = 0
    for node in tree.body:  # after the docstring and __future__ imports
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and at == 0:
            at = node.end_lineno or 0
        elif isinstance(node, ast.ImportFrom) and node.module == "__future__":
            at = node.end_lineno or at
    return "".join([*lines[:at], f"import {module}\n", *lines[at:]])


def borrow_reset(
    path: str, source: str, test_name: str, donor_source: str, donor: str, role: str
) -> Patch:
    """The victim runs the donor's state changes first (a cleaner's reset, a state-setter's
    setup)."""
    statements = donor_statements(donor_source, donor.split("::", 1)[1])
    why = f"greenline: reset what other tests leave behind (from {role} {donor})"
    after = insert_at_start(source, test_name, statements, why)
    return Patch(path, source, after, f"run {role} {donor}'s statements first")


def seed_random(path: str, source: str, test_name: str) -> Patch:
    why = "greenline: the test's outcome depended on unseeded random numbers"
    after = insert_at_start(ensure_import(source, "random"), test_name, ["random.seed(0)"], why)
    return Patch(path, source, after, "seed random at the start of the test")
