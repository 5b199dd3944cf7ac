"""``greenline db prune`` and the store's size, on SQLite and PostgreSQL: old runs go with
everything stored for them in one transaction; each branch's newest baseline run and runs
still running stay; the retention settings prune after a recording."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from greenline.api import Greenline
from greenline.api.housekeeping import parse_age
from greenline.cli.main import run_cli
from greenline.errors import UsageError
from greenline.model import Block, CommitInfo, Outcome, Phase, TestResult
from greenline.store import retention
from greenline.store.schema import coverage, file_reads, results, runs, selection_features
from tests.conftest import git

NOW = datetime(2026, 6, 1, tzinfo=UTC)
BLOCK = Block("app.py", "add", "c1")


def add_run(
    gl: Greenline,
    *,
    days_ago: float,
    branch: str = "main",
    with_coverage: bool = True,
    finish: bool = True,
    dirty: bool = False,
) -> int:
    """A run of two tests (with their coverage and a file read) started ``days_ago``. Each
    run's code differs (a block of its own): no run shares another's coverage rows."""
    commit = CommitInfo(sha=git(gl.ws.root, "rev-parse", "HEAD"), branch=branch, dirty=dirty)
    run_id = gl.runs.start_run(
        "pytest", commit=commit, started_at=NOW - timedelta(days=days_ago), with_environment=False
    )
    tests = [TestResult(f"t.py::test_{i}", Outcome.PASSED, 0.1, path="t.py") for i in range(2)]
    block = Block(BLOCK.path, BLOCK.name, f"{BLOCK.checksum}-{days_ago}")
    cov = {t.test_id: [block] for t in tests} if with_coverage else None
    gl.runs.add_results(run_id, tests, cov, {tests[0].test_id: ["data.txt"]})
    if finish:
        gl.runs.finish_run(run_id, 0, complete=True)
    return run_id


def run_ids(gl: Greenline) -> list[int]:
    with gl.store.read() as conn:
        return sorted(conn.execute(sa.select(runs.c.id)).scalars())


def rows_of(gl: Greenline, table: sa.Table, run_id: int) -> int:
    with gl.store.read() as conn:
        query = sa.select(sa.func.count()).where(table.c.run_id == run_id)
        return int(conn.execute(query).scalar() or 0)


@pytest.fixture
def gl(git_repo: Path, database_url: str) -> Any:
    with Greenline.open(git_repo, db=database_url) as opened:
        yield opened


def test_keep_deletes_the_oldest_runs_with_all_they_stored(gl: Greenline) -> None:
    ids = [add_run(gl, days_ago=10 - i) for i in range(5)]  # oldest first
    with gl.store.write() as conn:  # a ranking example of the oldest run
        test_pk = conn.execute(sa.text("SELECT min(id) FROM tests")).scalar()
        conn.execute(
            selection_features.insert().values(
                run_id=ids[0], test_pk=test_pk, likelihood=0.5, features="[]"
            )
        )
    report = gl.housekeeping.prune(keep=2, now=NOW)
    assert report.run_ids == tuple(ids[:3]) and not report.dry_run
    assert report.rows == {
        "runs": 3,
        "results": 6,
        "coverage": 6,
        "file_reads": 3,
        "selection_features": 1,
        "run_outcomes": 3,
    }
    assert run_ids(gl) == ids[3:]
    # each test's summary counts only the runs that are left
    summaries = gl.runs.list_tests()
    assert summaries and {t.runs for t in summaries} == {2}
    assert {t.last_run_id for t in summaries} == {ids[4]}
    for table in (results, coverage, file_reads, selection_features):
        assert rows_of(gl, table, ids[0]) == 0
    assert rows_of(gl, results, ids[4]) == 2 and rows_of(gl, coverage, ids[4]) == 2
    assert gl.selection.find_baseline().id == ids[4], "selection still has its baseline"


def test_a_dry_run_says_what_would_go_and_deletes_nothing(gl: Greenline) -> None:
    ids = [add_run(gl, days_ago=40 - i * 10) for i in range(4)]  # 40, 30, 20, 10 days old
    report = gl.housekeeping.prune(older_than=timedelta(days=25), now=NOW, dry_run=True)
    assert report.dry_run and report.run_ids == tuple(ids[:2])
    assert report.rows["results"] == 4 and report.rows["coverage"] == 4
    assert run_ids(gl) == ids


def test_keep_and_older_than_together_delete_what_both_name(gl: Greenline) -> None:
    ids = [add_run(gl, days_ago=40 - i * 10) for i in range(4)]  # 40, 30, 20, 10 days old
    # keep 3 names the oldest; older than 15 days names the three oldest: only the oldest goes
    report = gl.housekeeping.prune(keep=3, older_than=timedelta(days=15), now=NOW)
    assert report.run_ids == (ids[0],)
    assert report.rule == "beyond the newest 3 runs and older than 15 days"


def test_each_branchs_newest_baseline_and_running_runs_stay(gl: Greenline) -> None:
    feature = add_run(gl, days_ago=50, branch="feature")  # that branch's only baseline
    dirty = add_run(gl, days_ago=49, branch="topic", dirty=True)  # no baseline: may go
    topic = add_run(gl, days_ago=48, branch="topic")
    running = add_run(gl, days_ago=47, finish=False)
    without = add_run(gl, days_ago=2, with_coverage=False)  # newest main run: no coverage
    main = add_run(gl, days_ago=3)  # main's newest baseline, older than `without`
    older_main = add_run(gl, days_ago=4)
    report = gl.housekeeping.prune(keep=0, now=NOW)
    assert set(report.run_ids) == {dirty, without, older_main}
    assert run_ids(gl) == sorted([feature, topic, running, main])


def test_nothing_to_prune_by_is_a_usage_error(gl: Greenline) -> None:
    with pytest.raises(UsageError, match="nothing to prune by") as caught:
        gl.housekeeping.prune(now=NOW)
    assert "retention_runs" in (caught.value.hint or "")
    assert gl.housekeeping.apply_retention(NOW) is None, "no retention set: nothing pruned"


def test_ages_parse_and_bad_ones_are_refused() -> None:
    assert parse_age("30d") == parse_age("30") == timedelta(days=30)
    assert parse_age("12h") == timedelta(hours=12) and parse_age("2w") == timedelta(weeks=2)
    for bad in ("", "thirty", "-3d", "5y", "99999999d"):
        with pytest.raises(UsageError, match="not an age"):
            parse_age(bad)


def test_every_table_pointing_at_runs_is_pruned() -> None:
    pointing = {(t.name, c.name) for t, c in retention.referring_columns()}
    assert pointing >= {
        ("results", "run_id"),
        ("coverage", "run_id"),
        ("import_coverage", "run_id"),
        ("file_reads", "run_id"),
        ("selection_features", "run_id"),
        ("uploads", "run_id"),
        ("upload_batches", "run_id"),
        ("shard_plans", "baseline_run_id"),
    }


def test_a_shard_plans_baseline_is_cleared_not_the_plan(gl: Greenline) -> None:
    old = add_run(gl, days_ago=9)
    add_run(gl, days_ago=1)
    with gl.store.write() as conn:
        repo_id = conn.execute(sa.text("SELECT id FROM repositories")).scalar()
        conn.execute(
            sa.text(
                "INSERT INTO shard_plans (repository_id, key, shards, baseline_run_id, "
                "created_at, plan) VALUES (:repo, 'ci-1', 2, :run, :at, '{}')"
            ),
            {"repo": repo_id, "run": old, "at": NOW},
        )
    report = gl.housekeeping.prune(keep=1, now=NOW)
    assert report.run_ids == (old,) and report.rows["shard_plans"] == 1
    with gl.store.read() as conn:
        plans = conn.execute(sa.text("SELECT key, baseline_run_id FROM shard_plans")).all()
    assert [tuple(p) for p in plans] == [("ci-1", None)]


def test_db_info_says_the_stores_size(gl: Greenline) -> None:
    add_run(gl, days_ago=1)
    info = gl.runs.db_info()
    size = info["size"]
    assert isinstance(size, dict) and size["bytes"] > 0
    if gl.store.dialect == "sqlite":  # the file, its write-ahead log and shared memory
        parts = {k: v for k, v in size.items() if k.endswith("_bytes")}
        assert size["bytes"] == sum(parts.values()) and parts["database_bytes"] > 0
        assert set(parts) <= {"database_bytes", "wal_bytes", "shm_bytes"}
    tables = size["tables"]
    if tables:  # PostgreSQL always; SQLite when it has its dbstat table
        assert set(tables) >= {"runs", "results", "coverage"} and tables["results"] > 0


def test_prune_then_vacuum_gives_the_room_back(gl: Greenline) -> None:
    many = [
        TestResult(f"t.py::test_{i}", Outcome.FAILED, 0.1, Phase.CALL, "x" * 200)
        for i in range(3000)
    ]
    for days in (30, 20):
        run_id = gl.runs.start_run(
            "pytest", commit=CommitInfo("a" * 40, "main"), started_at=NOW - timedelta(days=days)
        )
        gl.runs.add_results(run_id, many)
        gl.runs.finish_run(run_id, 0, complete=True)
    newest = add_run(gl, days_ago=1)
    report = gl.housekeeping.prune(keep=1, now=NOW, vacuum=True)
    assert report.vacuumed and report.rows["results"] == 6000
    assert run_ids(gl) == [newest]
    assert report.bytes_before is not None and report.bytes_after is not None
    if gl.store.dialect == "sqlite":  # PostgreSQL keeps the room for reuse
        assert report.bytes_after < report.bytes_before / 2


def cli(repo: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = run_cli(["--repo", str(repo), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_prune_command(
    git_repo: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with Greenline.open(git_repo, db=database_url) as gl:
        ids = [add_run(gl, days_ago=400 - i) for i in range(3)]
    db = ("--db", database_url)
    code, out, _ = cli(git_repo, capsys, *db, "db", "prune", "--keep", "1", "--dry-run")
    assert code == 0
    assert out.startswith("would delete 2 runs beyond the newest 1 run (12 rows: ")
    assert "4 results" in out and "4 coverage" in out and "nothing deleted" in out
    code, out, _ = cli(git_repo, capsys, *db, "db", "prune", "--older-than", "1000d", "-f", "json")
    doc = json.loads(out)
    assert (code, doc["schema"], doc["runs"], doc["dry_run"]) == (
        0,
        "greenline.db-prune/1",
        0,
        False,
    )
    code, _, err = cli(git_repo, capsys, *db, "db", "prune")
    assert code == 4 and "nothing to prune by" in err and "Hint:" in err
    code, _, err = cli(git_repo, capsys, *db, "db", "prune", "--older-than", "soon")
    assert code == 4 and "--older-than 'soon': not an age" in err
    (git_repo / "pyproject.toml").write_text("[tool.greenline]\nretention_runs = 2\n")
    code, out, _ = cli(git_repo, capsys, *db, "db", "prune", "-f", "json")
    doc = json.loads(out)
    assert (code, doc["run_ids"], doc["rule"]) == (0, [ids[0]], "beyond the newest 2 runs")
    code, out, _ = cli(git_repo, capsys, *db, "db", "info")
    assert code == 0 and "size" in out


def test_retention_prunes_after_a_recording(
    git_repo: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with Greenline.open(git_repo, db=database_url) as gl:
        ids = [add_run(gl, days_ago=3 - i) for i in range(3)]
    (git_repo / "pyproject.toml").write_text("[tool.greenline]\nretention_runs = 2\n")
    junit = Path(__file__).parent.parent / "data" / "junit" / "ant.xml"
    code, _, err = cli(git_repo, capsys, "--db", database_url, "import", "junit", str(junit))
    assert code == 0, err
    with Greenline.open(git_repo, db=database_url) as gl:
        left = run_ids(gl)
    assert len(left) == 2 and ids[2] in left, "the two newest: the import and ids[2]"


def test_retention_prunes_after_a_pytest_recording(pytester: pytest.Pytester) -> None:
    from tests.conftest import init_repo

    pytester.makepyfile(test_one="def test_one():\n    assert True\n")
    (pytester.path / "pyproject.toml").write_text("[tool.greenline]\nretention_runs = 1\n")
    init_repo(pytester.path)
    for _ in range(3):
        pytester.runpytest_subprocess("-p", "no:cacheprovider", "--greenline-record")
    with Greenline.open(pytester.path) as gl:
        assert [r.id for r in gl.runs.list_runs()] == [3], "each recording pruned the older"
