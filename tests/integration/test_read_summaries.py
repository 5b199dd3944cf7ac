"""The summaries the read paths page through (each run's counts and durations, each test's
runs, failures, durations and newest outcome, the flaky verdicts kept between requests) equal
what a full recomputation from the stored results gives, after runs with retries, attempts
stored late, JUnit imports, quarantine changes, runs that go silent and come back, concurrent
writers, and a store migrated from before the summaries existed."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from greenline.api import Greenline
from greenline.flaky import detect_flaky
from greenline.model import CommitInfo, Outcome, RunStatus, TestResult, TestSummary, Verdict
from greenline.store import Store, reads, summary_reads

DATA = Path(__file__).parent.parent / "data" / "junit"
T0 = datetime(2026, 11, 1, tzinfo=UTC)
#: ids whose code point order differs from a locale's (case, accents, punctuation)
IDS = ["t::Zebra", "t::apple", "t::Äpfel", "t::a_b", "t::a-b", "t::B", "t::émile", "t::z"]


@pytest.fixture
def gl(git_repo: Path, database_url: str) -> Iterator[Greenline]:
    with Greenline.open(git_repo, db=database_url) as api:
        yield api


def recomputed_tests(gl: Greenline) -> list[TestSummary]:
    """Per test, from every stored result: each run's last attempt counted once."""
    finals: dict[str, dict[int, TestResult]] = defaultdict(dict)
    started: dict[int, datetime] = {}
    for run in gl.runs.list_runs(limit=10_000):
        started[run.id] = run.started_at
        for r in gl.runs.run_results(run.id):
            kept = finals[r.test_id].get(run.id)
            if kept is None or r.attempt > kept.attempt:
                finals[r.test_id][run.id] = r
    out = []
    for test_id in sorted(finals):
        per_run = finals[test_id]
        last = max(per_run)
        out.append(
            TestSummary(
                test_id=test_id,
                runs=len(per_run),
                failures=sum(r.outcome.is_failure for r in per_run.values()),
                mean_duration=sum(r.duration for r in per_run.values()) / len(per_run),
                last_outcome=per_run[last].outcome,
                last_run_id=last,
                last_seen=started[last],
            )
        )
    return out


def recomputed_run(gl: Greenline, run_id: int) -> tuple[dict[str, int], float]:
    results = gl.runs.run_results(run_id)
    last: dict[str, TestResult] = {}
    for r in results:
        if r.test_id not in last or r.attempt > last[r.test_id].attempt:
            last[r.test_id] = r
    return dict(Counter(r.outcome.value for r in last.values())), sum(r.duration for r in results)


def assert_summaries_match(gl: Greenline) -> None:
    expected = recomputed_tests(gl)
    kept = gl.runs.list_tests()
    assert [s.test_id for s in kept] == [s.test_id for s in expected]
    for got, want in zip(kept, expected, strict=True):
        assert (got.runs, got.failures, got.last_outcome) == (
            want.runs,
            want.failures,
            want.last_outcome,
        ), got.test_id
        assert (got.last_run_id, got.last_seen) == (want.last_run_id, want.last_seen)
        assert got.mean_duration == pytest.approx(want.mean_duration, abs=1e-9)
    with gl.store.read() as conn:  # the store's own recomputation agrees too
        full = {s.test_id: s for s in reads.summarize_tests(conn, gl.repository)}
    assert {s.test_id: (s.runs, s.failures, s.last_run_id) for s in kept} == {
        t: (s.runs, s.failures, s.last_run_id) for t, s in full.items()
    }
    for run in gl.runs.list_runs(limit=10_000):
        counts, seconds = recomputed_run(gl, run.id)
        assert run.counts == counts, run.id
        assert run.duration == pytest.approx(seconds, abs=1e-9)


def assert_verdicts_match(gl: Greenline) -> None:
    """The kept verdicts equal detection over every observation of the window."""
    with gl.store.read() as conn:
        seen = reads.observations(conn, gl.repository, 200)
    expected = [v for v in detect_flaky(seen) if v.verdict is not Verdict.STABLE]
    assert gl.flaky.verdicts() == expected
    assert gl.flaky.verdicts() == expected  # the kept copy, asked again
    assert [
        v for v in gl.flaky.verdicts(include_stable=True) if v.verdict is not Verdict.STABLE
    ] == expected


def record(
    gl: Greenline,
    batches: list[list[TestResult]],
    *,
    day: int,
    sha: str = "a" * 40,
    finish: bool = True,
) -> int:
    run_id = gl.runs.start_run(
        "pytest", commit=CommitInfo(sha=sha, branch="main"), started_at=T0 + timedelta(day)
    )
    for batch in batches:
        gl.runs.add_results(run_id, batch)
    if finish:
        gl.runs.finish_run(run_id, 0, complete=True)
    return run_id


