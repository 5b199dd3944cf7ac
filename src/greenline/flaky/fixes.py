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

FORBIDDEN_CALLS = frozenset(
    {"sleep", "skip", "xfail", "skipif", "importorskip", "flaky", "retry", "rerun"}
)


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


def find_function(tree: ast.Module, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef:
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
    func = find_function(tree, name)
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
    func = find_function(tree, name)
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
    """``source`` importing ``module``: after the file's leading imports (or its docstring)."""
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.Import) and any(a.name == module for a in node.names):
            return source
    lines = source.splitlines(keepends=True)
    at = 0
    for index, node in enumerate(tree.body):
        docstring = (
            index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        )
        if docstring or isinstance(node, ast.Import | ast.ImportFrom):
            at = node.end_lineno or at
        else:
            break
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


def seed_random(path: str, source: str, test_name: str, seed: int = 0) -> Patch:
    why = "greenline: the test's outcome depended on unseeded random numbers"
    statement = [f"random.seed({seed})"]
    after = insert_at_start(ensure_import(source, "random"), test_name, statement, why)
    return Patch(path, source, after, f"seed random with {seed} at the start of the test")


@dataclass(frozen=True, slots=True)
class Leak:
    """A module-level value a polluter left changed, and the value it had before."""

    module: str  # dotted module name
    file: str | None  # the module's file, relative to the project
    name: str
    initial: str  # a Python literal
    rebound: bool  # the name now refers to another object (else it was changed in place)


def _module_refs(tree: ast.Module) -> dict[str, str]:
    """How the test module can refer to each module it imports: dotted name -> expression."""
    refs: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                refs.setdefault(alias.name, alias.asname or alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                refs.setdefault(f"{node.module}.{alias.name}", alias.asname or alias.name)
    return refs


def _restore(target: str, leak: Leak) -> list[str]:
    value = ast.literal_eval(leak.initial)
    if not leak.rebound and isinstance(value, dict | set):
        return [f"{target}.clear()", f"{target}.update({leak.initial})"]
    if not leak.rebound and isinstance(value, list):
        return [f"{target}[:] = {leak.initial}"]
    return [f"{target} = {leak.initial}"]


def restore_state(path: str, source: str, test_name: str, leaks: list[Leak]) -> Patch:
    """The victim first puts back the module-level values its polluter leaves changed (in place,
    so every reference to a changed dict, list or set sees it); process state (cwd, environment,
    sys.path, sys.modules, logging) its module restores with an autouse fixture."""
    # process_fix builds on this module's helpers, so it is imported when needed
    from greenline.flaky.process_fix import is_process_leak, restore_process

    if not leaks:
        raise FixError("the polluter leaves no module-level value changed that can be restored")
    values = [leak for leak in leaks if not is_process_leak(leak)]
    after = source
    if values:
        refs = _module_refs(ast.parse(source))
        statements: list[str] = []
        for leak in values:
            if leak.file == path:  # the test module's own global
                target = f'globals()["{leak.name}"]' if leak.rebound else leak.name
            else:
                ref = refs.get(leak.module)
                if ref is None:
                    after, ref = ensure_import(after, leak.module), leak.module
                target = f"{ref}.{leak.name}"
            statements += _restore(target, leak)
        names = ", ".join(f"{leak.module}.{leak.name}" for leak in values)
        why = f"greenline: restore what other tests leave changed ({names})"
        after = insert_at_start(after, test_name, statements, why)
    if len(values) < len(leaks):
        after = restore_process(after, leaks)
    shown = ", ".join(
        leak.name if is_process_leak(leak) else f"{leak.module}.{leak.name}" for leak in leaks
    )
    return Patch(path, source, after, f"restore {shown} to their initial values first")
