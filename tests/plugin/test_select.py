"""``greenline select`` on a real git repository against a real recorded baseline."""

from __future__ import annotations

import json
import sys

import pytest

from tests.conftest import git

RECORD = ("--greenline-record", "-p", "no:cacheprovider")


def select(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("COLUMNS", "200")  # --explain's table on one line per reason
        return project.run(sys.executable, "-m", "greenline", "select", *args)


def ids(project: pytest.Pytester, *args: str) -> list[str]:
    result = select(project, "-f", "ids", *args)
    assert result.ret == 0, result.stderr.str()
    return result.stdout.lines


@pytest.fixture
def recorded(project: pytest.Pytester) -> pytest.Pytester:
    (project.path / ".gitignore").write_text("__pycache__/\n")
    git(project.path, "add", "-A")
    git(project.path, "commit", "-q", "-m", "ignore caches")
    project.runpytest_subprocess(*RECORD).assert_outcomes(passed=4)
    return project


def edit(project: pytest.Pytester, old: str, new: str, path: str = "app.py") -> None:
    file = project.path / path
    file.write_text(file.read_text().replace(old, new))


def test_an_unchanged_tree_selects_nothing(recorded: pytest.Pytester) -> None:
    assert ids(recorded) == []
    text = select(recorded)
    text.stdout.fnmatch_lines(["0 of 4 tests selected*against run 1 at *"])


def test_an_edited_function_selects_its_tests(recorded: pytest.Pytester) -> None:
    edit(recorded, "return a * b", "return b * a  # commutative")
    assert ids(recorded) == ["test_app.py::test_mul"]
    git(recorded.path, "commit", "-q", "-am", "mul: swap operands")
    assert ids(recorded) == ["test_app.py::test_mul"], "commits since the baseline count too"
    why = select(recorded, "--why", "test_app.py::test_add")
    why.stdout.fnmatch_lines(["test_app.py::test_add is not selected: it ran none*"])
    explained = select(recorded, "--explain")
    explained.stdout.fnmatch_lines(["*test_app.py::test_mul*changed-block: app.py::mul*"])


def test_comments_and_formatting_select_nothing(recorded: pytest.Pytester) -> None:
    edit(
        recorded,
        "def add(a, b):\n    return a + b",
        "def add(a, b):\n    # sum\n    return (a  +  b)",
    )
    assert ids(recorded) == []


def test_a_new_test_file_runs_whole(recorded: pytest.Pytester) -> None:
    recorded.makepyfile(test_more="import app\n\ndef test_more():\n    assert app.add(2, 2) == 4\n")
    assert ids(recorded) == ["test_more.py"]


def test_json_document(recorded: pytest.Pytester) -> None:
    edit(recorded, 'return f"hello {name}"', 'return f"hi {name}"')
    doc = json.loads(select(recorded, "-f", "json").stdout.str())
    assert doc["schema"] == "greenline.selection/1"
    assert doc["baseline_run_id"] == 1
    assert [t["test_id"] for t in doc["selected"]] == ["test_app.py::test_greet"]
    assert doc["selected"][0]["reasons"] == [
        {"kind": "changed-block", "detail": "app.py::Greeter.greet"}
    ]
    assert doc["unaffected"] == 3 and doc["full_suite"] is None


def test_a_conftest_change_runs_everything(recorded: pytest.Pytester) -> None:
    recorded.makeconftest("def pytest_configure(config):\n    pass\n")
    result = select(recorded, "-f", "ids")
    assert result.ret == 0
    assert result.stdout.lines == [], "no ids: pytest then runs the whole suite"
    result.stderr.fnmatch_lines(["greenline: running the full suite: conftest.py changed*"])


def test_base_picks_the_baseline(recorded: pytest.Pytester) -> None:
    first = git(recorded.path, "rev-parse", "HEAD")
    edit(recorded, "return a + b", "return b + a")
    git(recorded.path, "commit", "-q", "-am", "add: swap operands")
    recorded.runpytest_subprocess(*RECORD).assert_outcomes(passed=4)
    assert ids(recorded) == [], "the newest baseline on this history is the new commit's"
    assert ids(recorded, "--base", first) == ["test_app.py::test_add"]
    unknown = select(recorded, "--base", "nope")
    assert unknown.ret == 4
    unknown.stderr.fnmatch_lines(["*unknown revision 'nope'*", "Hint:*"])


def test_without_a_baseline(project: pytest.Pytester) -> None:
    missing = select(project)
    assert missing.ret == 5
    missing.stderr.fnmatch_lines(["greenline: error: no greenline store at*"])
    project.runpytest_subprocess("--greenline-record", "-p", "no:cacheprovider", "-x", "-k", "zzz")
    result = select(project)
    assert result.ret == 5
    result.stderr.fnmatch_lines(["*no baseline: no complete run with coverage*", "Hint:*"])


def run_selected(project: pytest.Pytester, mode: str, *args: str) -> pytest.RunResult:
    return project.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--greenline-select={mode}", *args
    )


