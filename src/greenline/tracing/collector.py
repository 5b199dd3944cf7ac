"""Per-test coverage in two halves: where tests run, the code each test ran (as the file and first
line of each code object, which is cheap, and at branch granularity the lines it ran); where
results are stored, those turned into source blocks with their fingerprints (which means parsing
files)."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable
from pathlib import Path
from types import CodeType

from greenline.model import Block
from greenline.tracing.blocks import FileBlocks, read_file_blocks
from greenline.tracing.cache import FingerprintCache, digest_of
from greenline.tracing.tracers import FOREIGN_FRAGMENTS, Tracer, make_tracer

#: A place in the repository's code: a file (relative to the repository root) and a line. A
#: positive line is one that ran, or where a code object that ran starts (branch granularity:
#: it maps to the regions running it entered); a negative line stands for the whole function
#: whose code starts at the opposite line (function granularity, or a fixture of wider scope,
#: set up for an earlier test, that a test uses). Each site says what it means, so sites from
#: processes recording at different granularities (an xdist worker that fell back) mix safely.
CodeSite = tuple[str, int]


class CoverageCollector:
    """Tracks one test at a time; ``end_test`` returns the sites of the code it ran.

    At branch granularity the tracer follows lines too; where no tracer can (another trace
    hook is installed on 3.11), the collector records at function granularity and ``fallback``
    says why."""

    def __init__(
        self,
        root: Path,
        exclude: tuple[str, ...] = (),
        tracer_name: str | None = None,
        granularity: str = "function",
    ) -> None:
        self._prefixes = tuple({str(root) + os.sep, str(root.resolve()) + os.sep})
        self.exclude = exclude
        self.granularity = granularity
        self.fallback: str | None = None
        self._tracer_name = tracer_name
        self.tracer: Tracer = self._make_tracer(tracer_name)
        # id(code) -> (code, site): holding the code keeps its id from being reused.
        self._sites: dict[int, tuple[CodeType, CodeSite | None]] = {}

    def fall_back_if_displaced(self) -> bool:
        """At branch granularity on 3.11, a trace function installed after tracing started
        (a conftest's ``sys.settrace``) keeps the hook: recording goes on at function
        granularity with a profile hook beside it. Whether it fell back."""
        if self.granularity != "branch" or not getattr(self.tracer, "displaced", False):
            return False
        self.granularity = "function"
        self.fallback = (
            "recording at function granularity, not branch: another trace function was "
            "installed after recording started (coverage.py, a debugger or a conftest.py)"
        )
        self.tracer = make_tracer(self._prefixes, FOREIGN_FRAGMENTS, self._tracer_name)
        self._sites.clear()
        return True

    def _make_tracer(self, tracer_name: str | None) -> Tracer:
        if self.granularity == "branch":
            try:
                return make_tracer(self._prefixes, FOREIGN_FRAGMENTS, tracer_name, lines=True)
            except RuntimeError as exc:
                self.granularity = "function"
                self.fallback = f"recording at function granularity, not branch: {exc}"
        return make_tracer(self._prefixes, FOREIGN_FRAGMENTS, tracer_name)

    def begin_test(self) -> None:
        """Forget what ran before and start tracing a new test."""
        self.tracer.begin()

    def pause(self) -> None:
        self.tracer.pause()

    def resume(self) -> None:
        self.tracer.resume()

    def end_test(self) -> list[CodeSite]:
        """The sites of the code the test ran (tracing is paused first)."""
        self.tracer.pause()
        if self.granularity != "branch":
            links = (self.link_of(code) for code in self.tracer.take())
            return [site for site in links if site is not None]
        sites = [self.site_of(code) for code in self.tracer.take()]
        found = [site for site in sites if site is not None]
        for code, lines in self.tracer.take_lines().items():
            site = self.site_of(code)
            if site is not None:
                found += ((site[0], line) for line in lines)
        return found

    def link_of(self, code: CodeType) -> CodeSite | None:
        """The site that ties a test to the whole function of ``code`` (see CodeSite)."""
        site = self.site_of(code)
        return (site[0], -site[1]) if site is not None else None

    def close(self) -> None:
        self.tracer.close()

    def site_of(self, code: CodeType) -> CodeSite | None:
        """Where ``code`` starts in the repository, or None for code outside it."""
        cached = self._sites.get(id(code))
        if cached is None:
            relative = self._relative(code.co_filename)
            # a module's own code is its module block, even when a function starts on line 1
            line = 0 if code.co_name == "<module>" else code.co_firstlineno
            site = (relative, line) if relative is not None else None
            cached = self._sites[id(code)] = (code, site)
        return cached[1]

    def is_recorded(self, relative: str) -> bool:
        """Whether coverage in the project file at ``relative`` is kept (not excluded)."""
        return not any(fnmatch.fnmatch(relative, pattern) for pattern in self.exclude)

    def project_path(self, filename: str | None) -> str | None:
        """``filename`` relative to the repository, if it is one of the project's Python files
        (not installed code, not excluded)."""
        if not filename or any(f in filename for f in FOREIGN_FRAGMENTS):
            return None
        return self._relative(filename)

    def _relative(self, filename: str) -> str | None:
        prefix = next((p for p in self._prefixes if filename.startswith(p)), None)
        if prefix is None or not filename.endswith(".py"):
            return None
        relative = filename[len(prefix) :].replace(os.sep, "/")
        if any(fnmatch.fnmatch(relative, pattern) for pattern in self.exclude):
            return None
        return relative


class BlockMapper:
    """Maps code sites to the blocks of the repository's files, parsing each file once.

    Every file a test ran code in also contributes its module block, since the module's own
    code (imports, class bodies, defaults) shaped what the test saw. At branch granularity a
    site maps to the regions running its line entered; a whole-function site to the function.
    """

    def __init__(
        self, root: Path, cache: FingerprintCache | None = None, granularity: str = "function"
    ) -> None:
        self.root = root
        self.cache = cache
        self.branches = granularity == "branch"
        self._files: dict[str, FileBlocks | None] = {}

    def blocks_of(
        self, sites: Iterable[CodeSite], *, with_modules: bool = True
    ) -> frozenset[Block]:
        """The blocks the sites start in, and (``with_modules``) their files' module blocks."""
        blocks: set[Block] = set()
        for path, line in sites:
            file_blocks = self.file_blocks(path)
            if file_blocks is None:
                continue
            if with_modules:
                blocks.add(file_blocks.module)
            if line <= 0:  # a whole function, or (0) the module's own code
                blocks.add(file_blocks.block_at(-line))
            elif self.branches:
                blocks.update(file_blocks.regions_at(line))
            else:
                blocks.add(file_blocks.block_at(line))
        return frozenset(blocks)

    def file_blocks(self, path: str) -> FileBlocks | None:
        if path not in self._files:
            self._files[path] = self._read(path)
        return self._files[path]

    def close(self) -> None:
        if self.cache is not None:
            self.cache.save()

    def _read(self, relative: str) -> FileBlocks | None:
        try:
            data = (self.root / relative).read_bytes()
        except OSError:
            return None
        digest = digest_of(data) if self.cache is not None else ""
        cache = self.cache
        cached = cache.get(relative, digest, branches=self.branches) if cache is not None else None
        if cached is not None:
            return cached
        try:
            blocks = read_file_blocks(data.decode("utf-8"), relative, branches=self.branches)
        except (SyntaxError, ValueError, UnicodeDecodeError):
            return None
        if self.cache is not None:
            self.cache.put(relative, digest, blocks)
        return blocks
