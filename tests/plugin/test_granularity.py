"""Branch granularity on real pytest runs: a change in a branch a test never entered does not
select it; a baseline recorded at function granularity is still judged as before."""

from __future__ import annotations

import sys

import pytest

from greenline.tracing.blocks import read_file_blocks
from tests.conftest import git, init_repo
from tests.plugin.conftest import coverage_of

SIGN = """
def sign(n):
    if n < 0:
        word = "negative"
    else:
        word = "positive"
    return word
"""
TESTS = """
import app

def test_negative():
    assert app.sign(-1) == "negative"

def test_positive():
    assert app.sign(1) == "positive"
"""
RECORD = ("--greenline-record", "-p", "no:cacheprovider")
BRANCH = "--greenline-granularity=branch"


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(app=SIGN, test_app=TESTS)
    pytester.makeini("[pytest]\npythonpath = .\n")
    (pytester.path / ".gitignore").write_text("__pycache__/\n")
    init_repo(pytester.path)
    return pytester


def record(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    result = project.runpytest_subprocess(*RECORD, *args)
    result.assert_outcomes(passed=2)
    return result


def edit(project: pytest.Pytester, old: str, new: str) -> None:
    file = project.path / "app.py"
    assert old in file.read_text()
    file.write_text(file.read_text().replace(old, new))


def select(project: pytest.Pytester, *args: str) -> list[str]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("COLUMNS", "200")
        result = project.run(sys.executable, "-m", "greenline", "select", *args)
    assert result.ret == 0, result.stderr.str()
    return result.stdout.lines


def selected(project: pytest.Pytester) -> list[str]:
    """The selected test ids, sorted (selection orders them by likelihood and duration)."""
    return sorted(select(project, "-f", "ids"))


def test_a_change_in_one_branch_selects_only_the_test_that_entered_it(
    project: pytest.Pytester,
) -> None:
    result = record(project, BRANCH)
    result.stdout.fnmatch_lines(["greenline: recording into * (tracer: *, granularity: branch)"])
    edit(project, 'word = "positive"', 'word = "positive"  # not zero\n        word = word')
    assert selected(project) == ["test_app.py::test_positive"]
    explained = select(project, "--explain")
    assert any("changed-block: app.py::sign#if1.else" in line for line in explained)
    git(project.path, "checkout", "-q", "app.py")
    edit(project, 'word = "negative"', 'word = "minus"')
    assert selected(project) == ["test_app.py::test_negative"]


def test_the_same_change_at_function_granularity_selects_both(project: pytest.Pytester) -> None:
    record(project)
    edit(project, 'word = "positive"', 'word = "plus"')
    # the baseline is judged at the granularity it was recorded at, whatever the setting now
    (project.path / "pyproject.toml").write_text('[tool.greenline]\ngranularity = "branch"\n')
    assert selected(project) == ["test_app.py::test_negative", "test_app.py::test_positive"]


def test_a_condition_or_the_code_around_the_branches_selects_every_test_through_it(
    project: pytest.Pytester,
) -> None:
    record(project, BRANCH)
    for old, new in [("if n < 0:", "if n <= 0:"), ("return word", "return word.upper()")]:
        edit(project, old, new)
        assert selected(project) == [
            "test_app.py::test_negative",
            "test_app.py::test_positive",
        ], old
        git(project.path, "checkout", "-q", "app.py")


def test_a_new_elif_selects_the_tests_that_reached_where_it_goes(
    project: pytest.Pytester,
) -> None:
    record(project, BRANCH)
    edit(project, "    else:", '    elif n == 0:\n        word = "zero"\n    else:')
    # test_negative took the first branch and never evaluates the new condition
    assert selected(project) == ["test_app.py::test_positive"]


def test_granularity_from_the_project_settings(project: pytest.Pytester) -> None:
    (project.path / "pyproject.toml").write_text('[tool.greenline]\ngranularity = "branch"\n')
    git(project.path, "add", "-A")
    git(project.path, "commit", "-q", "-m", "branch granularity")
    record(project)
    names = {b.name for tc in coverage_of(project.path, 1).values() for b in tc.blocks}
    assert {"sign", "sign#if1", "sign#if1.else"} <= names
    bad = project.runpytest_subprocess(*RECORD, "--greenline-granularity=line")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR


def test_a_fixture_of_wider_scope_ties_every_test_using_it_to_its_whole_function(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        test_table="""
        import pytest

        @pytest.fixture(scope="module")
        def table():
            if len("abc") == 3:
                return [3]
            return []

        def test_first(table):
            assert table == [3]

        def test_second(table):
            assert table == [3]
        """
    )
    git(project.path, "add", "-A")
    git(project.path, "commit", "-q", "-m", "a fixture")
    project.runpytest_subprocess(*RECORD, BRANCH, "test_table.py").assert_outcomes(passed=2)
    coverage = coverage_of(project.path, 1)
    first = {(b.name, b.checksum) for b in coverage["test_table.py::test_first"].blocks}
    second = {(b.name, b.checksum) for b in coverage["test_table.py::test_second"].blocks}
    source = (project.path / "test_table.py").read_text()
    whole = next(b for b in read_file_blocks(source, "test_table.py").blocks if b.name == "table")
    assert {"table#if1", "table"} <= {name for name, _ in first}
    assert {block for block in second if block[0].startswith("table")} == {
        ("table", whole.checksum)
    }
    tests = project.path / "test_table.py"
    tests.write_text(tests.read_text().replace("return [3]", "return [3, 3]"))
    # test_second did not set the fixture up (test_first did) but uses what it made
    assert selected(project) == [
        "test_table.py::test_first",
        "test_table.py::test_second",
    ]


def test_every_tracer_gives_the_same_branches(project: pytest.Pytester) -> None:
    tracers = ["python-profile", "c-profile"] + (
        ["sys.monitoring"] if sys.version_info >= (3, 12) else []
    )
    seen = []
    for run_id, tracer in enumerate(tracers, 1):
        record(project, BRANCH, f"--greenline-tracer={tracer}")
        seen.append({t: tc.blocks for t, tc in coverage_of(project.path, run_id).items()})
    assert all(s == seen[0] for s in seen)
    assert {b.name for b in seen[0]["test_app.py::test_positive"]} == {
        "<module>",
        "sign",
        "sign#if1.else",
        "test_positive",
    }


def test_beside_another_trace_function(project: pytest.Pytester) -> None:
    project.makeconftest("import sys\n\nsys.settrace(lambda frame, event, arg: None)\n")
    result = record(project, BRANCH)
    names = {b.name for tc in coverage_of(project.path, 1).values() for b in tc.blocks}
    if sys.version_info >= (3, 12):  # sys.monitoring shares the interpreter
        assert "sign#if1" in names
        return
    result.stdout.fnmatch_lines(
        ["greenline: recording at function granularity, not branch: *another trace function*"]
    )
    assert not any("#" in name for name in names)