def test_deselect_runs_only_affected_and_new_tests(recorded: pytest.Pytester) -> None:
    edit(recorded, "return a * b", "return a * b * 1")
    recorded.makepyfile(test_more="import app\n\ndef test_more():\n    assert app.add(1, 1) == 2\n")
    result = run_selected(recorded, "deselect", "-v")
    result.assert_outcomes(passed=2, deselected=3)
    result.stdout.fnmatch_lines(
        [
            "greenline: 2 of 5 tests can be affected by the change since run 1 at * "
            "(deselect, most likely to fail first)"
        ]
    )
    ran = [line.split(" ")[0] for line in result.stdout.lines if " PASSED" in line]
    assert ran == ["test_more.py::test_more", "test_app.py::test_mul"], "unseen tests first"


def test_deselecting_everything_is_a_success(recorded: pytest.Pytester) -> None:
    result = run_selected(recorded, "deselect")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(deselected=4)


def test_without_a_baseline_every_test_runs(project: pytest.Pytester) -> None:
    result = run_selected(project, "deselect")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["greenline: running every test: no greenline store at*"])


def test_reorder_runs_everything_affected_first(recorded: pytest.Pytester) -> None:
    edit(recorded, 'return f"hello {name}"', 'return f"hello, {name}"')
    result = run_selected(recorded, "reorder", "-v")
    result.assert_outcomes(passed=3, failed=1)
    first = next(line for line in result.stdout.lines if "::test_" in line and "FAILED" in line)
    assert first.startswith("test_app.py::test_greet")
    order = [line.split(" ")[0] for line in result.stdout.lines if line.startswith("test_app.py::")]
    assert order[0] == "test_app.py::test_greet"


def test_a_changed_data_file_selects_the_tests_that_read_it(recorded: pytest.Pytester) -> None:
    (recorded.path / "limit.txt").write_text("3\n")
    recorded.makepyfile(
        test_data="""
        import pathlib

        def test_reads_data():
            assert pathlib.Path(__file__).with_name("limit.txt").read_text().strip() == "3"
        """
    )
    git(recorded.path, "add", "-A")
    git(recorded.path, "commit", "-q", "-m", "data-driven test")
    recorded.runpytest_subprocess(*RECORD).assert_outcomes(passed=5)
    (recorded.path / "limit.txt").write_text("4\n")
    assert ids(recorded) == ["test_data.py::test_reads_data"]
    explained = select(recorded, "--explain")
    explained.stdout.fnmatch_lines(["*reads-changed-file: limit.txt*"])
    run_selected(recorded, "deselect").assert_outcomes(failed=1, deselected=4)


