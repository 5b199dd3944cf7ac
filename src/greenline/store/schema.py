"""SQLAlchemy Core tables of the store; Alembic migrations create and evolve them."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from greenline.store.lookups import FAILED_CONDITION

metadata = MetaData()

repositories = Table(
    "repositories",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("root", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

commits = Table(
    "commits",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("repository_id", ForeignKey("repositories.id"), nullable=False),
    Column("sha", String(64), nullable=False),
    Column("committed_at", DateTime(timezone=True)),
    Column("subject", Text),
    UniqueConstraint("repository_id", "sha"),
)

branches = Table(
    "branches",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("repository_id", ForeignKey("repositories.id"), nullable=False),
    Column("name", String(255), nullable=False),
    UniqueConstraint("repository_id", "name"),
)

environments = Table(
    "environments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("python", String(64), nullable=False),
    Column("platform", String(255), nullable=False),
    Column("packages_hash", String(64), nullable=False),
    Column("fingerprint", String(400), nullable=False, unique=True),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("repository_id", ForeignKey("repositories.id"), nullable=False),
    Column("commit_id", ForeignKey("commits.id")),
    Column("branch_id", ForeignKey("branches.id")),
    Column("environment_id", ForeignKey("environments.id")),
    Column("dirty", Boolean, nullable=False, default=False),
    Column("status", String(16), nullable=False),
    Column("source", String(16), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("hostname", String(255)),
    Column("pid", Integer),
    Column("exit_status", Integer),
    Column("args", Text),
    Column("has_coverage", Boolean, nullable=False, default=False),
    #: every result row of the run (all attempts) and their summed durations, kept as results
    #: are stored: no read counts a run's results
    Column("result_rows", Integer, nullable=False, default=0, server_default="0"),
    Column("result_seconds", Float, nullable=False, default=0.0, server_default="0"),
    #: the run whose coverage rows hold this run's coverage, when it recorded exactly what that
    #: run stored (see store.coverage_share); NULL: its own rows, if any
    Column("coverage_of", Integer),
    Index("ix_runs_repository_started", "repository_id", "started_at"),
    Index("ix_runs_coverage_of", "coverage_of"),
)

tests = Table(
    "tests",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("repository_id", ForeignKey("repositories.id"), nullable=False),
    Column("test_id", Text, nullable=False),
    Column("path", Text),
    UniqueConstraint("repository_id", "test_id"),
)

results = Table(
    "results",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", ForeignKey("runs.id"), nullable=False),
    Column("test_pk", ForeignKey("tests.id"), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("duration", Float, nullable=False, default=0.0),
    Column("phase", String(16)),
    Column("message", Text),
    Column("attempt", Integer, nullable=False, default=1),
    UniqueConstraint("run_id", "test_pk", "attempt"),
    Index("ix_results_test_run", "test_pk", "run_id"),
    #: the failed attempts alone (a small part of any history): the tests a window of runs saw
    #: fail are found without reading the rest. Queries spell the condition the same way.
    Index(
        "ix_results_failures",
        "run_id",
        "test_pk",
        sqlite_where=text(FAILED_CONDITION),
        postgresql_where=text(FAILED_CONDITION),
    ),
)

#: Per run: how many tests ended with each outcome (their last attempt), kept as results are
#: stored (an outcome a later attempt replaced is counted down).
run_outcomes = Table(
    "run_outcomes",
    metadata,
    Column("run_id", ForeignKey("runs.id"), primary_key=True),
    Column("outcome", String(16), primary_key=True),
    Column("tests", Integer, nullable=False),
)

#: Per test, over every run of its repository (each run's last attempt): runs, failures, summed
#: durations and the newest run's outcome, kept as results are stored, in the same transaction.
#: ``test_id`` repeats the test's id, ordered by code point on either database (PostgreSQL's
#: "C" collation), so lists page through this table's index in the order Python sorts.
test_summaries = Table(
    "test_summaries",
    metadata,
    Column("test_pk", ForeignKey("tests.id"), primary_key=True),
    Column("repository_id", ForeignKey("repositories.id"), nullable=False),
    Column("test_id", Text().with_variant(Text(collation="C"), "postgresql"), nullable=False),
    Column("runs", Integer, nullable=False),
    Column("failures", Integer, nullable=False),
    Column("seconds", Float, nullable=False),
    Column("last_run_id", ForeignKey("runs.id"), nullable=False),
    Column("last_outcome", String(16), nullable=False),
    Index("ix_test_summaries_order", "repository_id", "test_id", unique=True),
)

source_blocks = Table(
    "source_blocks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("repository_id", ForeignKey("repositories.id"), nullable=False),
    Column("path", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("checksum", String(64), nullable=False),
    UniqueConstraint("repository_id", "path", "name", "checksum"),
)

#: The blocks a test ran, stored once however many runs ran exactly them: a set is named by
#: the digest of its sorted block ids (a suite recorded again adds a row per test, not one per
#: test and block).
coverage_sets = Table(
    "coverage_sets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("repository_id", ForeignKey("repositories.id"), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("blocks", Integer, nullable=False),
    UniqueConstraint("repository_id", "digest"),
)

coverage_set_blocks = Table(
    "coverage_set_blocks",
    metadata,
    Column("set_id", ForeignKey("coverage_sets.id"), primary_key=True),
    Column("block_id", ForeignKey("source_blocks.id"), primary_key=True),
    Index("ix_coverage_set_blocks_block", "block_id"),
)

#: Per run and test, the set of blocks it ran (found from a block: its sets, then the rows of
#: one run that name them).
coverage = Table(
    "coverage",
    metadata,
    Column("run_id", ForeignKey("runs.id"), primary_key=True),
    Column("test_pk", ForeignKey("tests.id"), primary_key=True),
    Column("set_id", ForeignKey("coverage_sets.id"), nullable=False),
    Index("ix_coverage_set", "set_id", "run_id"),
)

#: What ran while each project module was imported before the run's first test (per importing
#: module's path; ``<collection>`` for code run outside any module's import).
import_coverage = Table(
    "import_coverage",
    metadata,
    Column("run_id", ForeignKey("runs.id"), primary_key=True),
    Column("module_path", Text, primary_key=True),
    Column("block_id", ForeignKey("source_blocks.id"), primary_key=True),
    Index("ix_import_coverage_block", "block_id"),
)

file_reads = Table(
    "file_reads",
    metadata,
    Column("run_id", ForeignKey("runs.id"), primary_key=True),
    Column("test_pk", ForeignKey("tests.id"), primary_key=True),
    Column("path", Text, primary_key=True),
    Index("ix_file_reads_path", "path"),
)

#: The tests a recorded run's change affected, with the ranking features selection saw (JSON
#: list in ranking.FEATURES order) and the likelihood it gave: with the run's outcomes, the
#: examples a ranking model learns from.
selection_features = Table(
    "selection_features",
    metadata,
    Column("run_id", ForeignKey("runs.id"), primary_key=True),
    Column("test_pk", ForeignKey("tests.id"), primary_key=True),
    Column("likelihood", Float, nullable=False),
    Column("features", Text, nullable=False),
)

#: Learned ranking models (JSON, see selection.learn), newest last.
rankers = Table(
    "rankers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("repository_id", ForeignKey("repositories.id"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("examples", Integer, nullable=False),
    Column("failing", Integer, nullable=False),
    Column("adopted", Boolean, nullable=False),
    Column("model", Text, nullable=False),
    Index("ix_rankers_repository", "repository_id", "created_at"),
)

#: Quarantined tests (one row per quarantine; released or expired ones stay as history).
quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("repository_id", ForeignKey("repositories.id"), nullable=False),
    Column("test_id", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("owner", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("released_at", DateTime(timezone=True)),
    Column("release_reason", Text),
    Index("ix_quarantine_test", "repository_id", "test_id"),
)

#: Flaky scans: each scan's report (verdicts, reference outcomes, failure messages) as JSON.
flaky_scans = Table(
    "flaky_scans",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("repository_id", ForeignKey("repositories.id"), nullable=False),
    Column("sha", Text),
    Column("dirty", Boolean, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("trials", Integer, nullable=False),
    Column("seconds", Float, nullable=False),
    Column("report", Text, nullable=False),
    Index("ix_flaky_scans_repository", "repository_id", "started_at"),
)


merge_queues = Table(
    "merge_queues",
    metadata,
    Column("repository_id", ForeignKey("repositories.id"), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("document", Text, nullable=False),
)


culprit_searches = Table(
    "culprit_searches",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("repository_id", ForeignKey("repositories.id"), nullable=False),
    Column("good", Text, nullable=False),
    Column("bad", Text, nullable=False),
    Column("culprit", Text),
    Column("confirmed", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("report", Text, nullable=False),
    Index("ix_culprit_searches_culprit", "repository_id", "culprit"),
)


api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    Column("scope", Text, nullable=False),
    Column("digest", Text, nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)


#: A run a CI job uploads to the team server: the client's key for it, so a resent start
#: finds the run it made instead of making another.
uploads = Table(
    "uploads",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("run_id", ForeignKey("runs.id"), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

#: Each batch of an upload that was stored, by its sequence number: written in the batch's own
#: transaction, so a batch sent twice (a retry after a lost answer) is stored once.
upload_batches = Table(
    "upload_batches",
    metadata,
    Column("run_id", ForeignKey("runs.id"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("results", Integer, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

#: Shard plans: each CI run's split of the suite, so a retried shard reruns exactly its tests.
shard_plans = Table(
    "shard_plans",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("repository_id", ForeignKey("repositories.id"), nullable=False),
    Column("key", String(255), nullable=False),
    Column("shards", Integer, nullable=False),
    Column("commit_sha", String(64)),
    Column("baseline_run_id", ForeignKey("runs.id")),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("plan", Text, nullable=False),
    UniqueConstraint("repository_id", "key", "shards"),
)

#: Code-quality findings of a code host's analysis (GitHub Code Quality, code scanning), one row
#: per finding number, as the host last reported it: ``greenline review`` shows the open ones in
#: the files a change touches.
code_findings = Table(
    "code_findings",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("repository_id", ForeignKey("repositories.id"), nullable=False),
    Column("provider", String(64), nullable=False),
    Column("number", Integer, nullable=False),
    Column("state", String(32), nullable=False),
    Column("rule_id", Text, nullable=False),
    Column("rule_title", Text, nullable=False),
    Column("severity", String(32), nullable=False),
    Column("category", String(64), nullable=False),
    Column("path", Text, nullable=False),
    Column("start_line", Integer),
    Column("end_line", Integer),
    Column("message", Text, nullable=False),
    Column("url", Text),
    Column("created_at", DateTime(timezone=True)),
    Column("seen_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("repository_id", "provider", "number"),
    Index("ix_code_findings_path", "repository_id", "path"),
)


#: GitHub webhook deliveries by their delivery id (a replay is recognised and not processed
#: again); the body is kept until the delivery is processed, which a claim with an expiry
#: guards, so a server that died mid-way leaves it to be taken up again.
github_deliveries = Table(
    "github_deliveries",
    metadata,
    Column("delivery_id", String(100), primary_key=True),
    Column("event", String(64), nullable=False),
    Column("action", String(64)),
    Column("repository", String(255)),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("claimed_until", DateTime(timezone=True)),
    Column("processed_at", DateTime(timezone=True)),
    Column("attempts", Integer, nullable=False),
    Column("outcome", Text),
    Column("payload", Text),
    Index("ix_github_deliveries_pending", "processed_at", "received_at"),
)
