"""Branch-granularity fingerprints: regions of a function, their checksums and their lines."""

from __future__ import annotations

import textwrap

from greenline.tracing.blocks import MODULE_BLOCK, read_file_blocks

SOURCE = textwrap.dedent(
    '''
    import functools


    @functools.cache
    def classify(n, limit=10):
        """Say what n is."""
        if n < 0:
            kind = "negative"
        elif n == 0:
            kind = "zero"
        else:
            kind = "positive"
        for step in range(limit):
            if step > n:
                break
        else:
            kind += " and large"
        return kind


    def guarded(path):
        try:
            with open(path) as handle:
                text = handle.read()
        except OSError:
            text = ""
        except ValueError as exc:
            text = str(exc)
        else:
            text = text.strip()
        finally:
            path = None
        match text:
            case "":
                return None
            case str(word) if word.isupper():
                return word.lower()
        def helper(x):
            return x * 2
        return helper(text)


    def straight(x):
        return x + 1
    '''
)


def regions(source: str) -> dict[str, str]:
    return {b.name: b.checksum for b in read_file_blocks(source, "m.py", branches=True).regions}


def changed(before: str, after: str) -> set[str]:
    old, new = regions(before), regions(after)
    return {name for name in old.keys() | new.keys() if old.get(name) != new.get(name)}


def line_of(text: str, source: str = SOURCE) -> int:
    return next(i for i, line in enumerate(source.splitlines(), 1) if text in line)


def test_regions_are_named_by_their_path_from_the_function() -> None:
    assert set(regions(SOURCE)) == {
        "classify",
        "classify#if1",
        "classify#if1.else",
        "classify#if1.else.if1",
        "classify#if1.else.if1.else",
        "classify#for1",
        "classify#for1.if1",
        "classify#for1.else",
        "guarded",
        "guarded#try1",
        "guarded#try1.with1",
        "guarded#try1.except1",
        "guarded#try1.except2",
        "guarded#try1.else",
        "guarded#try1.finally",
        "guarded#match1.case1",
        "guarded#match1.case2",
        "straight",
    }


def test_a_function_without_branches_is_one_region_with_the_function_checksum() -> None:
    blocks = read_file_blocks(SOURCE, "m.py", branches=True)
    function = {b.name: b.checksum for b in blocks.blocks}
    assert regions(SOURCE)["straight"] == function["straight"]
    assert regions(SOURCE)["classify"] != function["classify"]


def test_regions_are_read_only_when_asked() -> None:
    assert read_file_blocks(SOURCE, "m.py").regions is None


def test_comments_and_formatting_change_no_region() -> None:
    reformatted = (
        SOURCE.replace('kind = "zero"', 'kind = (  "zero"  )  # nothing')
        .replace("if n < 0:", "if (n <\n            0):")
        .replace(
            "        else:\n            kind +=",
            "        # done\n        else:\n\n            kind +=",
        )
        .replace("text = text.strip()", "text = (text\n                .strip())")
    )
    assert reformatted != SOURCE
    assert changed(SOURCE, reformatted) == set()


def test_a_change_in_one_branch_changes_only_that_region() -> None:
    assert changed(SOURCE, SOURCE.replace('"zero"', '"nought"')) == {"classify#if1.else.if1"}
    assert changed(SOURCE, SOURCE.replace('text = ""', 'text = "-"')) == {"guarded#try1.except1"}
    assert changed(SOURCE, SOURCE.replace("path = None", "path = 0")) == {"guarded#try1.finally"}
    assert changed(SOURCE, SOURCE.replace("word.lower()", "word")) == {"guarded#match1.case2"}
    assert changed(SOURCE, SOURCE.replace("break", "continue")) == {"classify#for1.if1"}


