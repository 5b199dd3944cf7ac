"""A static import graph of the project, from source text (no code runs).

Used for changed files that no recorded test ran: the tests whose files import them, directly or
through other project modules, are the ones they can affect. Each file is known by every dotted
name it could be imported as (``src/shop/money.py``: ``src.shop.money``, ``shop.money``,
``money``), so src layouts and test-folder imports resolve without knowing ``sys.path``.
Ambiguous names resolve to every candidate: over-selecting is safe, missing a test is not.
"""

from __future__ import annotations

import ast
from collections import defaultdict, deque
from collections.abc import Mapping


def dotted_names(path: str) -> list[str]:
    """Every name the file at ``path`` could be imported as, longest first."""
    parts = path.removesuffix(".py").split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return [".".join(parts[i:]) for i in range(len(parts)) if parts[i:]]


def _package_of(path: str) -> list[str]:
    parts = path.removesuffix(".py").split("/")
    return parts[:-1]


def imported_names(source: str, path: str) -> set[str]:
    """Dotted names the file imports (each with its parents, which Python imports too)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = _package_of(path)[: len(_package_of(path)) - (node.level - 1)]
                base = ".".join([*package, base] if base else package)
            if base:
                names.add(base)
            names.update(f"{base}.{alias.name}" if base else alias.name for alias in node.names)
    expanded = set(names)
    for name in names:
        pieces = name.split(".")
        expanded.update(".".join(pieces[:i]) for i in range(1, len(pieces)))
    return expanded


class ImportGraph:
    """Which project files import which, and the reverse."""

    def __init__(self, sources: Mapping[str, str]) -> None:
        by_name: dict[str, set[str]] = defaultdict(set)
        for path in sources:
            for name in dotted_names(path):
                by_name[name].add(path)
        self.importers: dict[str, set[str]] = defaultdict(set)
        for path, source in sources.items():
            for name in imported_names(source, path):
                for target in by_name.get(name, ()):
                    if target != path:
                        self.importers[target].add(path)

    def reached_from(self, path: str) -> dict[str, str]:
        """Every file that imports ``path`` directly or transitively, mapped to the file it
        imports on the way (``path`` itself for a direct import)."""
        via: dict[str, str] = {}
        queue = deque([path])
        while queue:
            current = queue.popleft()
            for importer in sorted(self.importers.get(current, ())):
                if importer not in via and importer != path:
                    via[importer] = current
                    queue.append(importer)
        return via