def r(test_id: str, outcome: Outcome, duration: float = 0.1, attempt: int = 1) -> TestResult:
    return TestResult(test_id, outcome, duration, attempt=attempt)


P, F, E, S = Outcome.PASSED, Outcome.FAILED, Outcome.ERROR, Outcome.SKIPPED


def test_summaries_equal_a_full_recomputation_through_retries_and_late_attempts(
    gl: Greenline,
) -> None:
    record(gl, [[r(t, P, 0.01 * i) for i, t in enumerate(IDS)]], day=0)
    assert_summaries_match(gl)
    # a retry in a later batch replaces the first attempt's outcome and duration
    record(gl, [[r("t::apple", F, 0.5), r("t::B", S)], [r("t::apple", P, 0.7, attempt=2)]], day=1)
    assert_summaries_match(gl)
    # the second attempt stored before the first: the first changes no final
    record(gl, [[r("t::z", F, 0.3, attempt=2)], [r("t::z", P, 0.2, attempt=1)]], day=2)
    assert_summaries_match(gl)
    # attempts inside one batch, in any order; a failed retry after a pass
    record(
        gl,
        [[r("t::a_b", P, 1.0, attempt=2), r("t::a_b", F, 2.0, attempt=1), r("t::émile", E)]],
        day=3,
    )
    run = record(gl, [[r("t::Zebra", P)], [r("t::Zebra", F, attempt=2)]], day=4)
    assert_summaries_match(gl)
    assert gl.runs.get_run(run).counts == {"failed": 1}
    # a run started earlier than the newest but stored later: the newest run's outcome is kept
    record(gl, [[r("t::B", F)]], day=-5)
    assert_summaries_match(gl)
    # JUnit reports list retried tests twice: their attempts are renumbered on import
    gl.runs.import_junit([DATA / "pytest_xunit2.xml", DATA / "surefire.xml"])
    gl.runs.import_junit([DATA / "surefire.xml"])
    assert_summaries_match(gl)
    assert_verdicts_match(gl)


def test_a_run_still_running_counts_and_a_silent_upload_that_comes_back(gl: Greenline) -> None:
    record(gl, [[r(t, P) for t in IDS]], day=0)
    running = record(gl, [[r("t::apple", F)]], day=1, finish=False)
    assert_summaries_match(gl)
    assert_verdicts_match(gl)  # a running run is no evidence yet
    gl.runs.finish_run(running, 1, complete=False)
    assert_verdicts_match(gl)
    gl.runs.add_results(running, [r("t::apple", P, attempt=2), r("t::z", F)])
    assert_summaries_match(gl)
    assert_verdicts_match(gl)  # results added to a finished run change what is kept


def test_quarantine_changes_leave_the_verdicts_equal_to_detection(gl: Greenline) -> None:
    for day in range(6):
        record(gl, [[r("t::apple", F if day % 2 else P), r("t::B", F), r("t::z", P)]], day=day)
    assert_verdicts_match(gl)
    entry = gl.flaky.quarantine("t::apple", "flaky: #12", now=T0 + timedelta(7))
    assert gl.flaky.active_quarantine(T0 + timedelta(8)) == {"t::apple": entry}
    assert_verdicts_match(gl)
    record(gl, [[r("t::apple", P), r("t::B", P), r("t::z", F)]], day=8)
    assert_verdicts_match(gl)
    gl.flaky.release("t::apple", "fixed", now=T0 + timedelta(9))
    assert_verdicts_match(gl)
    assert_summaries_match(gl)
    flaky = {v.test_id: v.verdict for v in gl.flaky.verdicts()}
    assert flaky == {"t::apple": Verdict.FLAKY, "t::B": Verdict.FLAKY, "t::z": Verdict.FLAKY}


def test_concurrent_writers_of_one_suite_lose_no_count(gl: Greenline, git_repo: Path) -> None:
    tests = [f"t::test_{i:03d}" for i in range(300)]
    url = gl.store.url
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            with Greenline.open(git_repo, db=url) as mine:
                for k in range(2):
                    batches = [
                        [r(t, F if (i + n + k) % 7 == 0 else P, 0.001 * i) for i, t in chunk]
                        for chunk in (list(enumerate(tests))[:150], list(enumerate(tests))[150:])
                    ]
                    record(mine, batches, day=n * 2 + k)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    summaries = gl.runs.list_tests()
    assert len(summaries) == 300 and {s.runs for s in summaries} == {8}
    assert_summaries_match(gl)
    assert_verdicts_match(gl)


