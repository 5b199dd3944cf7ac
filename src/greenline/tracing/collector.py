"""Turns the code objects a test ran into the source blocks of the repository it touched."""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path
from types import CodeType

from greenline.model import Block
from greenline.tracing.blocks import FileBlocks, read_file_blocks
from greenline.tracing.cache import FingerprintCache, digest_of
from greenline.tracing.tracers import FOREIGN_FRAGMENTS, Tracer, make_tracer


class CoverageCollector:
    """Tracks one test at a time; ``end_test`` returns the blocks it executed.

    Every file a test ran code in also contributes its module block, since the module's own
    code (imports, class bodies, defaults) shaped what the test saw.
    """

    def __init__(
        self,
        root: Path,
        exclude: tuple[str, ...] = (),
        tracer_name: str | None = None,
        cache: FingerprintCache | None = None,
    ) -> None:
        self.cache = cache
        self._prefixes = tuple({str(root) + os.sep, str(root.resolve()) + os.sep})
        self.exclude = exclude
        self.tracer: Tracer = make_tracer(self._prefixes, FOREIGN_FRAGMENTS, tracer_name)
        self._files: dict[str, FileBlocks | None] = {}
        # id(code) -> (code, block): holding the code keeps its id from being reused.
        self._codes: dict[int, tuple[CodeType, Block | None]] = {}

    def begin_test(self) -> None:
        """Forget what ran before and start tracing a new test."""
        self.tracer.begin()

    def pause(self) -> None:
        self.tracer.pause()

    def resume(self) -> None:
        self.tracer.resume()

    def close(self) -> None:
        self.tracer.close()
        if self.cache is not None:
            self.cache.save()

    def end_test(self) -> frozenset[Block]:
        """Return the blocks the test ran (tracing is paused: mapping runs at full speed)."""
        self.tracer.pause()
        codes = self.tracer.take()
        blocks: set[Block] = set()
        for code in codes:
            block = self._block_of(code)
            if block is not None:
                blocks.add(block)
        for path in {b.path for b in blocks}:
            file_blocks = self._files.get(path)
            if file_blocks is not None:
                blocks.add(file_blocks.module)
        return frozenset(blocks)

    def _block_of(self, code: CodeType) -> Block | None:
        cached = self._codes.get(id(code))
        if cached is not None:
            return cached[1]
        file_blocks = self._file_blocks(code.co_filename)
        block = file_blocks.block_at(code.co_firstlineno) if file_blocks else None
        self._codes[id(code)] = (code, block)
        return block

    def _file_blocks(self, filename: str) -> FileBlocks | None:
        relative = self._relative(filename)
        if relative is None:
            return None
        if relative not in self._files:
            self._files[relative] = self._read(filename, relative)
        return self._files[relative]

    def _relative(self, filename: str) -> str | None:
        prefix = next((p for p in self._prefixes if filename.startswith(p)), None)
        if prefix is None or not filename.endswith(".py"):
            return None
        relative = filename[len(prefix) :].replace(os.sep, "/")
        if any(fnmatch.fnmatch(relative, pattern) for pattern in self.exclude):
            return None
        return relative

    def _read(self, filename: str, relative: str) -> FileBlocks | None:
        try:
            data = Path(filename).read_bytes()
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