def test_a_condition_change_changes_the_region_around_it() -> None:
    assert changed(SOURCE, SOURCE.replace("if n < 0:", "if n <= 0:")) == {"classify"}
    assert changed(SOURCE, SOURCE.replace("elif n == 0:", "elif n == 1:")) == {"classify#if1.else"}
    assert changed(SOURCE, SOURCE.replace("range(limit)", "range(limit + 1)")) == {"classify"}
    assert changed(SOURCE, SOURCE.replace("except OSError:", "except IOError:")) == {"guarded"}
    assert changed(SOURCE, SOURCE.replace("if word.isupper()", "if word")) == {"guarded"}
    assert changed(SOURCE, SOURCE.replace("open(path)", "open(path, 'rb')")) == {"guarded#try1"}


def test_signature_decorators_and_nested_functions_belong_to_the_root() -> None:
    assert changed(SOURCE, SOURCE.replace("limit=10", "limit=11")) == {"classify"}
    assert changed(SOURCE, SOURCE.replace("@functools.cache\n", "")) == {"classify"}
    assert changed(SOURCE, SOURCE.replace("return x * 2", "return x * 3")) == {"guarded"}


def test_an_added_elif_changes_the_else_it_goes_into() -> None:
    before = textwrap.dedent(
        """
        def sign(n):
            if n < 0:
                return -1
            else:
                return 1
        """
    )
    after = before.replace("    else:", "    elif n == 0:\n        return 0\n    else:")
    assert changed(before, after) == {
        "sign#if1.else",
        "sign#if1.else.if1",
        "sign#if1.else.if1.else",
    }
    # a test that took the first branch still sees the same code; one that reached the else
    # recorded sign#if1.else, whose checksum changed


def test_an_added_or_removed_branch_changes_its_parent() -> None:
    before = "def f(n):\n    if n:\n        n += 1\n    return n\n"
    with_else = "def f(n):\n    if n:\n        n += 1\n    else:\n        n = 0\n    return n\n"
    assert changed(before, with_else) == {"f", "f#if1.else"}
    assert changed(with_else, before) == {"f", "f#if1.else"}


def test_a_region_checksum_never_equals_a_different_function_checksum() -> None:
    old = read_file_blocks("def f(n):\n    if n:\n        pass\n", "m.py")
    new = read_file_blocks("def f(n):\n    if n:\n        n.run()\n", "m.py", branches=True)
    assert old.blocks[1].checksum not in {b.checksum for b in new.regions or ()}


def test_lines_map_to_the_regions_running_them_entered() -> None:
    blocks = read_file_blocks(SOURCE, "m.py", branches=True)

    def names(text: str) -> set[str]:
        return {b.name for b in blocks.regions_at(line_of(text))}

    assert names('kind = "zero"') == {"classify", "classify#if1.else", "classify#if1.else.if1"}
    assert names("elif n == 0:") == {"classify", "classify#if1.else"}
    assert names("if n < 0:") == {"classify"}, "a test belongs to the region around it"
    assert names("@functools.cache") == {"classify"}, "where the function's code starts"
    assert names("text = handle.read()") == {"guarded", "guarded#try1", "guarded#try1.with1"}
    assert names("except ValueError") == {"guarded"}
    assert names('case "":') == {"guarded"}
    assert names("return None") == {"guarded", "guarded#match1.case1"}
    assert names("def helper") == {"guarded"}, "a nested function is its definer's"
    assert names("return x * 2") == {"guarded"}
    assert names("import functools") == {MODULE_BLOCK}


def test_a_body_on_the_header_line_counts_for_both() -> None:
    blocks = read_file_blocks("def f(n):\n    if n: n += 1\n    return n\n", "m.py", branches=True)
    assert {b.name for b in blocks.regions_at(2)} == {"f", "f#if1"}


def test_a_body_that_runs_no_code_stays_in_its_parent() -> None:
    source = "def f(n):\n    if n:\n        global G\n    return n\n"
    assert set(regions(source)) == {"f"}, "no line event would show a test entered it"
    assert changed(source, source.replace("global G", "G = 1")) == {"f", "f#if1"}
