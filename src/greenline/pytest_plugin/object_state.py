"""What the state probe sees of the objects a test can leave changed: every module-level value of
the project's modules, the attributes of the project's classes and of the project's objects
(followed a few levels: ``client.session.headers``), and the functions and classes of every
other loaded module (a monkeypatched ``time.sleep``), each as a fingerprint that changes when
the value is rebound or changed in place (containers are read all the way down, within limits).
Stdlib only (it loads inside greenline's state probe)."""

from __future__ import annotations

import ast
import os
import random
import re
import sys
import types
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

#: how many attribute levels the probe follows into the project's objects
OBJECT_DEPTH = 3
#: how deep and how wide a fingerprint reads containers
VALUE_DEPTH = 4
VALUE_WIDTH = 200
#: how much of a value a report shows
SHOWN_CHARS = 160
#: modules whose functions are pytest's or greenline's machinery (never a test's leak)
MACHINERY = ("_pytest", "pytest", "pluggy", "greenline", "py", "_io", "importlib")
CONTAINERS = (dict, list, set, frozenset, tuple, deque)
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
REFERENCES = (
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.ModuleType,
    type,
    staticmethod,
    classmethod,
    property,
)

OWNER = "module"
#: what a module defines that a test may replace (``time.sleep = fake``)
DEFINED = (types.FunctionType, types.BuiltinFunctionType, type)


@dataclass(frozen=True, slots=True)
class Seen:
    """One value at one path: its fingerprint, identity, the literal that writes it back (None
    when no literal does), what a report shows of it, and its members (a container's keys or
    positions -> their identity and fingerprint) to tell a shallow change from a deep one."""

    print: str
    ident: int
    literal: str | None
    shown: str
    members: dict[str, tuple[int, str]] | None
    owner: str  # "module", "class" or "object": what the value is an attribute of
    container: str | None = None  # dict, list, set or deque: restorable in place


def shown(value: Any) -> str:
    """A short, one-line repr."""
    try:
        text = repr(value)
    except Exception:  # a broken __repr__ is the project's business
        text = f"<{type(value).__qualname__}>"
    text = " ".join(text.split())
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def literal(value: Any) -> str | None:
    """``repr(value)`` when it reads back as an equal literal (what a fix can write down)."""
    if isinstance(value, REFERENCES):
        return None
    try:
        text = repr(value)
        if len(text) > 2000 or ast.literal_eval(text) != value:
            return None
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return text


def _reference(value: Any) -> str:
    name = getattr(value, "__qualname__", None) or type(value).__qualname__
    return f"ref:{name}@{id(value)}"


def fingerprint(value: Any, projects: frozenset[str], depth: int = VALUE_DEPTH) -> str:
    """Changes when ``value`` is changed in place (down to ``depth``) or is another object
    where identity is what counts (functions, classes, the project's objects)."""
    if value is None or isinstance(value, bool | int | float | complex | str | bytes):
        text = repr(value)
        return text if len(text) <= 400 else f"{type(value).__name__}:{len(text)}:{hash(text)}"
    if isinstance(value, REFERENCES):
        return _reference(value)
    if depth <= 0:
        return f"{type(value).__qualname__}@{id(value)}"
    if isinstance(value, CONTAINERS):
        return f"{type(value).__qualname__}[{', '.join(_members_print(value, projects, depth))}]"
    if _is_projects(value, projects):
        inner = ", ".join(
            f"{k}={fingerprint(v, projects, depth - 1)}" for k, v in _attributes(value)
        )
        return f"obj:{type(value).__qualname__}@{id(value)}({inner})"
    text = shown(value)
    if _ADDRESS.search(text) or text.endswith("…"):
        return f"{type(value).__qualname__}@{id(value)}"
    return f"{type(value).__qualname__}:{text}"


def _members_print(value: Any, projects: frozenset[str], depth: int) -> list[str]:
    parts = [f"{k}:{fingerprint(v, projects, depth - 1)}" for k, v in _members(value)[:VALUE_WIDTH]]
    if isinstance(value, set | frozenset):
        parts.sort()
    if len(value) > VALUE_WIDTH:
        parts.append(f"…{len(value)}@{id(value)}")
    return parts


def _members(value: Any) -> list[tuple[str, Any]]:
    """A container's members by key (dicts), position (sequences) or fingerprint (sets)."""
    if isinstance(value, Mapping):
        return [(shown(k), v) for k, v in list(value.items())]
    if isinstance(value, set | frozenset):
        return [("", v) for v in list(value)]
    return [(str(i), v) for i, v in enumerate(list(value))]


def members(value: Any, projects: frozenset[str]) -> dict[str, tuple[int, str]] | None:
    """A container's members -> (identity, fingerprint); sets key them by fingerprint."""
    if not isinstance(value, CONTAINERS) or len(value) > VALUE_WIDTH:
        return None
    out = {}
    for key, member in _members(value):
        print_ = fingerprint(member, projects, VALUE_DEPTH - 1)
        out[key or print_] = (id(member), print_)
    return out


def _is_projects(value: Any, projects: frozenset[str]) -> bool:
    """A class defined in a project module, or an instance of one (with a ``__dict__``)."""
    kind = value if isinstance(value, type) else type(value)
    return getattr(kind, "__module__", None) in projects and hasattr(value, "__dict__")


def _attributes(value: Any) -> list[tuple[str, Any]]:
    try:
        items = list(vars(value).items())
    except TypeError:
        return []
    return [(k, v) for k, v in items if not (k.startswith("__") and k.endswith("__"))]