def add_environment_test(recorded: pytest.Pytester) -> None:
    """A committed, recorded test that depends on something greenline cannot see."""
    recorded.makepyfile(
        test_env="""
        import os

        def test_reads_the_environment():
            assert os.environ.get("GL_LIMIT", "3") == "3"
        """
    )
    git(recorded.path, "add", "-A")
    git(recorded.path, "commit", "-q", "-m", "environment-driven test")
    recorded.runpytest_subprocess(*RECORD).assert_outcomes(passed=5)


def test_shadow_reports_failures_selection_would_have_skipped(
    recorded: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_environment_test(recorded)
    monkeypatch.setenv("GL_LIMIT", "4")  # nothing greenline can see changed
    result = run_selected(recorded, "shadow")
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(
        [
            "greenline shadow: selection would have skipped 1 failing test(s): "
            "test_env.py::test_reads_the_environment"
        ]
    )


def test_select_tests_over_mcp(recorded: pytest.Pytester) -> None:
    import anyio
    from mcp.client.session import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    edit(recorded, "return a * b", "return a * b * 1")

    edit(recorded, "return a + b", "return a + b + 0")

    async def ask() -> list[object]:
        params = StdioServerParameters(
            command=sys.executable, args=["-m", "greenline.mcp"], cwd=str(recorded.path)
        )
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            return [
                await session.call_tool("select_tests", {}),
                await session.call_tool("select_tests", {"budget": "0.0001s"}),
                await session.call_tool("select_tests", {"confidence": "2"}),
            ]

    plain, budgeted, bad = anyio.run(ask)
    assert not plain.is_error  # type: ignore[attr-defined]
    doc = plain.structured_content  # type: ignore[attr-defined]
    cli_doc = json.loads(select(recorded, "-f", "json").stdout.str())
    page = {"total": 2, "returned": 2, "truncated": False, "offset": 0, "next_offset": None}
    assert doc == {**cli_doc, **page}, "the CLI's document, as one page of its tests"
    assert {t["test_id"] for t in doc["selected"]} == {
        "test_app.py::test_mul",
        "test_app.py::test_add",
    }
    assert all(0 < t["likelihood"] <= 1 for t in doc["selected"])
    cut = budgeted.structured_content  # type: ignore[attr-defined]
    assert len(cut["selected"]) == 1 and len(cut["over_budget"]) == 1
    assert bad.is_error  # type: ignore[attr-defined]
    assert "not a confidence" in bad.content[0].text  # type: ignore[attr-defined]


def test_budgets_in_the_cli_and_the_plugin(recorded: pytest.Pytester) -> None:
    edit(recorded, "return a * b", "return a * b * 1")
    edit(recorded, "return a + b", "return a + b + 0")
    assert len(ids(recorded)) == 2
    budgeted = ids(recorded, "--budget", "0.0001s")
    assert len(budgeted) == 1, "the first test always fits"
    doc = json.loads(select(recorded, "-f", "json", "--budget", "0.0001s").stdout.str())
    assert len(doc["over_budget"]) == 1
    bad = select(recorded, "--budget", "soon")
    assert bad.ret == 4
    bad.stderr.fnmatch_lines(["*--budget 'soon': not a budget*", "Hint:*"])
    result = run_selected(recorded, "deselect", "--greenline-budget", "0.0001s")
    result.assert_outcomes(passed=1, deselected=3)
    result.stdout.fnmatch_lines(["greenline: 1 of 4 tests can be affected*; 1 more did not fit*"])
    wrong = run_selected(recorded, "deselect", "--greenline-budget", "soon")
    assert wrong.ret == pytest.ExitCode.USAGE_ERROR
    likely = json.loads(select(recorded, "-f", "json").stdout.str())["selected"]
    share = likely[0]["likelihood"] / sum(t["likelihood"] for t in likely)
    assert ids(recorded, "--confidence", f"{share / 2:.3f}") == [likely[0]["test_id"]]
    assert len(ids(recorded, "--confidence", "1")) == 2
    bad = select(recorded, "--confidence", "certain")
    assert bad.ret == 4
    bad.stderr.fnmatch_lines(["*--confidence 'certain': not a confidence*", "Hint:*"])
    confident = run_selected(recorded, "deselect", "--greenline-confidence", f"{share / 2:.3f}")
    confident.assert_outcomes(passed=1, deselected=3)


def test_a_constants_module_selects_the_tests_that_import_it(recorded: pytest.Pytester) -> None:
    recorded.makepyfile(limits="MAX = 3\n")
    recorded.makepyfile(
        test_limits="from limits import MAX\n\ndef test_max():\n    assert MAX == 3\n"
    )
    git(recorded.path, "add", "-A")
    git(recorded.path, "commit", "-q", "-m", "limits")
    recorded.runpytest_subprocess(*RECORD).assert_outcomes(passed=5)
    edit(recorded, "MAX = 3", "MAX = 4", "limits.py")
    assert ids(recorded) == ["test_limits.py::test_max"]
    explained = select(recorded, "--explain")
    explained.stdout.fnmatch_lines(["*imports-changed-file: test_limits.py imports limits.py*"])
    run_selected(recorded, "deselect").assert_outcomes(failed=1, deselected=4)


def test_always_run_by_setting_and_by_marker(recorded: pytest.Pytester) -> None:
    (recorded.path / "pyproject.toml").write_text(
        '[tool.greenline]\nalways_run = ["test_app.py::test_nothing"]\n'
    )
    assert ids(recorded) == ["test_app.py::test_nothing"]
    edit(
        recorded,
        "def test_greet():",
        "import pytest\n\n\n@pytest.mark.greenline_always\ndef test_greet():",
        "test_app.py",
    )
    git(recorded.path, "commit", "-q", "-am", "mark")
    recorded.runpytest_subprocess(*RECORD).assert_outcomes(passed=4)
    result = run_selected(recorded, "deselect", "-v")
    result.assert_outcomes(passed=2, deselected=2)
    assert {line.split(" ")[0] for line in result.stdout.lines if " PASSED" in line} == {
        "test_app.py::test_greet",
        "test_app.py::test_nothing",
    }


def test_a_baseline_travels_to_a_fresh_clone(recorded: pytest.Pytester, tmp_path) -> None:  # type: ignore[no-untyped-def]
    artifact = tmp_path / "main-baseline.json.gz"
    exported = recorded.run(sys.executable, "-m", "greenline", "baseline", "export", str(artifact))
    assert exported.ret == 0
    exported.stdout.fnmatch_lines(
        ["exported run 1 (*, 4 tests) to *main-baseline.json.gz: * bytes"]
    )
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(recorded.path), str(clone))
    (clone / "app.py").write_text((clone / "app.py").read_text().replace("a * b", "b * a"))

    def in_clone(*args: str) -> pytest.RunResult:
        return recorded.run(sys.executable, "-m", "greenline", "--repo", str(clone), *args)

    assert in_clone("select").ret == 5, "the clone has no store yet"
    first = in_clone("baseline", "import", str(artifact))
    first.stdout.fnmatch_lines(["baseline at * imported as run 1 (4 tests)"])
    again = in_clone("baseline", "import", str(artifact))
    again.stdout.fnmatch_lines(["baseline at * already in the store as run 1 (4 tests)"])
    assert in_clone("select", "-f", "ids").stdout.lines == ["test_app.py::test_mul"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not gzip at all", "not a greenline baseline file"),
        (None, "schema is 'other/1'"),
    ],
)
def test_bad_baseline_files_store_nothing(
    recorded: pytest.Pytester,
    tmp_path,
    content: bytes | None,
    message: str,  # type: ignore[no-untyped-def]
) -> None:
    import gzip

    bad = tmp_path / "bad.json.gz"
    if content is None:
        bad.write_bytes(gzip.compress(b'{"schema": "other/1"}'))
    else:
        bad.write_bytes(content)
    result = recorded.run(sys.executable, "-m", "greenline", "baseline", "import", str(bad))
    assert result.ret == 4
    result.stderr.fnmatch_lines([f"*{message}*", "Hint:*"])
    runs = recorded.run(sys.executable, "-m", "greenline", "runs", "-f", "json")
    assert len(json.loads(runs.stdout.str())["runs"]) == 1


