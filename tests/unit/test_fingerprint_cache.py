from __future__ import annotations

import json
from pathlib import Path

import pytest

from greenline.tracing import blocks as blocks_module
from greenline.tracing import collector as collector_module
from greenline.tracing.blocks import read_file_blocks
from greenline.tracing.cache import FingerprintCache, digest_of
from greenline.tracing.collector import BlockMapper

SOURCE = (
    "import os\n\n\ndef f(x):\n    return x + 1\n\n\nclass C:\n    def m(self):\n        return 2\n"
)


def test_round_trip_through_the_file(tmp_path: Path) -> None:
    blocks = read_file_blocks(SOURCE, "pkg/mod.py")
    digest = digest_of(SOURCE.encode())
    cache = FingerprintCache(tmp_path)
    cache.put("pkg/mod.py", digest, blocks)
    cache.save()
    again = FingerprintCache(tmp_path)
    assert again.get("pkg/mod.py", digest) == blocks
    assert again.get("pkg/mod.py", digest_of(b"other content")) is None
    assert again.get("pkg/other.py", digest) is None


def test_a_corrupt_cache_is_ignored(tmp_path: Path) -> None:
    cache = FingerprintCache(tmp_path)
    cache.file.write_text("{not json")
    assert cache.get("a.py", "x") is None
    cache.file.write_text(json.dumps({"a.py": {"digest": "x", "spans": "nonsense"}}))
    assert FingerprintCache(tmp_path).get("a.py", "x") is None


def test_concurrent_writers_merge(tmp_path: Path) -> None:
    first, second = FingerprintCache(tmp_path), FingerprintCache(tmp_path)
    a = read_file_blocks("def a():\n    pass\n", "a.py")
    b = read_file_blocks("def b():\n    pass\n", "b.py")
    first.put("a.py", "da", a)
    second.put("b.py", "db", b)
    first.save()
    second.save()
    merged = FingerprintCache(tmp_path)
    assert merged.get("a.py", "da") == a
    assert merged.get("b.py", "db") == b


def test_the_mapper_parses_an_unchanged_file_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mod.py").write_text(SOURCE)
    parsed: list[str] = []
    real = blocks_module.read_file_blocks

    def counting(text: str, path: str, **kwargs):  # type: ignore[no-untyped-def]
        parsed.append(path)
        return real(text, path, **kwargs)

    monkeypatch.setattr(collector_module, "read_file_blocks", counting)

    def names(cache_dir: Path) -> set[str]:
        mapper = BlockMapper(tmp_path, FingerprintCache(cache_dir))
        try:
            return {b.name for b in mapper.blocks_of([("mod.py", 4)])}
        finally:
            mapper.close()

    assert names(tmp_path / "cache") == {"f", "<module>"}
    assert names(tmp_path / "cache") == {"f", "<module>"}
    assert parsed == ["mod.py"], "the second mapper read the fingerprints from the cache"
    (tmp_path / "mod.py").write_text(SOURCE.replace("x + 1", "x + 2"))
    assert names(tmp_path / "cache") == {"f", "<module>"}
    assert parsed == ["mod.py", "mod.py"], "a changed file is parsed again"


def test_sites_outside_known_files_are_dropped(tmp_path: Path) -> None:
    mapper = BlockMapper(tmp_path)
    (tmp_path / "broken.py").write_text("def (:\n")
    assert mapper.blocks_of([("missing.py", 1), ("broken.py", 1)]) == frozenset()


BRANCHY = "def f(x):\n    if x:\n        return 1\n    return 2\n"


def test_function_granularity_entries_are_read_again_for_branches(tmp_path: Path) -> None:
    (tmp_path / "mod.py").write_text(BRANCHY)
    cache_dir = tmp_path / "cache"
    for granularity in ("function", "branch", "function"):
        mapper = BlockMapper(tmp_path, FingerprintCache(cache_dir), granularity)
        try:
            names = {b.name for b in mapper.blocks_of([("mod.py", 3)])}
        finally:
            mapper.close()
        assert names == (
            {"<module>", "f", "f#if1"} if granularity == "branch" else {"<module>", "f"}
        )


def test_branch_sites_map_to_regions_and_links_to_functions(tmp_path: Path) -> None:
    (tmp_path / "mod.py").write_text(BRANCHY)
    mapper = BlockMapper(tmp_path, granularity="branch")
    assert {b.name for b in mapper.blocks_of([("mod.py", 1), ("mod.py", 4)])} == {"<module>", "f"}
    assert {b.name for b in mapper.blocks_of([("mod.py", 3)])} == {"<module>", "f", "f#if1"}
    function = {b.name: b.checksum for b in mapper.blocks_of([("mod.py", -1)])}
    root = {b.name: b.checksum for b in mapper.blocks_of([("mod.py", 1)])}
    assert function["f"] != root["f"], "a whole-function link is the function's own block"
    at_function = BlockMapper(tmp_path)
    assert at_function.blocks_of([("mod.py", 3)]) == at_function.blocks_of([("mod.py", -1)])
