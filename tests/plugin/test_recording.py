from __future__ import annotations

import pytest

from greenline.model import Outcome, Phase, RunStatus
from tests.plugin.conftest import coverage_of, run_and_results

RECORD = ("--greenline-record", "-p", "no:cacheprovider")


def test_records_every_outcome(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_outcomes="""
        import pytest

        @pytest.fixture
        def broken_setup():
            raise RuntimeError("no database")

        @pytest.fixture
        def broken_teardown():
            yield
            raise OSError("still busy")

        def test_passes():
            pass

        def test_fails():
            assert 1 == 2, "one is not two"

        def test_setup_error(broken_setup):
            pass

        def test_teardown_error(broken_teardown):
            pass

        def test_skipped():
            pytest.skip("not today")

        @pytest.mark.xfail(reason="known bug")
        def test_xfailed():
            assert False

        @pytest.mark.xfail(reason="fixed?")
        def test_xpassed():
            pass

        @pytest.mark.xfail(reason="fixed?", strict=True)
        def test_strict_xpass():
            pass
        """
    )
    result = project.runpytest_subprocess(*RECORD, "test_outcomes.py")
    result.assert_outcomes(passed=2, failed=2, errors=2, skipped=1, xfailed=1, xpassed=1)
    run, results = run_and_results(project.path)
    by_id = {r.test_id.split("::")[1]: r for r in results}
    assert {name: r.outcome for name, r in by_id.items()} == {
        "test_passes": Outcome.PASSED,
        "test_fails": Outcome.FAILED,
        "test_setup_error": Outcome.ERROR,
        "test_teardown_error": Outcome.ERROR,
        "test_skipped": Outcome.SKIPPED,
        "test_xfailed": Outcome.XFAILED,
        "test_xpassed": Outcome.XPASSED,
        "test_strict_xpass": Outcome.FAILED,
    }
    assert by_id["test_fails"].phase is Phase.CALL
    assert by_id["test_fails"].message is not None
    assert "one is not two" in by_id["test_fails"].message
    assert by_id["test_setup_error"].phase is Phase.SETUP
    assert by_id["test_setup_error"].message == "RuntimeError: no database"
    assert by_id["test_teardown_error"].phase is Phase.TEARDOWN
    assert by_id["test_skipped"].message == "not today"
    assert all(r.path == "test_outcomes.py" and r.attempt == 1 for r in results)
    assert run.status is RunStatus.COMPLETE
    assert run.exit_status == 1
    assert run.commit.branch == "main" and run.commit.sha
    assert run.environment is not None
    assert run.environment.python.startswith("cpython-")
    result.stdout.fnmatch_lines(
        [
            "greenline: recording into sqlite:///* (tracer: *)",
            "greenline: recorded run *: 8 results*",
        ]
    )


def test_durations_are_recorded(project: pytest.Pytester) -> None:
    project.makepyfile(test_slow="import time\ndef test_slow():\n    time.sleep(0.2)\n")
    project.runpytest_subprocess(*RECORD, "test_slow.py").assert_outcomes(passed=1)
    _, (result,) = run_and_results(project.path)
    assert 0.2 <= result.duration < 2


def test_collection_errors_are_recorded(project: pytest.Pytester) -> None:
    project.makepyfile(test_broken="import no_such_module\n\ndef test_x():\n    pass\n")
    project.runpytest_subprocess(*RECORD)
    run, results = run_and_results(project.path)
    (broken,) = [r for r in results if r.test_id == "test_broken.py"]
    assert (broken.outcome, broken.phase) == (Outcome.ERROR, Phase.COLLECT)
    assert "no_such_module" in (broken.message or "")
    assert run.status is RunStatus.INCOMPLETE  # pytest stops on collection errors


def test_each_test_covers_the_functions_it_ran(project: pytest.Pytester) -> None:
    project.runpytest_subprocess(*RECORD).assert_outcomes(passed=4)
    run, _ = run_and_results(project.path)
    coverage = coverage_of(project.path, run.id)
    names = {
        test_id.split("::")[1]: {(b.path, b.name) for b in tc.blocks}
        for test_id, tc in coverage.items()
    }
    assert names["test_add"] == {
        ("app.py", "add"),
        ("app.py", "<module>"),
        ("test_app.py", "test_add"),
        ("test_app.py", "<module>"),
    }
    assert ("app.py", "mul") in names["test_mul"]
    assert ("app.py", "add") not in names["test_mul"]
    assert ("app.py", "Greeter.greet") in names["test_greet"]
    assert not {("app.py", "add"), ("app.py", "mul")} & names["test_nothing"]
    assert run.has_coverage


def test_fixture_and_conftest_code_is_covered(project: pytest.Pytester) -> None:
    project.makeconftest(
        """
        import pytest
        import app

        @pytest.fixture
        def total():
            return app.add(2, 2)
        """
    )
    project.makepyfile(test_fix="def test_total(total):\n    assert total == 4\n")
    project.runpytest_subprocess(*RECORD, "test_fix.py").assert_outcomes(passed=1)
    run, _ = run_and_results(project.path)
    (tc,) = coverage_of(project.path, run.id).values()
    assert {("conftest.py", "total"), ("app.py", "add")} <= {(b.path, b.name) for b in tc.blocks}


