"""Where a set's order shows, and the patches that iterate it in sorted order instead.

A value is a set *by construction* when it is built as one (a literal, a comprehension,
``set(...)``, set operators), declared as one (an annotation such as ``set[str]`` on a variable,
a parameter or ``self.attribute``), assigned one (a local, or ``self.x`` anywhere in its class),
or returned by a function of the same module that only ever returns sets. Its order shows where
something keeps the iteration order: ``list(s)``, ``",".join(s)``, a comprehension or a ``for``
loop over it, ``dict.fromkeys(s)``, and ``min``/``max``/``sorted`` with a ``key`` (ties go to
whichever comes first). Such a place iterates ``sorted(s)`` (or ``sorted(s, key=repr)`` where the
elements do not compare): the same elements, in an order no hash seed changes. A set promises no
order, so no contract changes; verification proves the patch holds. Pure: source in, patches
out.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

from greenline.flaky.fixes import FixError, Patch, find_function, wrap

SET_BUILDERS = frozenset({"set", "frozenset"})
SET_METHODS = frozenset({"union", "intersection", "difference", "symmetric_difference", "copy"})
SET_TYPES = frozenset({"set", "frozenset", "Set", "FrozenSet", "AbstractSet", "MutableSet"})
ORDERED_CONSUMERS = frozenset(
    {"list", "tuple", "iter", "enumerate", "zip", "sum", "map", "filter", "deque", "chain"}
)
ORDERED_METHODS = frozenset({"join", "fromkeys", "extend"})
#: functions that pick among equal keys by iteration order
KEYED = frozenset({"min", "max", "sorted"})
SET_OPERATORS = (ast.BitOr, ast.BitAnd, ast.Sub, ast.BitXor)
Function = ast.FunctionDef | ast.AsyncFunctionDef


def is_set_type(annotation: ast.expr | None) -> bool:
    """``set[str]``, ``frozenset``, ``typing.AbstractSet[int]``, ``"set[str]"``, ..."""
    if annotation is None:
        return False
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        try:
            annotation = ast.parse(annotation.value, mode="eval").body
        except SyntaxError:
            return False
    if isinstance(annotation, ast.Subscript):
        annotation = annotation.value
    name = annotation.attr if isinstance(annotation, ast.Attribute) else None
    name = name or (annotation.id if isinstance(annotation, ast.Name) else None)
    return name in SET_TYPES


class SetScope:
    """What is a set by construction inside one function: its locals and parameters, the
    ``self`` attributes its class assigns sets, the module's functions that return sets."""

    def __init__(
        self,
        names: set[str],
        attributes: frozenset[str] = frozenset(),
        functions: frozenset[str] = frozenset(),
    ) -> None:
        self.names = set(names)
        self.attributes = attributes
        self.functions = functions

    def is_set(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Set | ast.SetComp):
            return True
        if isinstance(node, ast.Name):
            return node.id in self.names
        if isinstance(node, ast.Attribute):
            owner = node.value
            return (
                isinstance(owner, ast.Name)
                and owner.id in ("self", "cls")
                and (node.attr in self.attributes)
            )
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                return func.id in SET_BUILDERS or func.id in self.functions
            if isinstance(func, ast.Attribute):
                if func.attr in SET_METHODS and self.is_set(func.value):
                    return True
                mine = isinstance(func.value, ast.Name) and func.value.id in ("self", "cls")
                return mine and func.attr in self.functions
        if isinstance(node, ast.BinOp) and isinstance(node.op, SET_OPERATORS):
            return self.is_set(node.left) and self.is_set(node.right)
        return False


_Assignment = tuple[ast.expr, ast.expr | None, ast.expr | None]


def _assignments(node: ast.AST) -> list[_Assignment]:
    """(target, annotation, value) of an assignment statement; [] for anything else."""
    if isinstance(node, ast.Assign):
        return [(t, None, node.value) for t in node.targets]
    if isinstance(node, ast.AnnAssign):
        return [(node.target, node.annotation, node.value)]
    return []


def _all_sets(assigned: dict[str, list[bool]]) -> set[str]:
    """The names every assignment of which is a set (one list assigned anywhere: not a set)."""
    return {name for name, sets in assigned.items() if all(sets)}


def _is_set_value(annotation: ast.expr | None, value: ast.expr | None, scope: SetScope) -> bool:
    return is_set_type(annotation) or (value is not None and scope.is_set(value))


def _locals(func: Function, scope: SetScope) -> None:
    """Add the function's set parameters and the locals it only ever assigns sets."""
    arguments = (*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs)
    scope.names |= {a.arg for a in arguments if is_set_type(a.annotation)}
    assigned: dict[str, list[bool]] = {}
    for node in ast.walk(func):  # in source order, so a set built from a set counts
        for target, annotation, value in _assignments(node):
            if isinstance(target, ast.Name):
                assigned.setdefault(target.id, []).append(_is_set_value(annotation, value, scope))
                scope.names |= _all_sets({target.id: assigned[target.id]})
                if not all(assigned[target.id]):
                    scope.names.discard(target.id)


