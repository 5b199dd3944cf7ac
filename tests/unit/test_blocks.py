from __future__ import annotations

import textwrap

from greenline.tracing.blocks import MODULE_BLOCK, read_file_blocks

SOURCE = textwrap.dedent(
    '''
    """A module."""
    import functools

    LIMIT = 10


    def plain(x):
        return x + 1


    @functools.lru_cache
    def decorated(x):
        def inner(y):
            return y * 2
        return inner(x)


    class Box:
        size = 3

        def grow(self, n):
            return self.size + n

        async def wait(self):
            return [i for i in range(3)]
    '''
)


def checksums(source: str) -> dict[str, str]:
    return {b.name: b.checksum for b in read_file_blocks(source, "m.py").blocks}


def test_blocks_are_module_and_outermost_functions() -> None:
    assert set(checksums(SOURCE)) == {MODULE_BLOCK, "plain", "decorated", "Box.grow", "Box.wait"}


def test_comments_and_formatting_do_not_change_checksums() -> None:
    reformatted = SOURCE.replace("return x + 1", "return (x  +  1)  # add one").replace(
        "LIMIT = 10", "# the limit\nLIMIT   = 10\n\n"
    )
    assert checksums(reformatted) == checksums(SOURCE)


def test_a_body_change_changes_only_its_block() -> None:
    before = checksums(SOURCE)
    after = checksums(SOURCE.replace("return self.size + n", "return self.size - n"))
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"Box.grow"}


def test_nested_function_belongs_to_its_outer_function() -> None:
    before = checksums(SOURCE)
    after = checksums(SOURCE.replace("return y * 2", "return y * 3"))
    assert {n for n in before if before[n] != after[n]} == {"decorated"}


def test_module_level_code_is_its_own_block() -> None:
    for edit in [
        ("LIMIT = 10", "LIMIT = 11"),
        ("size = 3", "size = 4"),
        ("@functools.lru_cache\n", ""),
        ("def plain(x):", "def plain(x, y=1):"),
    ]:
        before = checksums(SOURCE)
        after = checksums(SOURCE.replace(*edit))
        assert before[MODULE_BLOCK] != after[MODULE_BLOCK], edit


def test_block_at_maps_code_first_lines() -> None:
    blocks = read_file_blocks(SOURCE, "m.py")
    lines = SOURCE.splitlines()

    def line_of(text: str) -> int:
        return next(i for i, line in enumerate(lines, start=1) if text in line)

    assert blocks.block_at(line_of("def plain")).name == "plain"
    # A decorated function's code object starts at its first decorator.
    assert blocks.block_at(line_of("@functools.lru_cache")).name == "decorated"
    assert blocks.block_at(line_of("def inner")).name == "decorated"
    assert blocks.block_at(line_of("return [i for i")).name == "Box.wait"
    assert blocks.block_at(line_of("class Box")).name == MODULE_BLOCK
    assert blocks.block_at(1).name == MODULE_BLOCK


def test_paths_are_kept() -> None:
    blocks = read_file_blocks("def f():\n    pass\n", "pkg/mod.py")
    assert {b.path for b in blocks.blocks} == {"pkg/mod.py"}