def test_code_run_in_a_thread_is_covered(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_thread="""
        import threading
        import app

        def test_in_thread():
            t = threading.Thread(target=app.mul, args=(2, 2))
            t.start()
            t.join()
        """
    )
    project.runpytest_subprocess(*RECORD, "test_thread.py").assert_outcomes(passed=1)
    run, _ = run_and_results(project.path)
    (tc,) = coverage_of(project.path, run.id).values()
    assert ("app.py", "mul") in {(b.path, b.name) for b in tc.blocks}


def test_every_tracer_gives_the_same_coverage(project: pytest.Pytester) -> None:
    import sys

    tracers = ["python-profile", "c-profile"] + (
        ["sys.monitoring"] if sys.version_info >= (3, 12) else []
    )
    seen = []
    for tracer in tracers:
        project.runpytest_subprocess(*RECORD, f"--greenline-tracer={tracer}").assert_outcomes(
            passed=4
        )
        run, _ = run_and_results(project.path)
        seen.append({t: tc.blocks for t, tc in coverage_of(project.path, run.id).items()})
    assert all(s == seen[0] for s in seen)


def test_not_active_without_the_option(project: pytest.Pytester) -> None:
    project.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=4)
    assert not (project.path / ".greenline").exists()


def test_a_bad_store_url_is_a_usage_error(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess(*RECORD, "--greenline-db", "nonsense://")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines(
        ["*greenline: unknown kind of database in 'nonsense://'*", "Hint: use sqlite:///*"]
    )
    assert result.parseoutcomes().get("passed", 0) == 0, "no test ran against a broken store"


def test_outside_git_the_run_has_no_commit(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_a="def test_a():\n    pass\n")
    result = pytester.runpytest_subprocess(*RECORD)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*not a git repository: no commit info*"])
    run, _ = run_and_results(pytester.path)
    assert run.commit.sha is None
    assert run.status is RunStatus.COMPLETE


def test_an_interrupted_run_is_incomplete(project: pytest.Pytester) -> None:
    project.makepyfile(test_stop="def test_stop():\n    raise KeyboardInterrupt\n")
    result = project.runpytest_subprocess(*RECORD)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    run, _ = run_and_results(project.path)
    assert run.status is RunStatus.INCOMPLETE
    assert run.exit_status == pytest.ExitCode.INTERRUPTED


def test_the_plugin_is_cheap_to_import(pytester: pytest.Pytester) -> None:
    code = (
        "import sys, greenline.pytest_plugin.plugin\n"
        "heavy = [m for m in ('sqlalchemy', 'alembic', 'typer', 'rich', 'mcp', 'greenline.api')"
        " if m in sys.modules]\n"
        "print('heavy:', heavy)\n"
    )
    result = pytester.run(sys_executable(), "-c", code)
    result.stdout.fnmatch_lines(["heavy: []"])


def sys_executable() -> str:
    import sys

    return sys.executable


def test_reruns_are_recorded_as_attempts(project: pytest.Pytester) -> None:
    marker = project.path / "attempts.txt"
    project.makepyfile(
        test_flaky=f"""
        import pathlib

        def test_second_time_lucky():
            path = pathlib.Path({str(marker)!r})
            count = int(path.read_text()) if path.exists() else 0
            path.write_text(str(count + 1))
            assert count >= 1, "first attempt fails"

        def test_always_fails():
            assert False, "never"
        """
    )
    result = project.runpytest_subprocess(*RECORD, "--reruns", "2", "test_flaky.py")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*1 failed, 1 passed, 3 rerun*"])
    run, results = run_and_results(project.path)
    attempts = {(r.test_id.split("::")[1], r.attempt): r.outcome for r in results}
    assert attempts == {
        ("test_second_time_lucky", 1): Outcome.FAILED,
        ("test_second_time_lucky", 2): Outcome.PASSED,
        ("test_always_fails", 1): Outcome.FAILED,
        ("test_always_fails", 2): Outcome.FAILED,
        ("test_always_fails", 3): Outcome.FAILED,
    }
    assert run.counts == {"passed": 1, "failed": 1}


def test_pytest_itself_never_loads_the_database_layer(project: pytest.Pytester) -> None:
    """The store writer, a separate process, does the database work on another core."""
    marker = project.path / "modules.txt"
    project.makeconftest(
        f"""
        import sys

        def pytest_unconfigure():
            heavy = [m for m in ("sqlalchemy", "alembic", "greenline.api") if m in sys.modules]
            open({str(marker)!r}, "w").write(",".join(heavy) or "none")
        """
    )
    project.runpytest_subprocess(*RECORD).assert_outcomes(passed=4)
    assert marker.read_text() == "none"
    run, results = run_and_results(project.path)
    assert len(results) == 4 and run.has_coverage