def test_pages_of_tests_follow_code_point_order(gl: Greenline) -> None:
    record(gl, [[r(t, P) for t in IDS]], day=0)
    ids: list[str] = []
    after = None
    while True:
        page = gl.runs.list_tests(after=after, limit=3)
        ids += [s.test_id for s in page]
        if len(page) < 3:
            break
        after = page[-1].test_id
    assert ids == sorted(IDS)
    record(gl, [[r("t::B", P, 5.0), r("t::z", F, 3.0)]], day=1)
    assert [s.test_id for s in gl.runs.list_tests(slowest=2)] == ["t::B", "t::z"]
    assert [s.test_id for s in gl.runs.list_tests(failing=True)] == ["t::z"]


def test_a_store_from_before_the_summaries_is_filled_on_upgrade(database_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    from greenline.store.engine import MIGRATIONS, create_store_engine

    engine = create_store_engine(database_url)
    with engine.begin() as conn:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = conn
        command.upgrade(config, "0013")
        _old_history(conn)
    engine.dispose()
    with Store(database_url) as store, store.read() as conn:
        (one, two) = reads.list_runs(conn, "old/repo")[::-1]
        assert (one.counts, two.counts) == ({"passed": 1, "failed": 1}, {"passed": 2})
        assert one.duration == pytest.approx(1.5) and two.duration == pytest.approx(3.5)
        kept = {s.test_id: s for s in summary_reads.list_test_summaries(conn, "old/repo")}
        full = {s.test_id: s for s in reads.summarize_tests(conn, "old/repo")}
        assert kept.keys() == full.keys() == {"t::a", "t::b"}
        for test_id, want in full.items():
            got = kept[test_id]
            assert (got.runs, got.failures, got.last_outcome, got.last_run_id) == (
                want.runs,
                want.failures,
                want.last_outcome,
                want.last_run_id,
            )
            assert got.mean_duration == pytest.approx(want.mean_duration)
        assert kept["t::a"].last_outcome is Outcome.PASSED and kept["t::a"].failures == 0
        assert kept["t::b"].failures == 1


def _old_history(conn: sa.Connection) -> None:
    """Two runs written as a store at revision 0013 holds them: t::a passed on a retry in
    the first, t::b failed there; both passed in the second."""
    now = datetime.now(UTC)
    repo = conn.execute(
        sa.text(
            "INSERT INTO repositories (name, created_at) VALUES ('old/repo', :now) RETURNING id"
        ),
        {"now": now},
    ).scalar()
    pks = {}
    for test_id in ("t::a", "t::b"):
        pks[test_id] = conn.execute(
            sa.text("INSERT INTO tests (repository_id, test_id) VALUES (:repo, :t) RETURNING id"),
            {"repo": repo, "t": test_id},
        ).scalar()
    rows: list[dict[str, Any]] = []
    for n, results in enumerate(
        [
            [("t::a", "failed", 0.25, 1), ("t::a", "passed", 0.25, 2), ("t::b", "failed", 1.0, 1)],
            [("t::a", "passed", 1.5, 1), ("t::b", "passed", 2.0, 1)],
        ]
    ):
        run = conn.execute(
            sa.text(
                "INSERT INTO runs (repository_id, dirty, status, source, started_at, "
                "has_coverage) VALUES (:repo, false, 'complete', 'pytest', :at, false) "
                "RETURNING id"
            ),
            {"repo": repo, "at": now + timedelta(n)},
        ).scalar()
        rows += [
            {"run": run, "pk": pks[t], "outcome": o, "duration": d, "attempt": a}
            for t, o, d, a in results
        ]
    conn.execute(
        sa.text(
            "INSERT INTO results (run_id, test_pk, outcome, duration, attempt) "
            "VALUES (:run, :pk, :outcome, :duration, :attempt)"
        ),
        rows,
    )


def test_the_runs_list_answers_from_the_kept_counts(gl: Greenline) -> None:
    """With the result rows gone from under it, the list still says what the run held: it
    counts no results per request."""
    run = record(gl, [[r(t, P, 0.5) for t in IDS], [r("t::B", F, 0.5, attempt=2)]], day=0)
    with gl.store.write() as conn:
        conn.execute(sa.text("DELETE FROM results"))
    listed = gl.runs.list_runs(limit=1)[0]
    assert listed.id == run
    assert listed.counts == {"passed": len(IDS) - 1, "failed": 1}
    assert listed.test_count == len(IDS)
    assert listed.status is RunStatus.COMPLETE
    assert listed.duration == pytest.approx(0.5 * (len(IDS) + 1))
