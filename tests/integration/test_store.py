from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from greenline.errors import StoreError
from greenline.model import (
    Block,
    CommitInfo,
    Environment,
    Outcome,
    Phase,
    QuarantineEntry,
    RunStatus,
    TestResult,
)
from greenline.store import HEAD_REVISION, Store, reads, upgrade_schema, writes
from greenline.store.engine import create_store_engine, read_revision
from greenline.store.schema import metadata

ENV = Environment("cpython-3.11.7", "linux-x86_64", "abc123")
COMMIT = CommitInfo(sha="a" * 40, branch="main", dirty=False, subject="first")


def new_run(store: Store, repository: str = "acme/shop", pid: int = 1) -> tuple[int, int]:
    with store.write() as conn:
        repo_id = writes.ensure_repository(conn, repository, "/src/shop")
        run_id = writes.insert_run(
            conn,
            repo_id=repo_id,
            commit=COMMIT,
            environment=ENV,
            source="pytest",
            started_at=datetime.now(UTC),
            hostname="host-1",
            pid=pid,
        )
    return repo_id, run_id


def test_migrations_create_exactly_the_schema_the_code_uses(database_url: str) -> None:
    with Store(database_url) as store, store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == []
        assert store.revision() == (HEAD_REVISION, HEAD_REVISION)


def test_the_alembic_migrations_give_the_same_schema(database_url: str) -> None:
    engine = create_store_engine(database_url)
    try:
        assert upgrade_schema(engine, via_migrations=True) == (None, HEAD_REVISION)
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
            assert read_revision(conn) == HEAD_REVISION
    finally:
        engine.dispose()
    with Store(database_url) as store:  # and greenline opens what Alembic made
        new_run(store)