def _seen(value: Any, projects: frozenset[str], owner: str) -> Seen:
    if _is_projects(value, projects) and not isinstance(value, type):
        # the project's objects count by identity here: their attributes are paths of their own
        return Seen(f"obj:{type(value).__qualname__}@{id(value)}", id(value), None, shown(value),
                    None, owner)  # fmt: skip
    return Seen(
        fingerprint(value, projects),
        id(value),
        literal(value),
        shown(value),
        members(value, projects),
        owner,
        container_of(value),
    )


def project_paths(
    modules: Mapping[str, types.ModuleType], projects: frozenset[str]
) -> dict[str, dict[str, Seen]]:
    """Per project module, each path (``NAME``, ``Class.attr``, ``obj.attr.attr``) and what it
    holds. A project object reachable from several modules is followed from one only: the
    module that defines its class, else the first."""
    owners: dict[int, str] = {}
    for name, module in modules.items():
        for _, value in _attributes(module):
            if _is_projects(value, projects):
                home = (value if isinstance(value, type) else type(value)).__module__
                if id(value) not in owners or home == name:
                    owners[id(value)] = name
    out: dict[str, dict[str, Seen]] = {}
    for name, module in modules.items():
        values: dict[str, Seen] = {}
        for attr, value in _attributes(module):
            if isinstance(value, types.ModuleType):
                continue
            values[attr] = _seen(value, projects, "module")
            if _is_projects(value, projects) and owners.get(id(value)) == name:
                values.update(_object_paths(attr, value, projects, 1, {id(value)}))
        out[name] = values
    return out


def _object_paths(
    prefix: str, value: Any, projects: frozenset[str], level: int, visited: set[int]
) -> Iterator[tuple[str, Seen]]:
    owner = "class" if isinstance(value, type) else "object"
    for attr, inner in _attributes(value):
        path = f"{prefix}.{attr}"
        nested = _is_projects(inner, projects) and not isinstance(inner, type)
        yield path, _seen(inner, projects, owner)
        if nested and level < OBJECT_DEPTH and id(inner) not in visited:
            visited.add(id(inner))
            yield from _object_paths(path, inner, projects, level + 1, visited)


def callables(
    modules: Mapping[str, types.ModuleType], known: Mapping[str, Mapping[str, Seen]] | None = None
) -> dict[str, dict[str, Seen]]:
    """Per loaded module outside the project and pytest's machinery, the identity of each
    function and class it defines (a test that replaces one and never puts it back leaks);
    with ``known``, of the same attributes as then, whatever they hold now."""
    out: dict[str, dict[str, Seen]] = {}
    for name, module in modules.items():
        if name.split(".", 1)[0] in MACHINERY or name == "__main__":
            continue
        values = {}
        attributes = _attributes(module)
        if known is not None:
            wanted = known.get(name, {})
            attributes = [(a, v) for a, v in attributes if a in wanted]
        for attr, value in attributes:
            defined = getattr(value, "__module__", None) == name
            if known is not None or (defined and isinstance(value, DEFINED)):
                values[attr] = Seen(_reference(value), id(value), None, shown(value), None, OWNER)
        if values:
            out[name] = values
    return out


def change_of(before: Seen, after: Seen | None) -> str | None:
    """How a path changed: ``removed``, ``rebound`` (another object), ``shallow`` (a container
    gained, lost or swapped members), ``deep`` (a member it kept changed inside), or None."""
    if after is None:
        return "removed"
    if after.print == before.print:
        return None
    if after.ident != before.ident:
        return "rebound"
    if before.members is None or after.members is None:
        return "deep"
    for key, (ident, print_) in before.members.items():
        now = after.members.get(key)
        if now is not None and now[0] == ident and now[1] != print_:
            return "deep"
    return "shallow"


def container_of(value: Any) -> str | None:
    """The kind of container a fix can restore in place, if it is one."""
    for kind in (dict, list, set, deque):
        if isinstance(value, kind):
            return kind.__name__
    return None


def project_modules(root: str) -> tuple[dict[str, types.ModuleType], dict[str, str]]:
    """The loaded modules whose files are in the project (not in a virtual environment), and
    their files relative to ``root``."""
    modules, files = {}, {}
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if not file or name == "__main__":
            continue
        where = str(Path(file).resolve())
        if where.startswith(root) and "site-packages" not in where:
            relative = os.path.relpath(where, root)
            if not relative.startswith((".venv", "venv")):
                modules[name] = module
                files[name] = Path(relative).as_posix()
    return modules, files


def is_own_generator(value: Any) -> TypeGuard[random.Random]:
    """A ``random.Random`` of the project's (not ``random``'s global one, not the system's)."""
    return (
        isinstance(value, random.Random)
        and not isinstance(value, random.SystemRandom)
        and value is not getattr(random, "_inst", None)
    )


def generators(root: str) -> dict[str, random.Random]:
    """The project's own random generators: module-level ones and those one attribute into
    the project's classes and objects, by ``module:path``."""
    modules, _ = project_modules(root)
    projects = frozenset(modules)
    found: dict[str, random.Random] = {}
    for name, module in modules.items():
        for attr, value in _attributes(module):
            if is_own_generator(value):
                found.setdefault(f"{name}:{attr}", value)
            elif _is_projects(value, projects):
                for inner_attr, inner in _attributes(value):
                    if is_own_generator(inner):
                        found.setdefault(f"{name}:{attr}.{inner_attr}", inner)
    return found


def generator_paths(used: Mapping[int, random.Random], root: Path) -> list[str]:
    """Where the project keeps the generators a test drew from (``module:path``)."""
    return sorted(path for path, g in generators(str(root.resolve())).items() if id(g) in used)


def seed_generators(root: Path, seed: int) -> None:
    """Seed every one of the project's own random generators."""
    for generator in generators(str(root.resolve())).values():
        generator.seed(seed)
