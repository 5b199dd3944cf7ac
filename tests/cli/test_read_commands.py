from __future__ import annotations

from greenline.store import HEAD_REVISION
from tests.cli.conftest import Cli


def test_runs_text_and_json(imported: Cli) -> None:
    text = imported("runs")
    assert text.code == 0
    assert "2 runs, newest first" in text.out
    assert "complete" in text.out and "junit" in text.out
    doc = imported("runs", "--format", "json").json()
    assert doc["schema"] == "greenline.runs/1"
    assert [r["id"] for r in doc["runs"]] == [2, 1]
    assert doc["runs"][0]["commit"]["branch"] == "feature"
    assert doc["runs"][1]["counts"] == {
        "error": 2,
        "failed": 2,
        "passed": 2,
        "skipped": 1,
        "xfailed": 1,
    }


def test_runs_filters(imported: Cli) -> None:
    doc = imported("runs", "--branch", "feature", "-f", "json").json()
    assert [r["id"] for r in doc["runs"]] == [2]
    assert imported("runs", "--limit", "1", "-f", "json").json()["runs"][0]["id"] == 2
    missing = imported("runs", "--branch", "nope")
    assert missing.code == 5
    assert "no runs recorded yet matching the filters" in missing.err


def test_run_show(imported: Cli) -> None:
    text = imported("run", "show", "1")
    assert text.code == 0
    assert "4 failed attempts" in text.out
    assert "tests.test_cart::test_remove" in text.out
    assert "tests.test_cart::test_add" not in text.out
    assert "tests.test_cart::test_add" in imported("run", "show", "1", "--all").out
    doc = imported("run", "show", "2", "--format", "json").json()
    assert doc["schema"] == "greenline.run/1"
    flaky = [r for r in doc["results"] if r["test_id"].endswith("retriesThenPasses")]
    assert [(r["attempt"], r["outcome"]) for r in flaky] == [
        (1, "failed"),
        (2, "error"),
        (3, "passed"),
    ]


def test_unknown_run(imported: Cli) -> None:
    result = imported("run", "show", "99")
    assert result.code == 5
    assert "greenline: error: no run with id 99" in result.err
    assert "Hint: list runs with: greenline runs" in result.err


def test_tests_and_history(imported: Cli) -> None:
    failing = imported("tests", "--failing", "-f", "json").json()
    assert failing["schema"] == "greenline.tests/1"
    assert {t["test_id"] for t in failing["tests"]} == {
        "tests.test_cart::test_remove",
        "tests.test_cart::test_db",
        "tests.test_cart::test_cleanup",
        "tests.test_cart::test_strict",
        "com.acme.PaymentTest::alwaysFails",
    }
    slowest = imported("tests", "--slowest", "1", "-f", "json").json()["tests"]
    assert [t["test_id"] for t in slowest] == ["com.acme.PaymentTest::retriesThenPasses"]
    history = imported("test", "history", "com.acme.PaymentTest::retriesThenPasses", "-f", "json")
    doc = history.json()
    assert doc["schema"] == "greenline.test-history/1"
    assert [(r["run_id"], r["attempt"]) for r in doc["results"]] == [(2, 3), (2, 2), (2, 1)]
    assert (
        "history of com.acme.PaymentTest::retriesThenPasses"
        in imported("test", "history", "com.acme.PaymentTest::retriesThenPasses").out
    )


def test_history_of_an_unknown_test_suggests_one(imported: Cli) -> None:
    result = imported("test", "history", "tests.test_cart::test_remov")
    assert result.code == 5
    assert "Hint: did you mean 'tests.test_cart::test_remove'?" in result.err


def test_no_store_yet_says_no_data_and_creates_nothing(cli: Cli, git_repo) -> None:  # type: ignore[no-untyped-def]
    for command in (["runs"], ["tests"], ["run", "show", "1"], ["db", "info"]):
        result = cli(*command)
        assert result.code == 5, command
        assert "no greenline store at" in result.err
        assert "Hint: record a run first" in result.err
    assert not (git_repo / ".greenline").exists()


def test_empty_store_says_no_data(cli: Cli) -> None:
    assert cli("db", "upgrade").code == 0
    result = cli("runs")
    assert result.code == 5
    assert "no runs recorded yet" in result.err
    assert "Hint: record one with: greenline record" in result.err
    assert cli("runs", "-f", "json").json()["runs"] == []
    assert cli("tests").code == 5


def test_wrong_flag_is_a_usage_error(cli: Cli) -> None:
    result = cli("runs", "--fomat", "json")
    assert result.code == 4
    assert "No such option: --fomat" in result.err
    assert "Hint: see: greenline runs --help" in result.err
    assert cli("runs", "--format", "xml").code == 4
    assert cli("frobnicate").code == 4


def test_config_show(cli: Cli, git_repo) -> None:  # type: ignore[no-untyped-def]
    text = cli("config", "show")
    assert "database_url" in text.out and "default" in text.out
    assert not (git_repo / ".greenline").exists(), "showing settings opens no store"
    doc = cli("config", "show", "-f", "json").json()
    assert doc["settings"]["coverage_exclude"] == {"value": [], "source": "default"}
    (git_repo / "pyproject.toml").write_text("[tool.greenline]\ncoverage_exlude = ['x/*']\n")
    bad = cli("config", "show")
    assert bad.code == 4
    assert "unknown key 'coverage_exlude'" in bad.err
    assert "Hint: did you mean 'coverage_exclude'?" in bad.err


def test_db_info_and_upgrade(cli: Cli) -> None:
    upgraded = cli("db", "upgrade")
    assert upgraded.code == 0
    assert f"upgraded: empty -> {HEAD_REVISION}" in upgraded.out
    assert f"up to date (revision {HEAD_REVISION})" in cli("db", "upgrade").out
    doc = cli("db", "info", "-f", "json").json()
    assert doc["schema"] == "greenline.db-info/1"
    assert doc["revision"] == doc["head"] == HEAD_REVISION
    assert doc["rows"]["runs"] == 0
    assert "revision" in cli("db", "info").out


def test_newer_store_is_refused(cli: Cli, git_repo) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    assert cli("db", "upgrade").code == 0
    db = git_repo / ".greenline" / "greenline.db"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0042'")
    result = cli("runs")
    assert result.code == 4
    assert "schema revision 0042, newer than this greenline knows" in result.err
    assert "Hint: upgrade greenline" in result.err
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("0042",)


def test_db_flag_and_repo_flag(cli: Cli, tmp_path, git_repo) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'other.db'}"
    assert cli("--db", url, "db", "upgrade").code == 0
    assert (tmp_path / "other.db").exists()
    missing = cli("--repo", str(tmp_path / "missing"), "runs")
    assert missing.code == 4
    assert "no such directory" in missing.err


def test_version(cli: Cli) -> None:
    assert cli("--version").out.startswith("greenline ")


def test_debug_shows_the_traceback(cli: Cli) -> None:
    assert cli("db", "upgrade").code == 0
    shown = cli("--debug", "run", "show", "7")
    assert shown.code == 5, "--debug adds the traceback, never changes the exit code"
    assert "Traceback" in shown.err and "NoDataError: no run with id 7" in shown.err
