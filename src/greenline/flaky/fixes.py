"""Fix synthesis: source patches for a flaky test's root cause (verified by the api before any
is offered).

- order-dependent, with a cleaner or a state-setter: the donor's statements at the start of the
  victim (``borrow``);
- order-dependent, with a polluter: what it leaves changed put back first (values a literal
  writes back here; everything else through ``object_fix`` and ``process_fix``);
- randomness: ``random.seed(N)`` (and the project's own generators seeded) at the start.

A patch only ever adds statements; what it adds may not contain an ``assert``, a sleep, a
retry, a skip or an xfail (so a fix can never weaken a test). Pure: source text in, patched
text out.
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Iterable, Sequence
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


def wrap(source: str, nodes: Iterable[ast.expr], before: str, after: str) -> str:
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


def seed_random(
    path: str, source: str, test_name: str, seed: int = 0, generators: Sequence[str] = ()
) -> Patch:
    """``random.seed(seed)`` first in the test, and each of the project's own generators
    (``generators``: ``module:path``, as the probe names them) seeded likewise."""
    why = "greenline: the test's outcome depended on unseeded random numbers"
    after = ensure_import(source, "random")
    statements = [f"random.seed({seed})"]
    for generator in generators:
        module, _, attribute = generator.partition(":")
        alias = "_greenline_" + module.replace(".", "_")
        after = ensure_import(after, f"{module} as {alias}")
        statements.append(f"{alias}.{attribute}.seed({seed})")
    after = insert_at_start(after, test_name, statements, why)
    seeded = ", ".join(["random", *generators])
    return Patch(path, source, after, f"seed {seeded} with {seed} at the start of the test")


@dataclass(frozen=True, slots=True)
class Leak:
    """Something a polluter left changed (a module-level value, an attribute of a class or an
    object, a function of another module, process state), and what it was before."""

    module: str  # dotted module name (or process_fix.PROCESS)
    file: str | None  # the module's file, relative to the project
    name: str  # the path inside the module: NAME, Class.attr, obj.attr.attr
    initial: str | None  # a Python literal that writes it back; None when none does
    rebound: bool  # the name now refers to another object (else it was changed in place)
    #: removed, rebound, shallow (a container gained or lost members), deep (changed inside),
    #: or added (an attribute that was not there)
    change: str = "rebound"
    before: str | None = None  # what it showed before and after (short reprs, for people)
    after: str | None = None
    owner: str = "module"  # module, class, object or process
    container: str | None = None  # dict, list, set or deque: restorable in place
    deepcopy: bool = True  # copy.deepcopy can keep a copy of it

    @property
    def shown(self) -> str:
        """Its name as a reader finds it (``shop.catalog.Catalog._index``, ``cwd``)."""
        return self.name if self.owner == "process" else f"{self.module}.{self.name}"

    @property
    def has_literal(self) -> bool:
        """Whether the test's first statements can write it back with a literal."""
        return self.initial is not None and self.owner != "process" and self.change != "added"


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
    assert leak.initial is not None
    value = ast.literal_eval(leak.initial)
    if not leak.rebound and isinstance(value, dict | set):
        return [f"{target}.clear()", f"{target}.update({leak.initial})"]
    if not leak.rebound and isinstance(value, list):
        return [f"{target}[:] = {leak.initial}"]
    return [f"{target} = {leak.initial}"]


def restore_state(
    path: str, source: str, test_name: str, leaks: list[Leak], in_fixture: bool = False
) -> Patch:
    """The victim first puts back what its polluter leaves changed: values a literal writes
    back, in place (so every reference to a changed dict, list or set sees it), as the test's
    first statements; everything else (objects no literal writes, process state), and with
    ``in_fixture`` everything, its module keeps at import and restores with an autouse fixture
    (``object_fix``), which runs before the test's other fixtures set anything up."""
    # object_fix builds on this module's helpers, so it is imported when needed
    from greenline.flaky.object_fix import restoring_fixture

    if not leaks:
        raise FixError("the polluter leaves nothing changed that greenline can see")
    values = [] if in_fixture else [leak for leak in leaks if leak.has_literal]
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
        names = ", ".join(leak.shown for leak in values)
        why = f"greenline: restore what other tests leave changed ({names})"
        after = insert_at_start(after, test_name, statements, why)
    rest = [leak for leak in leaks if leak not in values]
    if rest:
        after = restoring_fixture(after, path, rest, ", ".join(leak.shown for leak in rest))
    shown = ", ".join(leak.shown for leak in leaks)
    how = "a fixture of its module" if not values else "its first statements"
    return Patch(path, source, after, f"restore {shown} to how it was before the tests ran ({how})")