def test_only_complete_runs_with_coverage_export(project: pytest.Pytester, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from greenline.api import Greenline

    with Greenline.open(project.path) as gl:
        run = gl.runs.import_junit(
            [__import__("pathlib").Path(__file__).parents[1] / "data" / "junit" / "ant.xml"]
        )
    result = project.run(
        sys.executable,
        "-m",
        "greenline",
        "baseline",
        "export",
        str(tmp_path / "x"),
        "--run",
        str(run.id),
    )
    assert result.ret == 4
    result.stderr.fnmatch_lines([f"*run {run.id} is complete, without coverage: not a baseline*"])


def test_an_unknown_base_is_a_usage_error(recorded: pytest.Pytester) -> None:
    result = run_selected(recorded, "deselect", "--greenline-base", "no-such-rev")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*greenline: unknown revision 'no-such-rev'*"])


def test_a_wide_scoped_fixture_links_every_test_that_uses_it(recorded: pytest.Pytester) -> None:
    recorded.makepyfile(
        test_fixture="""
        import pytest
        import app

        @pytest.fixture(scope="module")
        def total():
            return app.add(1, 2)

        def test_first(total):
            assert total == 3

        def test_second(total):
            assert total == 3

        def test_without():
            pass
        """
    )
    git(recorded.path, "add", "-A")
    git(recorded.path, "commit", "-q", "-m", "module fixture")
    recorded.runpytest_subprocess(*RECORD).assert_outcomes(passed=7)
    edit(recorded, "return app.add(1, 2)", "return app.add(2, 1)", "test_fixture.py")
    assert sorted(ids(recorded)) == ["test_fixture.py::test_first", "test_fixture.py::test_second"]


def test_a_skipped_test_keeps_no_coverage_so_unskipping_it_runs_it(
    recorded: pytest.Pytester,
) -> None:
    recorded.makepyfile(
        test_skip="""
        import pytest

        @pytest.fixture
        def value():
            return 1

        @pytest.mark.skip(reason="not yet")
        def test_later(value):
            assert value == 1
        """
    )
    git(recorded.path, "add", "-A")
    git(recorded.path, "commit", "-q", "-m", "skipped test")
    recorded.runpytest_subprocess(*RECORD).assert_outcomes(passed=4, skipped=1)
    edit(recorded, '@pytest.mark.skip(reason="not yet")\n', "", "test_skip.py")
    assert "test_skip.py::test_later" in ids(recorded)


def test_shadow_under_xdist_reports_what_selection_missed(
    recorded: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_environment_test(recorded)
    monkeypatch.setenv("GL_LIMIT", "4")
    edit(recorded, "return a * b", "return b * a")
    result = run_selected(recorded, "shadow", "-n", "2")
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(
        [
            "greenline shadow: selection would have skipped 1 failing test(s): "
            "test_env.py::test_reads_the_environment"
        ]
    )
    monkeypatch.setenv("GL_LIMIT", "3")
    edit(recorded, "return b * a", "return b * a + 1")
    result = run_selected(recorded, "shadow", "-n", "2")
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(["greenline shadow: every failing test was among the selected*"])


def test_deselect_under_xdist(recorded: pytest.Pytester) -> None:
    edit(recorded, "return a * b", "return b * a + 0")
    result = run_selected(recorded, "deselect", "-n", "2")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "greenline: 1 of the baseline's 4 tests can be affected by the change since run 1 *; "
            "the workers deselected the other 3 (deselect, most likely to fail first)"
        ]
    )


