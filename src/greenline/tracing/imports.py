"""What runs while the project's modules are imported, before the first test: per module.

A module that builds a registry, a table or a grammar when it is imported calls functions that no
test "runs"; the tests then depend on what was built. So while pytest loads conftest files and
collects, a finder first on ``sys.meta_path`` hands each project module's loader to a proxy whose
``exec_module`` marks where the module's body starts and ends. Code the tracer sees in between
belongs to that module (to the innermost one, when imports nest); code that ran outside any
project module's import (a collection hook, a parametrize id function) belongs to
``COLLECTION``, which selection cannot narrow down.

The proxy is in place only for the module's execution: afterwards the module's ``__loader__`` and
``__spec__.loader`` are the real loader again, so nothing the project inspects later differs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from importlib.machinery import ModuleSpec
from types import CodeType, ModuleType
from typing import Any

from greenline.tracing.tracers import Tracer

#: Where code that ran during collection outside any project module's import is filed.
COLLECTION = "<collection>"

CodeSite = tuple[str, int]


class _LoaderProxy:
    """The real loader, with ``exec_module`` bracketed by the recorder."""

    def __init__(self, loader: Any, recorder: ImportTimeRecorder, path: str) -> None:
        self._loader = loader
        self._recorder = recorder
        self._path = path

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module: ModuleType) -> None:
        spec = getattr(module, "__spec__", None)
        if spec is not None and spec.loader is self:
            spec.loader = self._loader
        if getattr(module, "__loader__", None) is self:
            module.__loader__ = self._loader
        self._recorder.enter(self._path)
        try:
            self._loader.exec_module(module)
        finally:
            self._recorder.leave(self._path)


class _Finder:
    """First on ``sys.meta_path``: asks the finders after it, and wraps the loader of what they
    find when it is one of the project's modules."""

    def __init__(self, recorder: ImportTimeRecorder) -> None:
        self._recorder = recorder
        self._busy = False

    def find_spec(
        self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if self._busy or not self._recorder.active:
            return None
        self._busy = True
        try:
            spec = self._find(name, path, target)
        finally:
            self._busy = False
        # What the finders after this one found is what they would find again: returned as is
        # (a module of the project with its loader wrapped), so nothing is looked up twice.
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        relative = self._recorder.project_path(spec.origin)
        if relative is None:
            return spec
        spec.loader = _LoaderProxy(spec.loader, self._recorder, relative)  # type: ignore[assignment]
        return spec

    def _find(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None
    ) -> ModuleSpec | None:
        for finder in list(sys.meta_path):
            if finder is self:
                continue
            find = getattr(finder, "find_spec", None)
            if find is None:
                continue
            spec: ModuleSpec | None = find(name, path, target)
            if spec is not None:
                return spec
        return None


class ImportTimeRecorder:
    """Files what ``tracer`` sees per project module imported, until ``stop``.

    ``project_path`` turns a file name into its path relative to the repository (None for code
    that is not the project's); the tracer must already filter to the project's files.
    """

    def __init__(
        self,
        tracer: Tracer,
        site_of: Callable[[CodeType], CodeSite | None],
        project_path: Callable[[str | None], str | None],
    ) -> None:
        self.tracer = tracer
        self.site_of = site_of
        self.project_path = project_path
        self.active = False
        self.sites: dict[str, set[CodeSite]] = {}
        #: project modules already imported when recording began: their import-time code is
        #: not known (selection treats a change there as it always has)
        self.preloaded: list[str] = []
        self._stack: list[str] = []
        self._finder = _Finder(self)

    def start(self) -> None:
        for module in list(sys.modules.values()):
            relative = self.project_path(getattr(module, "__file__", None))
            if relative is not None:
                self.preloaded.append(relative)
        self.active = True
        sys.meta_path.insert(0, self._finder)
        self.tracer.begin()

    def switch_tracer(self, tracer: Tracer) -> None:
        """Go on with ``tracer`` (the collector fell back to another): what the old one saw so
        far is filed first."""
        if self.active:
            self._checkpoint()
            self.tracer.pause()
        self.tracer = tracer
        if self.active:
            tracer.begin()

    def enter(self, path: str) -> None:
        if self.active:
            self._checkpoint()
        self._stack.append(path)

    def leave(self, path: str) -> None:
        if self.active:
            self._checkpoint()
        if self._stack and self._stack[-1] == path:
            self._stack.pop()

    def _checkpoint(self) -> None:
        """File what ran since the last mark under the module whose body is running."""
        owner = self._stack[-1] if self._stack else COLLECTION
        codes = self.tracer.take()
        self.tracer.begin()
        if codes:
            bucket = self.sites.setdefault(owner, set())
            for code in codes:
                site = self.site_of(code)
                if site is not None:
                    bucket.add(site)

    def stop(self) -> dict[str, list[list[Any]]]:
        """Stop (before the first test) and return the sites per module, JSON-ready."""
        if self.active:
            self._checkpoint()
            self.tracer.pause()
            self.active = False
        if self._finder in sys.meta_path:
            sys.meta_path.remove(self._finder)
        return {
            module: [list(site) for site in sorted(sites)]
            for module, sites in sorted(self.sites.items())
            if sites
        }
