"""Restoring objects a polluter leaves changed that no literal writes back: a registry of
functions, a cache of the project's objects, a monkeypatched function, an attribute added to a
class. The victim's module keeps each as it was when the module was imported (at collection,
before any test ran: a copy of a container, the object itself otherwise) and an autouse fixture
of the module puts it back before each of its tests, in place where it is a container (so every
reference to it sees the restored contents). Pure: source text in, patched text out."""

from __future__ import annotations

import ast
import itertools
import re
import textwrap
from collections.abc import Sequence

from greenline.flaky.fixes import FixError, Leak, ensure_import
from greenline.flaky.process_fix import Parts, is_process_leak, process_parts

FIXTURE = "_greenline_restore_state"
KEPT = "_GREENLINE_KEPT"
MISSING = "_GREENLINE_MISSING"


def _alias(module: str) -> str:
    return "_greenline_" + module.replace(".", "_")


def _owner_and_attribute(leak: Leak, own: bool) -> tuple[str, str]:
    """The expression of what holds the leaked attribute, and the attribute's name."""
    *owner, attribute = leak.name.split(".")
    base = "sys.modules[__name__]" if own else _alias(leak.module)
    return ".".join([base, *owner]), attribute


def _in_place(target: str, container: str, value: str) -> list[str]:
    if container == "list":
        return [f"{target}[:] = {value}"]
    if container == "deque":
        return [f"{target}.clear()", f"{target}.extend({value})"]
    return [f"{target}.clear()", f"{target}.update({value})"]  # dict, set


def object_parts(leaks: Sequence[Leak], path: str, parts: Parts) -> None:
    """Add to ``parts`` what keeps and restores each leaked object (``path`` is the victim's
    module: its own globals are reached through ``sys.modules[__name__]``)."""
    for leak in leaks:
        own = leak.file == path
        owner, attribute = _owner_and_attribute(leak, own)
        target, key = f"{owner}.{attribute}", repr(f"{leak.module}.{leak.name}")
        kept = f"{KEPT}[{key}]"
        imports = ["sys"] if own else [f"{leak.module} as {_alias(leak.module)}"]
        if leak.change in ("shallow", "deep") and leak.container:
            deep = leak.change == "deep" and leak.deepcopy
            copier = "copy.deepcopy" if deep else "copy.copy"
            value = f"copy.deepcopy({kept})" if deep else kept
            parts.add(
                [f"{kept} = {copier}({target})"],
                _in_place(target, leak.container, value),
                "copy",
                *imports,
            )
        elif leak.change == "added":
            parts.add(
                [],
                [f"if {attribute!r} in vars({owner}):", f"    delattr({owner}, {attribute!r})"],
                *imports,
            )
        elif leak.change == "deep" and leak.deepcopy:  # changed inside, not a container
            parts.add(
                [f"{kept} = copy.deepcopy({target})"],
                [f"{target} = copy.deepcopy({kept})"],
                "copy",
                *imports,
            )
        else:  # rebound or removed: the object itself comes back
            parts.add(
                [f"{kept} = vars({owner}).get({attribute!r}, {MISSING})"],
                [
                    f"if {kept} is not {MISSING}:",
                    f"    setattr({owner}, {attribute!r}, {kept})",
                ],
                *imports,
            )


def restoring_fixture(source: str, path: str, leaks: Sequence[Leak], names: str) -> str:
    """``source`` (the victim's module) keeping the leaked state at import, with an autouse
    fixture that puts it back before each of its tests."""
    parts = Parts()
    process_parts([leak for leak in leaks if is_process_leak(leak)], parts)
    object_parts([leak for leak in leaks if not is_process_leak(leak)], path, parts)
    if not parts.restore:
        raise FixError("the polluter leaves nothing changed that a fixture can restore")
    for module in sorted({*parts.imports, "pytest"}):
        source = ensure_import(source, module)
    keeps = parts.keep
    if any(k.startswith(KEPT) for k in keeps):
        keeps = [f"{KEPT} = {{}}", f"{MISSING} = object()", *keeps]
    block = _numbered(source, _block(keeps, parts.restore, names))
    lines = source.splitlines(keepends=True)
    at = _after_imports(source)
    blank = len(list(itertools.takewhile(lambda line: not line.strip(), lines[at:])))
    patched = "".join([*lines[:at], *block, "\n" * max(0, 2 - blank), *lines[at:]])
    ast.parse(patched)  # still Python
    return patched


def _numbered(source: str, block: list[str]) -> list[str]:
    """``block`` with its names numbered past the restoring fixtures ``source`` already has
    (one per fix applied to the module)."""
    number = 1
    while f"def {FIXTURE}{'' if number == 1 else f'_{number}'}(" in source:
        number += 1
    if number == 1:
        return block
    suffix = f"_{number}"
    rename = re.compile(r"\b(_GREENLINE_[A-Z_]+|_greenline_restore_state)\b")
    return [rename.sub(lambda m: m.group(1) + suffix, line) for line in block]


def _block(keeps: list[str], restore: list[str], names: str) -> list[str]:
    why = (
        "greenline: other tests leave this state changed; this module keeps it as it was "
        f"when it was imported, before any test ran, and puts it back before each test: {names}"
    )
    return [
        "\n",
        *(f"# {line}\n" for line in textwrap.wrap(why, 96, break_on_hyphens=False)),
        *(line + "\n" for line in keeps),
        "\n\n",
        "@pytest.fixture(autouse=True)\n",
        f"def {FIXTURE}():\n",
        *(f"    {line}\n" for line in restore),
        "    yield\n",
    ]


def _after_imports(source: str) -> int:
    """The line after the module's leading docstring and imports."""
    at = 0
    for index, node in enumerate(ast.parse(source).body):
        docstring = index == 0 and isinstance(node, ast.Expr)
        if not (docstring or isinstance(node, ast.Import | ast.ImportFrom)):
            break
        at = node.end_lineno or at
    return at
