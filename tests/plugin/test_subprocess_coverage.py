"""Coverage of Python subprocesses a test starts: recorded under that test, so a change to the
code the child ran selects it; a child that cannot be traced is named in the run's summary."""

from __future__ import annotations

import os
import sys

import pytest

from tests.conftest import init_repo
from tests.plugin.conftest import coverage_of

RECORD = ("--greenline-record", "-p", "no:cacheprovider")

CLI = """
import sys

from tool.core import shout


def main(argv):
    print(shout(argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
"""

CORE = """
def shout(text):
    return text.upper() + "!"


def whisper(text):
    return text.lower()
"""

WORKER = """
def square(n):
    return n * n
"""


@pytest.fixture
def tool(pytester: pytest.Pytester) -> pytest.Pytester:
    pkg = pytester.mkpydir("tool")
    (pkg / "__main__.py").write_text(CLI)
    (pkg / "core.py").write_text(CORE)
    (pkg / "work.py").write_text(WORKER)
    pytester.makepyfile(
        test_cli="""
        import os
        import subprocess
        import sys

        def test_cli_shouts():
            out = subprocess.run(
                [sys.executable, "-m", "tool", "hey"], capture_output=True, text=True, check=True
            )
            assert out.stdout.strip() == "HEY!"

        def test_isolated_child():
            out = subprocess.run(
                [sys.executable, "-I", "-c", "print(1)"], capture_output=True, text=True
            )
            assert out.stdout.strip() == "1"

        def test_in_process():
            from tool.core import whisper
            assert whisper("A") == "a"
        """,
        test_pool="""
        import multiprocessing

        from tool.work import square

        def test_spawned_pool():
            ctx = multiprocessing.get_context("spawn")
            with ctx.Pool(1) as pool:
                assert pool.map(square, [3]) == [9]
        """,
    )
    pytester.makeini("[pytest]\npythonpath = .\n")
    (pytester.path / ".gitignore").write_text("__pycache__/\n")
    init_repo(pytester.path)
    return pytester


def select_ids(project: pytest.Pytester) -> list[str]:
    result = project.run(sys.executable, "-m", "greenline", "select", "-f", "ids")
    assert result.ret == 0, result.stderr.str()
    return result.stdout.lines


def record(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    # the child must find the project's package the way the test process does
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PYTHONPATH", str(project.path))
        result = project.runpytest_subprocess(*RECORD, *args)
    result.assert_outcomes(passed=4)
    return result


def test_a_child_interpreters_coverage_belongs_to_its_test(tool: pytest.Pytester) -> None:
    result = record(tool)
    coverage = coverage_of(tool.path, 1)
    names = {b.name for b in coverage["test_cli.py::test_cli_shouts"].blocks}
    assert {"shout", "main"} <= names, "the child's code is the test's"
    assert "shout" not in {b.name for b in coverage["test_cli.py::test_in_process"].blocks}
    pool = {b.name for b in coverage["test_pool.py::test_spawned_pool"].blocks}
    assert "square" in pool, "a multiprocessing spawn worker is traced too"
    result.stdout.fnmatch_lines(
        ["greenline: 1 Python subprocesses not traced*test_cli.py::test_isolated_child ran*-I*"]
    )
    assert "GREENLINE_SUBPROCESS_DIR" not in os.environ


def test_a_change_to_code_only_a_child_ran_selects_the_test(tool: pytest.Pytester) -> None:
    record(tool)
    core = tool.path / "tool" / "core.py"
    core.write_text(core.read_text().replace('"!"', '"?"'))
    assert select_ids(tool) == ["test_cli.py::test_cli_shouts"]
    work = tool.path / "tool" / "work.py"
    core.write_text(CORE)
    work.write_text(work.read_text().replace("n * n", "n ** 2"))
    assert select_ids(tool) == ["test_pool.py::test_spawned_pool"]


def test_children_are_traced_under_xdist(tool: pytest.Pytester) -> None:
    record(tool, "-n", "2")
    coverage = coverage_of(tool.path, 1)
    assert "shout" in {b.name for b in coverage["test_cli.py::test_cli_shouts"].blocks}