def _class_sets(cls: ast.ClassDef) -> set[str]:
    """The attributes a class only ever keeps sets in: ``self.x = set()``,
    ``self.x: set[str] = ...``, or a class-level ``x: set[...]`` / ``x = set()``."""
    empty = SetScope(set())
    assigned: dict[str, list[bool]] = {}
    for statement in cls.body:
        for target, annotation, value in _assignments(statement):
            if isinstance(target, ast.Name):
                is_set = _is_set_value(annotation, value, empty)
                assigned.setdefault(target.id, []).append(is_set)
    for node in ast.walk(cls):
        for target, annotation, value in _assignments(node):
            owner = target.value if isinstance(target, ast.Attribute) else None
            mine = isinstance(owner, ast.Name) and owner.id == "self"
            if isinstance(target, ast.Attribute) and mine:
                is_set = _is_set_value(annotation, value, empty)
                assigned.setdefault(target.attr, []).append(is_set)
    return _all_sets(assigned)


def _returns_sets(func: Function) -> bool:
    if is_set_type(func.returns):
        return True
    scope = SetScope(set())
    _locals(func, scope)
    returns = [n.value for n in ast.walk(func) if isinstance(n, ast.Return) and n.value is not None]
    return bool(returns) and all(scope.is_set(r) for r in returns)


def function_scopes(tree: ast.Module) -> list[tuple[Function, SetScope]]:
    """Every function of a module with its scope (module functions and methods that return
    sets count as sets where they are called)."""
    functions = frozenset(n.name for n in tree.body if isinstance(n, Function) and _returns_sets(n))
    out: list[tuple[Function, SetScope]] = []

    def visit(
        body: Iterable[ast.stmt], attributes: frozenset[str], methods: frozenset[str]
    ) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef):
                own = frozenset(
                    n.name for n in node.body if isinstance(n, Function) and _returns_sets(n)
                )
                visit(node.body, frozenset(_class_sets(node)), own)
            elif isinstance(node, Function):
                scope = SetScope(set(), attributes, functions | methods)
                _locals(node, scope)
                out.append((node, scope))

    visit(tree.body, frozenset(), frozenset())
    return out


def scope_of(tree: ast.Module, func: Function) -> SetScope:
    for node, scope in function_scopes(tree):
        if node is func:
            return scope
    scope = SetScope(set())
    _locals(func, scope)
    return scope


def unordered_iterations(func: Function, scope: SetScope) -> list[tuple[ast.expr, bool]]:
    """The sets ``func`` iterates where the order shows, each with whether a ``key`` picks
    among them (then ties decide, and the elements need not compare: ``key=repr`` helps)."""
    found: list[tuple[ast.expr, bool]] = []
    for node in ast.walk(func):
        if isinstance(node, ast.Call):
            callee = node.func
            name = callee.id if isinstance(callee, ast.Name) else None
            method = callee.attr if isinstance(callee, ast.Attribute) else None
            keyed = name in KEYED and any(k.arg == "key" for k in node.keywords)
            if name in ORDERED_CONSUMERS or method in ORDERED_METHODS or keyed:
                found += [(a, keyed) for a in node.args if scope.is_set(a)]
        elif isinstance(node, ast.ListComp | ast.GeneratorExp | ast.DictComp):
            found += [(g.iter, False) for g in node.generators if scope.is_set(g.iter)]
        elif isinstance(node, ast.For | ast.AsyncFor) and scope.is_set(node.iter):
            found.append((node.iter, False))
        elif isinstance(node, ast.List | ast.Tuple):
            found += [
                (e.value, False)
                for e in node.elts
                if isinstance(e, ast.Starred) and scope.is_set(e.value)
            ]
    return found


def sort_unordered(path: str, source: str, test_name: str) -> Patch:
    """The test's own iterations of sets, sorted."""
    tree = ast.parse(source)
    func = find_function(tree, test_name)
    sets = [node for node, _ in unordered_iterations(func, scope_of(tree, func))]
    if not sets:
        raise FixError("the test iterates no set where order shows")
    after = wrap(source, sets, "sorted(", ")")
    return Patch(path, source, after, f"iterate {len(sets)} set(s) in sorted order")


def sort_unordered_in_code(path: str, source: str) -> list[Patch]:
    """For a module of the code under test: per function whose output shows a set's order, a
    patch iterating those sets in sorted order (and, where elements may not compare, one
    sorting them by their repr)."""
    patches = []
    for func, scope in function_scopes(ast.parse(source)):
        sets = unordered_iterations(func, scope)
        if not sets:
            continue
        where = f"{func.name} in {path}"
        after = wrap(source, [node for node, _ in sets], "sorted(", ")")
        patches.append(Patch(path, source, after, f"iterate the set(s) of {where} in order"))
        if any(keyed for _, keyed in sets):
            after = wrap(source, [node for node, _ in sets], "sorted(", ", key=repr)")
            description = f"iterate the set(s) of {where} in the order of their repr"
            patches.append(Patch(path, source, after, description))
    return patches


def set_names(tree: ast.Module) -> set[str]:
    """Every name some function of the module holds a set in (for the guard)."""
    names: set[str] = set()
    for _, scope in function_scopes(tree):
        names |= scope.names
    return names