def test_a_broken_store_fails_open(recorded: pytest.Pytester) -> None:
    edit(recorded, "return a * b", "return b * a + 0")
    (recorded.path / ".greenline" / "greenline.db").write_bytes(b"not a database" * 100)
    result = run_selected(recorded, "deselect")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["greenline: running every test: *"])


def test_a_run_on_an_edited_tree_is_no_baseline(recorded: pytest.Pytester) -> None:
    edit(recorded, "return a * b", "return b * a")
    recorded.runpytest_subprocess(*RECORD).assert_outcomes(passed=4)
    runs = json.loads(
        recorded.run(sys.executable, "-m", "greenline", "runs", "-f", "json").stdout.str()
    )["runs"]
    assert [r["commit"]["dirty"] for r in runs] == [True, False]
    doc = json.loads(select(recorded, "-f", "json").stdout.str())
    assert doc["baseline_run_id"] == runs[1]["id"], "judged against the committed tree's run"
    assert [t["test_id"] for t in doc["selected"]] == ["test_app.py::test_mul"]


def test_explain_says_when_the_probabilities_cannot_tell_tests_apart(
    pytester: pytest.Pytester,
) -> None:
    from tests.conftest import init_repo

    pytester.makepyfile(
        calc="def norm(x):\n    return abs(x)\n\n\n"
        + "".join(f"def f{i}(x):\n    return norm(x) + {i}\n\n\n" for i in range(3))
    )
    pytester.makepyfile(
        test_calc="import calc\n\n\n"
        + "".join(f"def test_f{i}():\n    assert calc.f{i}(-1) == {i + 1}\n\n\n" for i in range(3))
    )
    pytester.makeini("[pytest]\npythonpath = .\n")
    (pytester.path / ".gitignore").write_text("__pycache__/\n")
    init_repo(pytester.path)
    pytester.runpytest_subprocess(*RECORD).assert_outcomes(passed=3)
    edit(pytester, "return abs(x)", "return x if x > 0 else -x", "calc.py")  # every test's
    doc = json.loads(select(pytester, "-f", "json").stdout.str())
    assert len(doc["selected"]) == 3
    likelihoods = [t["likelihood"] for t in doc["selected"]]
    assert max(likelihoods) - min(likelihoods) < 0.01
    assert doc["ranking_informative"] is False
    select(pytester, "--explain").stdout.fnmatch_lines(
        ["*the estimated probabilities are uninformative here: every candidate alike*"]
    )
    edit(pytester, "return norm(x) + 0", "return norm(x) + 0.0", "calc.py")  # two reasons now
    doc = json.loads(select(pytester, "-f", "json").stdout.str())
    assert doc["ranking_informative"] is True


def test_an_untracked_virtual_environment_is_not_part_of_the_change(
    recorded: pytest.Pytester,
) -> None:
    venv = recorded.path / "venv-local"
    (venv / "lib" / "site").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (venv / "lib" / "site" / "thing.py").write_text("def f():\n    return 1\n")
    build = recorded.path / "build" / "lib"
    build.mkdir(parents=True)
    (build / "app.py").write_text("def add(a, b):\n    return a - b\n")
    assert ids(recorded) == [], "nothing of the project changed"
    explained = select(recorded, "--explain")
    explained.stdout.fnmatch_lines(
        [
            "change since *: 0 files (0 Python); left out: build/ (build output), venv-local/ (a "
            "virtual environment)"
        ]
    )
    doc = json.loads(select(recorded, "-f", "json").stdout.str())
    assert doc["change"]["ignored"] == [
        {"path": "build/", "why": "build output"},
        {"path": "venv-local/", "why": "a virtual environment"},
    ]
    (recorded.path / "tools").mkdir()
    (recorded.path / "tools" / "gen.py").write_text("X = 1\n")
    assert json.loads(select(recorded, "-f", "json").stdout.str())["change"]["files"] == 1
