"""Per-test coverage in two halves: where tests run, the code each test ran (as the file and first
line of each code object, which is cheap); where results are stored, those turned into source
blocks with their fingerprints (which means parsing files)."""

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

#: A code object's place: the file (relative to the repository root) and its first line.
CodeSite = tuple[str, int]


class CoverageCollector:
    """Tracks one test at a time; ``end_test`` returns the sites of the code it ran."""

    def __init__(
        self, root: Path, exclude: tuple[str, ...] = (), tracer_name: str | None = None
    ) -> None:
        self._prefixes = tuple({str(root) + os.sep, str(root.resolve()) + os.sep})
        self.exclude = exclude
        self.tracer: Tracer = make_tracer(self._prefixes, FOREIGN_FRAGMENTS, tracer_name)
        # id(code) -> (code, site): holding the code keeps its id from being reused.
        self._sites: dict[int, tuple[CodeType, CodeSite | None]] = {}

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
        sites = (self.site_of(code) for code in self.tracer.take())
        return [site for site in sites if site is not None]

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
    code (imports, class bodies, defaults) shaped what the test saw.
    """

    def __init__(self, root: Path, cache: FingerprintCache | None = None) -> None:
        self.root = root
        self.cache = cache
        self._files: dict[str, FileBlocks | None] = {}

    def blocks_of(
        self, sites: Iterable[CodeSite], *, with_modules: bool = True
    ) -> frozenset[Block]:
        """The blocks the sites start in, and (``with_modules``) their files' module blocks."""
        blocks: set[Block] = set()
        for path, line in sites:
            file_blocks = self.file_blocks(path)
            if file_blocks is not None:
                blocks.add(file_blocks.block_at(line))
                if with_modules:
                    blocks.add(file_blocks.module)
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
        cached = self.cache.get(relative, digest) if self.cache is not None else None
        if cached is not None:
            return cached
        try:
            blocks = read_file_blocks(data.decode("utf-8"), relative)
        except (SyntaxError, ValueError, UnicodeDecodeError):
            return None
        if self.cache is not None:
            self.cache.put(relative, digest, blocks)
        return blocks