def test_an_older_store_moves_forward_and_keeps_its_data(database_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    from greenline.store.engine import MIGRATIONS

    engine = create_store_engine(database_url)
    with engine.begin() as conn:  # a store made by the first release: revision 0001
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
    engine.dispose()
    engine = create_store_engine(database_url)
    with engine.begin() as conn:
        assert read_revision(conn) == "0001"
        repo = conn.execute(
            sa.text(
                "INSERT INTO repositories (name, created_at) VALUES ('old/repo', :now) RETURNING id"
            ),
            {"now": datetime.now(UTC)},
        ).scalar()
        conn.execute(
            sa.text(
                "INSERT INTO runs (repository_id, dirty, status, source, started_at, has_coverage)"
                " VALUES (:repo, false, 'complete', 'pytest', :now, false)"
            ),
            {"repo": repo, "now": datetime.now(UTC)},
        )
    engine.dispose()
    with Store(database_url) as store:
        assert store.revision() == (HEAD_REVISION, HEAD_REVISION)
        with store.read() as conn:
            assert [r.repository for r in reads.list_runs(conn, None)] == ["old/repo"]
            assert reads.count_rows(conn)["runs"] == 1


def test_file_reads_round_trip(database_url: str) -> None:
    with Store(database_url) as store:
        repo_id, run_id = new_run(store)
        with store.write() as conn:
            writes.insert_results(conn, run_id, repo_id, [TestResult("t::a", Outcome.PASSED)])
            writes.insert_file_reads(
                conn, run_id, repo_id, {"t::a": ["data/x.json", "data/x.json"]}
            )
        with store.read() as conn:
            assert reads.run_file_reads(conn, run_id) == {"t::a": frozenset({"data/x.json"})}


def test_opening_twice_is_idempotent(database_url: str) -> None:
    Store(database_url).close()
    with Store(database_url) as store:
        assert store.revision()[0] == HEAD_REVISION


def test_store_from_a_newer_greenline_is_refused_and_kept(database_url: str) -> None:
    with Store(database_url) as store:
        new_run(store)
        with store.write() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(StoreError) as info:
        Store(database_url)
    assert "schema revision 9999, newer than this greenline knows" in info.value.message
    assert "left untouched" in info.value.message
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM runs")).scalar() == 1
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == "9999"
    engine.dispose()


def test_run_round_trip_with_counts(database_url: str) -> None:
    with Store(database_url) as store:
        repo_id, run_id = new_run(store)
        results = [
            TestResult("t::a", Outcome.PASSED, 0.5, path="t.py"),
            TestResult("t::b", Outcome.FAILED, 0.25, Phase.CALL, "assert 1 == 2", path="t.py"),
            TestResult("t::c", Outcome.FAILED, 0.1, Phase.CALL, "flaky", attempt=1),
            TestResult("t::c", Outcome.PASSED, 0.1, attempt=2),
            TestResult("t::d", Outcome.SKIPPED, 0.0, message="later"),
        ]
        with store.write() as conn:
            writes.insert_results(conn, run_id, repo_id, results)
            writes.finish_run(conn, run_id, RunStatus.COMPLETE, 1)
        with store.read() as conn:
            run = reads.get_run(conn, run_id)
            stored = reads.run_results(conn, run_id)
    assert run is not None
    assert run.status is RunStatus.COMPLETE
    assert run.counts == {"passed": 2, "failed": 1, "skipped": 1}
    assert run.duration == pytest.approx(0.95)
    assert run.commit == CommitInfo(sha="a" * 40, branch="main", dirty=False, subject="first")
    assert run.environment == ENV
    assert run.exit_status == 1
    assert run.finished_at is not None and run.finished_at.tzinfo is not None
    assert stored == sorted(results, key=lambda r: (r.test_id, r.attempt))


def test_coverage_round_trip_shares_blocks(database_url: str) -> None:
    a = Block("shop/cart.py", "Cart.add", "c1")
    b = Block("shop/cart.py", "<module>", "c2")
    c = Block("shop/money.py", "to_cents", "c3")
    with Store(database_url) as store:
        repo_id, run_id = new_run(store)
        with store.write() as conn:
            writes.insert_results(
                conn,
                run_id,
                repo_id,
                [TestResult("t::x", Outcome.PASSED), TestResult("t::y", Outcome.PASSED)],
            )
            writes.insert_coverage(conn, run_id, repo_id, {"t::x": [a, b], "t::y": [b, c, c]})
        with store.read() as conn:
            coverage = {tc.test_id: tc.blocks for tc in reads.run_coverage(conn, run_id)}
            rows = reads.count_rows(conn)
            run = reads.get_run(conn, run_id)
    assert coverage == {"t::x": frozenset({a, b}), "t::y": frozenset({b, c})}
    assert rows["source_blocks"] == 3
    # a row per test, naming its set of blocks; each set's blocks stored once
    assert (rows["coverage"], rows["coverage_sets"], rows["coverage_set_blocks"]) == (2, 2, 4)
    assert run is not None and run.has_coverage


def test_the_same_coverage_again_is_stored_once(database_url: str) -> None:
    blocks = [Block("shop/cart.py", f"f{i}", f"c{i}") for i in range(50)]
    batch = {f"t::{i}": blocks[i % 10 : i % 10 + 20] for i in range(40)}
    with Store(database_url) as store:
        repo_id, first = new_run(store)
        _, second = new_run(store)
        with store.write() as conn:
            writes.insert_coverage(conn, first, repo_id, batch)
        with store.read() as conn:
            once = reads.count_rows(conn)
        with store.write() as conn:
            writes.insert_coverage(conn, second, repo_id, batch)
        with store.read() as conn:
            twice = reads.count_rows(conn)
            again = {tc.test_id: tc.blocks for tc in reads.run_coverage(conn, second)}
            sizes = reads.coverage_sizes(conn, second)
    assert (once["coverage_sets"], once["coverage_set_blocks"]) == (10, 200)
    # the second run adds its 40 rows and no set: ten sets serve both runs
    assert twice["coverage"] - once["coverage"] == 40
    assert (twice["coverage_sets"], twice["coverage_set_blocks"]) == (10, 200)
    assert again == {t: frozenset(b) for t, b in batch.items()}
    assert sizes == dict.fromkeys(batch, 20)


def test_blocks_given_again_for_a_test_join_its_set(database_url: str) -> None:
    a, b, c = (Block("shop/cart.py", f"f{i}", f"c{i}") for i in range(3))
    with Store(database_url) as store:
        repo_id, run_id = new_run(store)
        with store.write() as conn:
            writes.insert_coverage(conn, run_id, repo_id, {"t::x": [a, b], "t::y": [c]})
        with store.write() as conn:  # a later batch: a retry of t::x ran c too
            writes.insert_coverage(conn, run_id, repo_id, {"t::x": [b, c]})
        with store.read() as conn:
            coverage = {tc.test_id: tc.blocks for tc in reads.run_coverage(conn, run_id)}
            rows = reads.count_rows(conn)
    assert coverage == {"t::x": frozenset({a, b, c}), "t::y": frozenset({c})}
    assert rows["coverage"] == 2


def test_coverage_stored_before_sets_moves_into_them(database_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    from greenline.store.engine import MIGRATIONS

    engine = create_store_engine(database_url)
    with engine.begin() as conn:  # a store of revision 0014: a row per test and block
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = conn
        command.upgrade(config, "0014")
    with engine.begin() as conn:
        now = {"now": datetime.now(UTC)}
        conn.execute(
            sa.text("INSERT INTO repositories (id, name, created_at) VALUES (1, 'o/r', :now)"),
            now,
        )
        for run in (1, 2):
            conn.execute(
                sa.text(
                    "INSERT INTO runs (id, repository_id, dirty, status, source, started_at, "
                    "has_coverage) VALUES (:id, 1, false, 'complete', 'pytest', :now, true)"
                ),
                {"id": run, **now},
            )
        for pk, name in ((1, "t::x"), (2, "t::y")):
            conn.execute(
                sa.text("INSERT INTO tests (id, repository_id, test_id) VALUES (:pk, 1, :t)"),
                {"pk": pk, "t": name},
            )
        for block in (1, 2, 3):
            conn.execute(
                sa.text(
                    "INSERT INTO source_blocks (id, repository_id, path, name, checksum) "
                    "VALUES (:id, 1, 'a.py', :name, :sum)"
                ),
                {"id": block, "name": f"f{block}", "sum": f"c{block}"},
            )
        # t::x ran blocks 1 and 2 in both runs, t::y block 3 in run 2
        for run, test, block in ((1, 1, 1), (1, 1, 2), (2, 1, 2), (2, 1, 1), (2, 2, 3)):
            conn.execute(
                sa.text("INSERT INTO coverage (run_id, test_pk, block_id) VALUES (:r, :t, :b)"),
                {"r": run, "t": test, "b": block},
            )
        if conn.dialect.name == "postgresql":  # the ids were given: the sequences move past
            for table in ("repositories", "runs", "tests", "source_blocks"):
                conn.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
    engine.dispose()
    with Store(database_url) as store:
        assert store.revision() == (HEAD_REVISION, HEAD_REVISION)
        with store.read() as conn:
            first = {tc.test_id: tc.blocks for tc in reads.run_coverage(conn, 1)}
            second = {tc.test_id: tc.blocks for tc in reads.run_coverage(conn, 2)}
            rows = reads.count_rows(conn)
        x = frozenset({Block("a.py", "f1", "c1"), Block("a.py", "f2", "c2")})
        assert first == {"t::x": x}
        assert second == {"t::x": x, "t::y": frozenset({Block("a.py", "f3", "c3")})}
        assert (rows["coverage"], rows["coverage_sets"], rows["coverage_set_blocks"]) == (3, 2, 3)
        with store.write() as conn:  # new sets get ids past the moved ones
            writes.insert_coverage(conn, 2, 1, {"t::z": [Block("a.py", "f9", "c9")]})
        with store.read() as conn:
            assert reads.count_rows(conn)["coverage_sets"] == 3


def test_renumbering_continues_attempts(database_url: str) -> None:
    with Store(database_url) as store:
        repo_id, run_id = new_run(store)
        first = [TestResult("t::a", Outcome.FAILED), TestResult("t::a", Outcome.PASSED, attempt=2)]
        again = [TestResult("t::a", Outcome.PASSED), TestResult("t::a", Outcome.FAILED)]
        with store.write() as conn:
            writes.insert_results(conn, run_id, repo_id, first, renumber=True)
            writes.insert_results(conn, run_id, repo_id, again, renumber=True)
        with store.read() as conn:
            stored = reads.run_results(conn, run_id)
    assert [(r.attempt, r.outcome) for r in stored] == [
        (1, Outcome.FAILED),
        (2, Outcome.PASSED),
        (3, Outcome.PASSED),
        (4, Outcome.FAILED),
    ]


def test_a_failed_write_leaves_the_store_as_it_was(database_url: str) -> None:
    with Store(database_url) as store:
        repo_id, run_id = new_run(store)
        with pytest.raises(sa.exc.IntegrityError), store.write() as conn:
            writes.insert_results(conn, run_id, repo_id, [TestResult("t::new", Outcome.PASSED)])
            writes.insert_results(conn, run_id, repo_id, [TestResult("t::new", Outcome.PASSED)])
        with store.read() as conn:
            assert reads.run_results(conn, run_id) == []
            assert reads.known_test_ids(conn, "acme/shop") == []


def test_dead_runs_become_incomplete(database_url: str) -> None:
    with Store(database_url) as store:
        _, dead = new_run(store, pid=111)
        _, alive = new_run(store, pid=222)
        with store.write() as conn:
            n = writes.mark_dead_runs_incomplete(conn, "host-1", lambda pid: pid == 222)
            other_host = writes.mark_dead_runs_incomplete(conn, "host-2", lambda pid: False)
        with store.read() as conn:
            assert n == 1
            assert other_host == 0
            assert reads.get_run(conn, dead).status is RunStatus.INCOMPLETE  # type: ignore[union-attr]
            assert reads.get_run(conn, alive).status is RunStatus.RUNNING  # type: ignore[union-attr]


def test_runs_are_listed_per_repository_newest_first(database_url: str) -> None:
    with Store(database_url) as store:
        _, first = new_run(store)
        _, second = new_run(store)
        new_run(store, repository="acme/other")
        with store.read() as conn:
            listed = reads.list_runs(conn, "acme/shop")
            by_branch = reads.list_runs(conn, "acme/shop", branch="nope")
            running = reads.list_runs(conn, "acme/shop", status=RunStatus.RUNNING, limit=1)
    assert [r.id for r in listed] == [second, first]
    assert by_branch == []
    assert [r.id for r in running] == [second]


def test_test_history_and_summaries(database_url: str) -> None:
    with Store(database_url) as store:
        repo_id, run1 = new_run(store)
        _, run2 = new_run(store)
        with store.write() as conn:
            writes.insert_results(conn, run1, repo_id, [TestResult("t::a", Outcome.PASSED, 1.0)])
            writes.insert_results(
                conn, run2, repo_id, [TestResult("t::a", Outcome.FAILED, 3.0, Phase.CALL, "boom")]
            )
        with store.read() as conn:
            history = reads.read_test_history(conn, "acme/shop", "t::a")
            (summary,) = reads.summarize_tests(conn, "acme/shop")
    assert [(h.run_id, h.result.outcome) for h in history] == [
        (run2, Outcome.FAILED),
        (run1, Outcome.PASSED),
    ]
    assert history[0].sha == "a" * 40 and history[0].branch == "main"
    assert (summary.runs, summary.failures, summary.last_outcome) == (2, 1, Outcome.FAILED)
    assert summary.mean_duration == pytest.approx(2.0)


def test_unreachable_server_is_one_clear_error() -> None:
    with pytest.raises(StoreError) as info:
        Store("postgresql+psycopg://nobody:hunter2@127.0.0.1:1/none")
    assert "hunter2" not in str(info.value)
    assert "cannot use the store at postgresql+psycopg://nobody:***@127.0.0.1:1/none" in str(
        info.value
    )


def test_not_a_url() -> None:
    with pytest.raises(StoreError, match="not a database URL"):
        Store("definitely not a url")


def test_ranking_examples_history_and_models_round_trip(database_url: str) -> None:
    with Store(database_url) as store:
        repo_id, first = new_run(store)
        _, second = new_run(store, pid=2)
        for run_id, outcome in ((first, Outcome.FAILED), (second, Outcome.PASSED)):
            with store.write() as conn:
                writes.insert_results(
                    conn,
                    run_id,
                    repo_id,
                    [
                        TestResult("t.py::a", outcome, 0.5, path="t.py"),
                        TestResult("t.py::b", Outcome.SKIPPED, 0.0, path="t.py"),
                    ],
                )
                writes.insert_selection_features(
                    conn,
                    run_id,
                    repo_id,
                    [("t.py::a", None, 0.25, (1.0, 0.5)), ("t.py::b", None, 0.1, (2.0,))],
                )
                writes.finish_run(conn, run_id, RunStatus.COMPLETE, 0)
        with store.read() as conn:
            examples = reads.selection_examples(conn, "acme/shop")
            failures, taken = reads.recent_outcomes(conn, "acme/shop")
        assert sorted(examples) == sorted(
            [
                (first, "[1.0, 0.5]", "failed"),
                (first, "[2.0]", "skipped"),
                (second, "[1.0, 0.5]", "passed"),
                (second, "[2.0]", "skipped"),
            ]
        )
        assert failures == {"t.py::a": 1} and taken == {"t.py::a": 2, "t.py::b": 2}
        with store.write() as conn:
            doc = {"examples": 2, "failing": 1, "adopted": True, "trees": []}
            model_id = writes.insert_ranker(conn, repo_id, doc, datetime.now(UTC))
        with store.read() as conn:
            found = reads.latest_ranker(conn, "acme/shop")
            assert reads.latest_ranker(conn, "someone/else") is None
        assert found is not None and found[0] == model_id
        assert found[1].tzinfo is not None and json.loads(found[2]) == doc


def test_quarantine_and_observations_round_trip(database_url: str) -> None:
    now = datetime(2026, 11, 28, 12, tzinfo=UTC)
    with Store(database_url) as store:
        repo_id, run_id = new_run(store)
        with store.write() as conn:
            writes.insert_results(
                conn,
                run_id,
                repo_id,
                [
                    TestResult("t.py::a", Outcome.FAILED, 0.5, Phase.CALL, "boom", 1, "t.py"),
                    TestResult("t.py::a", Outcome.PASSED, 0.4, attempt=2, path="t.py"),
                    TestResult("t.py::b", Outcome.SKIPPED, 0.0, path="t.py"),
                ],
            )
            writes.finish_run(conn, run_id, RunStatus.COMPLETE, 1)
            writes.insert_quarantine(
                conn,
                repo_id,
                QuarantineEntry("t.py::a", "flaky", "ana", now, now + timedelta(days=1)),
            )
        with store.read() as conn:
            seen = reads.observations(conn, "acme/shop", runs_back=10)
            (entry,) = reads.quarantine_entries(conn, "acme/shop", "t.py::a")
        assert sorted((o.test_id, o.attempt, o.outcome.value, o.message) for o in seen) == [
            ("t.py::a", 1, "failed", "boom"),
            ("t.py::a", 2, "passed", None),
        ]
        assert seen[0].sha == COMMIT.sha and seen[0].environment == ENV.fingerprint
        assert entry.is_active(now) and not entry.is_active(now + timedelta(days=2))
        with store.write() as conn:
            assert writes.release_quarantine(conn, repo_id, "t.py::a", now, "fixed") == 1
            assert writes.release_quarantine(conn, repo_id, "t.py::a", now, "fixed") == 0
        with store.read() as conn:
            (entry,) = reads.quarantine_entries(conn, "acme/shop")
        assert entry.released_at == now and entry.release_reason == "fixed"


def test_flaky_scans_round_trip_newest_first_per_commit(database_url: str) -> None:
    t0 = datetime(2026, 11, 30, 9, tzinfo=UTC)
    with Store(database_url) as store:
        repo_id, _ = new_run(store)
        with store.write() as conn:
            writes.insert_flaky_scan(conn, repo_id, COMMIT, t0, 20, 12.5, '{"n": 1}')
            edited = CommitInfo(sha=COMMIT.sha, branch="main", dirty=True)
            writes.insert_flaky_scan(conn, repo_id, edited, t0 + timedelta(hours=1), 5, 1.0, "{}")
            other = CommitInfo(sha="f" * 40, branch="main")
            writes.insert_flaky_scan(conn, repo_id, other, t0 + timedelta(hours=2), 8, 3.0, "[]")
        with store.read() as conn:
            everything = reads.recent_flaky_scans(conn, "acme/shop")
            on_commit = reads.recent_flaky_scans(conn, "acme/shop", COMMIT.sha)
            assert reads.recent_flaky_scans(conn, "someone/else") == []
        assert [(s[1], s[2]) for s in everything] == [
            ("f" * 40, "[]"),
            (COMMIT.sha, "{}"),
            (COMMIT.sha, '{"n": 1}'),
        ]
        # only a clean tree at that commit counts as a scan of it
        assert on_commit == [(t0, COMMIT.sha, '{"n": 1}')]


def test_deleting_runs_drops_the_sets_no_run_names(database_url: str) -> None:
    from greenline.store.retention import delete_runs

    shared, mine = Block("a.py", "f", "c1"), Block("a.py", "g", "c2")
    with Store(database_url) as store:
        repo_id, old = new_run(store)
        _, new = new_run(store)
        with store.write() as conn:
            writes.insert_coverage(conn, old, repo_id, {"t::x": [shared], "t::y": [mine]})
            writes.insert_coverage(conn, new, repo_id, {"t::x": [shared]})
        with store.write() as conn:
            delete_runs(conn, [old])
        with store.read() as conn:
            rows = reads.count_rows(conn)
            kept = {tc.test_id: tc.blocks for tc in reads.run_coverage(conn, new)}
    assert (rows["coverage"], rows["coverage_sets"], rows["coverage_set_blocks"]) == (1, 1, 1)
    assert kept == {"t::x": frozenset({shared})}
