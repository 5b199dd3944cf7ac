"""Borrowing another test's statements (iFixFlakies' patch): a cleaner's reset or a
state-setter's setup runs first in the victim. What the statements need comes along: the
fixtures the donor takes (added to the victim's parameters), the imports of the donor's module
they use, ``self`` when both are methods of one class. The donor's assertions stay behind; a
nested function it defines (a decorated handler, a job) comes along whole. Pure: source text
in, patched text out."""

from __future__ import annotations

import ast
import builtins

from greenline.flaky.fixes import FORBIDDEN_CALLS, FixError, Patch, find_function, insert_at_start

_NESTED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


def _called(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _is_assertion(statement: ast.stmt) -> bool:
    """A unittest assertion (``self.assertEqual(...)``): the donor's check, not its setup."""
    value = statement.value if isinstance(statement, ast.Expr) else None
    return isinstance(value, ast.Call) and _called(value).startswith(("assert", "fail"))


def _walk_outside_nested(node: ast.AST) -> list[ast.AST]:
    """``node`` and what it contains, not looking inside functions, classes or lambdas it
    defines (their ``return`` is theirs)."""
    if isinstance(node, _NESTED):
        return [n for n in ast.walk(node) if isinstance(n, ast.Call)]
    found, todo = [], [node]
    while todo:
        current = todo.pop()
        found.append(current)
        for child in ast.iter_child_nodes(current):
            if not isinstance(child, _NESTED):
                todo.append(child)
            else:
                found.extend(n for n in ast.walk(child) if isinstance(n, ast.Call))
    return found


def is_safe(statement: ast.stmt) -> bool:
    """A statement a fix may borrow: no assert, raise, return or yield of the donor's own, no
    unittest assertion, and no sleep, retry, skip or xfail anywhere in it."""
    if _is_assertion(statement):
        return False
    for node in _walk_outside_nested(statement):
        if isinstance(node, ast.Assert | ast.Raise | ast.Return | ast.Yield | ast.YieldFrom):
            return False
        if isinstance(node, ast.Call) and _called(node) in FORBIDDEN_CALLS:
            return False
    return True


def _parameters(func: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    return [a.arg for a in (*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs)]


def _is_unittest_class(tree: ast.Module, name: str) -> bool:
    classes = name.split("::")[:-1]
    if not classes:
        return False
    found = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == classes[0]]
    return bool(found) and any("TestCase" in ast.unparse(b) for b in found[0].bases)


def _bound(tree: ast.Module) -> set[str]:
    """The names a module binds at its top level (imports, definitions, assignments)."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        else:
            names |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    return names


def _imports_for(names: set[str], donor: ast.Module) -> list[str]:
    """The donor module's import statements that bind ``names``; raises for a name the donor
    module defines itself (its helpers do not travel)."""
    out, left = [], set(names)
    for node in donor.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            binds = {(a.asname or a.name).split(".")[0] for a in node.names}
            if binds & left:
                out.append(ast.unparse(node))
                left -= binds
    if left:
        raise FixError(f"the statements use {', '.join(sorted(left))} of their own module")
    return out


def _used(statements: list[ast.stmt]) -> set[str]:
    loaded: set[str] = set()
    stored: set[str] = set()
    for statement in statements:
        for node in ast.walk(statement):
            if isinstance(node, ast.Name):
                (loaded if isinstance(node.ctx, ast.Load) else stored).add(node.id)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                stored.add(node.name)
            elif isinstance(node, ast.arg):
                stored.add(node.arg)
    return loaded - stored - set(dir(builtins))


def add_parameters(source: str, test_name: str, names: list[str]) -> str:
    """``source`` with test ``test_name`` also asking for fixtures ``names``."""
    func = find_function(ast.parse(source), test_name)
    wanted = [n for n in names if n not in _parameters(func)]
    if not wanted:
        return source
    lines = source.splitlines(keepends=True)
    args = func.args.args
    if args:
        last = args[-1]
        end = last.annotation or last
        assert end.end_lineno is not None and end.end_col_offset is not None
        row, col, text = end.end_lineno - 1, end.end_col_offset, ", " + ", ".join(wanted)
    else:
        row = func.lineno - 1
        col = lines[row].index(f"{func.name}(") + len(func.name) + 1
        text = ", ".join(wanted)
    lines[row] = lines[row][:col] + text + lines[row][col:]
    patched = "".join(lines)
    ast.parse(patched)
    return patched


def borrow_reset(
    path: str, source: str, test_name: str, donor_source: str, donor: str, role: str
) -> Patch:
    """The victim runs the donor's state changes first (a cleaner's reset, a state-setter's
    setup), with the fixtures and imports they need."""
    donor_path, _, donor_name = donor.partition("::")
    donor_tree, tree = ast.parse(donor_source), ast.parse(source)
    func = find_function(donor_tree, donor_name)
    body = func.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    kept = [s for s in body if is_safe(s)]
    if not kept:
        raise FixError(f"{donor_name} has no statements that could set or reset state")
    fixtures = _parameters(func)
    same_class = donor_path == path and donor_name.split("::")[:-1] == test_name.split("::")[:-1]
    if fixtures[:1] == ["self"]:
        if not same_class and "self" in _used(kept):
            raise FixError(f"{donor_name} works on its own test class's self")
        fixtures = fixtures[1:]
    if fixtures and _is_unittest_class(tree, test_name):
        raise FixError(f"{donor_name} takes fixtures, which a unittest test cannot take")
    victim = find_function(tree, test_name)
    missing = _used(kept) - _bound(tree) - set(_parameters(victim)) - set(fixtures)
    imports = _imports_for(missing, donor_tree) if donor_path != path else []
    if donor_path == path and missing:
        raise FixError(f"the statements use {', '.join(sorted(missing))}, which is not defined")
    statements = [*imports, *(ast.unparse(s) for s in kept)]
    why = (
        f"greenline: reset what other tests leave behind (from {role} {donor})"
        if role == "cleaner"
        else f"greenline: set up what this test needs (from {role} {donor})"
    )
    after = insert_at_start(source, test_name, statements, why)
    after = add_parameters(after, test_name, fixtures)
    return Patch(path, source, after, f"run {role} {donor}'s statements first")
