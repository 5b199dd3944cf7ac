"""A cache of file fingerprints between runs, keyed by file content and Python version.

Parsing a file is most of what recording costs beyond tracing; an unchanged file (same bytes,
same Python, whose AST may differ between versions) is never parsed twice. The cache is one JSON
file; concurrent writers (xdist workers) merge what is on disk before replacing it atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from greenline.tracing.blocks import FileBlocks


def digest_of(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


class FingerprintCache:
    """path -> (content digest, FileBlocks), loaded on first use and saved by ``save()``."""

    def __init__(self, folder: Path) -> None:
        tag = f"{sys.implementation.name}-{sys.version_info[0]}.{sys.version_info[1]}"
        self.file = folder / f"fingerprints-{tag}.json"
        self._entries: dict[str, Any] | None = None
        self._dirty = False

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    @property
    def entries(self) -> dict[str, Any]:
        if self._entries is None:
            self._entries = self._load()
        return self._entries

    def get(self, path: str, digest: str, *, branches: bool = False) -> FileBlocks | None:
        """The file's blocks if cached for this content (and with its regions, if asked)."""
        entry = self.entries.get(path)
        if not isinstance(entry, dict) or entry.get("digest") != digest:
            return None
        if branches and "regions" not in entry:
            return None
        try:
            return FileBlocks.from_json(path, entry)
        except (KeyError, TypeError, ValueError):
            return None

    def put(self, path: str, digest: str, blocks: FileBlocks) -> None:
        self.entries[path] = {"digest": digest, **blocks.to_json()}
        self._dirty = True

    def save(self) -> None:
        """Merge with what other processes saved meanwhile, then replace the file atomically."""
        if not self._dirty:
            return
        merged = {**self._load(), **self.entries}
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.file.parent, prefix=".fingerprints-")
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(merged, out, separators=(",", ":"))
            Path(tmp).replace(self.file)
        except OSError:
            return  # a cache that cannot be written costs time, never correctness
        self._dirty = False
