"""Per-test coverage by function or by branch: which source blocks each test ran, and their
checksums."""

from __future__ import annotations

from greenline.tracing.blocks import MODULE_BLOCK, FileBlocks, read_file_blocks
from greenline.tracing.collector import BlockMapper, CodeSite, CoverageCollector

__all__ = [
    "MODULE_BLOCK",
    "BlockMapper",
    "CodeSite",
    "CoverageCollector",
    "FileBlocks",
    "read_file_blocks",
]
