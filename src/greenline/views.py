"""JSON shapes of model values, versioned, shared by ``--format json``, REST and MCP.

Every document carries ``"schema": "greenline.<kind>/<version>"``; a version changes only when a
field is removed or changes meaning (new fields may appear at any time).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from greenline.config import Value, mask_args
from greenline.model import (
    BatchReceipt,
    Change,
    FlakyVerdict,
    PruneReport,
    QuarantineEntry,
    Reason,
    Run,
    SelectionPlan,
    TestHistoryEntry,
    TestResult,
    TestSummary,
    Upload,
)
from greenline.model.forge import Delivery, DeliveryReceipt, PublishedCheck
from greenline.model.recovery import (
    CulpritReport,
    MainHealth,
    RecoveryPath,
    RevertReport,
    TriageReport,
)
from greenline.model.review import CodeFinding, ReviewDigest
from greenline.model.shards import ShardPlan

JSON = dict[str, Any]


def _stamp(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _seconds(value: float, digits: int) -> float | None:
    """A duration for JSON: None for inf or nan (a store written before they were refused)."""
    return round(value, digits) if math.isfinite(value) else None


def dump_json(document: Any, *, indent: int | None = None) -> str:
    """``document`` as strictly valid JSON: a non-finite number anywhere becomes null (Python's
    ``Infinity`` and ``NaN`` are not JSON, and break every other parser)."""
    try:
        return json.dumps(document, indent=indent, allow_nan=False)
    except ValueError:
        return json.dumps(_finite(document), indent=indent, allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _schema(kind: str, version: int = 1) -> JSON:
    return {"schema": f"greenline.{kind}/{version}"}


def page_fields(total: int, returned: int, offset: int | None = None) -> JSON:
    """What a cut list says of itself: ``total`` items in all, ``returned`` here, ``truncated``
    when some were left out; with ``offset`` (where this page starts), ``next_offset`` to ask
    for the next page with (null on the last one)."""
    fields: JSON = {"total": total, "returned": returned, "truncated": returned < total}
    if offset is not None:
        end = offset + returned
        fields.update(offset=offset, next_offset=end if end < total else None)
    return fields


def cut_list(
    doc: JSON, key: str, limit: int | None, offset: int | None = None, total: int | None = None
) -> JSON:
    """``doc`` with its list ``key`` cut to ``limit`` items from ``offset`` (None: all of
    them), and the page_fields saying so; ``total`` when the list holds only the first items
    of one that long."""
    items = doc[key]
    start = offset or 0
    doc[key] = items[start:] if limit is None else items[start : start + limit]
    doc.update(page_fields(len(items) if total is None else total, len(doc[key]), offset))
    return doc


def run_view(run: Run) -> JSON:
    env = run.environment
    return {
        "id": run.id,
        "repository": run.repository,
        "status": run.status.value,
        "source": run.source,
        "started_at": _stamp(run.started_at),
        "finished_at": _stamp(run.finished_at),
        "duration": _seconds(run.duration, 3),
        "tests": run.test_count,
        "counts": dict(sorted(run.counts.items())),
        "commit": {
            "sha": run.commit.sha,
            "branch": run.commit.branch,
            "dirty": run.commit.dirty,
            "subject": run.commit.subject,
            "committed_at": _stamp(run.commit.committed_at),
        },
        "environment": (
            {"python": env.python, "platform": env.platform, "packages_hash": env.packages_hash}
            if env
            else None
        ),
        "has_coverage": run.has_coverage,
        "exit_status": run.exit_status,
        "args": mask_args(run.args),  # runs stored before masking began
    }


def result_view(result: TestResult) -> JSON:
    return {
        "test_id": result.test_id,
        "outcome": result.outcome.value,
        "duration": _seconds(result.duration, 6),
        "phase": result.phase.value if result.phase else None,
        "message": result.message,
        "attempt": result.attempt,
        "path": result.path,
    }


def runs_document(runs: list[Run]) -> JSON:
    return {**_schema("runs"), "runs": [run_view(r) for r in runs]}


def run_document(run: Run, results: list[TestResult] | None) -> JSON:
    doc = {**_schema("run"), "run": run_view(run)}
    if results is not None:
        doc["results"] = [result_view(r) for r in results]
    return doc


def upload_document(upload: Upload) -> JSON:
    return {
        **_schema("upload"),
        "key": upload.key,
        "run_id": upload.run_id,
        "status": upload.status.value,
        "created": upload.created,
        "batches": list(upload.batches),
        "results": upload.results,
    }


def batch_receipt_document(receipt: BatchReceipt) -> JSON:
    return {
        **_schema("upload-batch"),
        "key": receipt.key,
        "run_id": receipt.run_id,
        "seq": receipt.seq,
        "results": receipt.results,
        "duplicate": receipt.duplicate,
    }


def test_summary_view(summary: TestSummary) -> JSON:
    return {
        "test_id": summary.test_id,
        "runs": summary.runs,
        "failures": summary.failures,
        "failure_rate": round(summary.failures / summary.runs, 4) if summary.runs else 0.0,
        "mean_duration": _seconds(summary.mean_duration, 6),
        "last_outcome": summary.last_outcome.value,
        "last_run_id": summary.last_run_id,
        "last_seen": _stamp(summary.last_seen),
    }


def tests_document(summaries: list[TestSummary]) -> JSON:
    return {**_schema("tests"), "tests": [test_summary_view(s) for s in summaries]}


def history_document(test_id: str, entries: list[TestHistoryEntry]) -> JSON:
    return {
        **_schema("test-history"),
        "test_id": test_id,
        "results": [
            {
                "run_id": e.run_id,
                "started_at": _stamp(e.started_at),
                "sha": e.sha,
                "branch": e.branch,
                **{k: v for k, v in result_view(e.result).items() if k != "test_id"},
            }
            for e in entries
        ],
    }


def config_document(values: Mapping[str, Value]) -> JSON:
    return {
        **_schema("config"),
        "settings": {
            name: {
                "value": list(v.value) if isinstance(v.value, tuple) else v.value,
                "source": v.source,
            }
            for name, v in values.items()
        },
    }


def db_info_document(info: Mapping[str, Any]) -> JSON:
    return {**_schema("db-info"), **info}


def prune_document(report: PruneReport) -> JSON:
    """What a prune deleted (or, dry, would delete), and the store's size around it."""
    return {
        **_schema("db-prune"),
        "dry_run": report.dry_run,
        "rule": report.rule,
        "runs": len(report.run_ids),
        "run_ids": list(report.run_ids),
        "rows": dict(report.rows),
        "vacuumed": report.vacuumed,
        "bytes_before": report.bytes_before,
        "bytes_after": report.bytes_after,
    }


def change_document(change: Change) -> JSON:
    """What a selection judged: the files changed since the base, and what was left out."""
    return {
        "base": change.base,
        "files": len(change.files),
        "python_files": sum(1 for f in change.files if f.path.endswith(".py")),
        "ignored": [{"path": path, "why": why} for path, why in change.ignored],
    }


def selection_document(plan: SelectionPlan) -> JSON:
    # one dict per reason, shared by the tests it selected (a release's plan has a million
    # reasons among a few thousand distinct ones)
    reasons: dict[Reason, JSON] = {}

    def reason(r: Reason) -> JSON:
        doc = reasons.get(r)
        if doc is None:
            doc = reasons[r] = {"kind": r.kind.value, "detail": r.detail}
        return doc

    return {
        **_schema("selection"),
        "baseline_run_id": plan.baseline_run_id,
        "base": plan.base,
        "full_suite": reason(plan.full_suite) if plan.full_suite else None,
        "ranker": plan.ranker,
        # false when the estimated probabilities do not tell the candidates apart
        "ranking_informative": plan.ranking_informative,
        "selected": [
            {
                "test_id": t.test_id,
                "duration": _seconds(t.duration, 6),
                "likelihood": t.likelihood,
                "reasons": [reason(r) for r in t.reasons],
            }
            for t in plan.selected
        ],
        "new_test_files": list(plan.new_test_files),
        "change": change_document(plan.change) if plan.change is not None else None,
        "over_budget": list(plan.over_budget),
        "unaffected": len(plan.unaffected),
        # every test of the baseline: selected, over the budget or unaffected
        "baseline_tests": len(plan.selected) + len(plan.over_budget) + len(plan.unaffected),
        "selected_duration": _seconds(plan.selected_duration, 3),
        "suite_duration": _seconds(plan.suite_duration, 3),
        "counts": selection_counts(plan),
    }


def selection_counts(plan: SelectionPlan) -> JSON:
    """How many tests each list of a plan holds, and how many selected tests each kind of
    reason brought in (a test with two kinds counts under both): what stays true when a
    bounded answer lists only some of them."""
    by_reason: dict[str, int] = {}
    for test in plan.selected:
        for kind in dict.fromkeys(r.kind.value for r in test.reasons):
            by_reason[kind] = by_reason.get(kind, 0) + 1
    return {
        "selected": len(plan.selected),
        "over_budget": len(plan.over_budget),
        "new_test_files": len(plan.new_test_files),
        "unaffected": len(plan.unaffected),
        "by_reason": dict(sorted(by_reason.items(), key=lambda kv: (-kv[1], kv[0]))),
    }


def ranking_document(model: Mapping[str, Any] | None, examples: int, failing: int) -> JSON:
    """What ranks selected tests: the newest learned model (without its trees) and the history."""
    summary = None
    if model is not None:
        summary = {
            key: model.get(key)
            for key in ("id", "created_at", "examples", "failing", "runs", "held_out", "adopted")
        }
        summary["trees"] = len(model.get("trees", ()))
    in_use = "heuristic" if model is None or not model.get("adopted") else "model"
    return {
        **_schema("ranking"),
        "ranking": in_use,
        "history": {"examples": examples, "failing": failing},
        "model": summary,
    }


def flaky_verdict_view(v: FlakyVerdict) -> JSON:
    return {
        "test_id": v.test_id,
        "verdict": v.verdict.value,
        "category": v.category.value,
        "confidence": v.confidence,
        "runs": v.runs,
        "failures": v.failures,
        "wasted_seconds": v.wasted_seconds,
        "polluters": list(v.polluters),
        "cleaners": list(v.cleaners),
        "evidence": [
            {"kind": e.kind.value, "detail": e.detail, "run_ids": list(e.run_ids)}
            for e in v.evidence
        ],
    }


def quarantine_view(e: QuarantineEntry) -> JSON:
    return {
        "test_id": e.test_id,
        "reason": e.reason,
        "owner": e.owner,
        "created_at": _stamp(e.created_at),
        "expires_at": _stamp(e.expires_at),
        "released_at": _stamp(e.released_at),
        "release_reason": e.release_reason,
    }


def flaky_document(
    verdicts: list[FlakyVerdict], quarantined: Mapping[str, QuarantineEntry]
) -> JSON:
    """Flaky (and failing) tests from history, each with its quarantine entry if any."""
    return {
        **_schema("flaky"),
        "tests": [
            {
                **flaky_verdict_view(v),
                "quarantine": quarantine_view(quarantined[v.test_id])
                if v.test_id in quarantined
                else None,
            }
            for v in verdicts
        ],
        "quarantined": [quarantine_view(e) for e in quarantined.values()],
    }


def flaky_explanation_document(
    v: FlakyVerdict,
    entries: list[QuarantineEntry],
    scan: tuple[datetime, str | None, FlakyVerdict] | None = None,
    diagnosis: JSON | None = None,
) -> JSON:
    """A test's verdict (from history, or from its newest scan when it has none), its
    quarantine history, what its newest ``greenline flaky scan`` found, and what a fix
    needs (root cause, polluters and their lines, the state they leave with what it was and
    is, the code involved, the failure, what fixing tried: ``api.flaky_diagnosis``)."""
    return {
        **_schema("flaky-test"),
        **flaky_verdict_view(v),
        "quarantine_history": [quarantine_view(e) for e in entries],
        "scan": None
        if scan is None
        else {"started_at": scan[0].isoformat(), "sha": scan[1], **flaky_verdict_view(scan[2])},
        "diagnosis": diagnosis,
    }


def quarantine_document(entry: QuarantineEntry) -> JSON:
    return {**_schema("quarantine"), **quarantine_view(entry)}


def scan_document(verdicts: list[FlakyVerdict], trials: int, seconds: float) -> JSON:
    """What a scan found: every judged test, and what the scan cost."""
    return {
        **_schema("flaky-scan"),
        "tests": [flaky_verdict_view(v) for v in verdicts],
        "trials": trials,
        "seconds": seconds,
    }


def fix_document(
    verdict: FlakyVerdict,
    patch: Any,
    verified_runs: int,
    tried: tuple[str, ...],
    applied: bool,
    scan: str = "",
) -> JSON:
    """A flaky test's fix: the verified patch (a unified diff) or why none holds."""
    return {
        **_schema("flaky-fix"),
        "test": flaky_verdict_view(verdict),
        "fixed": patch is not None,
        "patch": None
        if patch is None
        else {"path": patch.path, "description": patch.description, "diff": patch.diff()},
        "verified_runs": verified_runs,
        "applied": applied,
        "scan": scan,
        "not_offered": list(tried),
    }


def patch_verdict_document(result: Any) -> JSON:
    """``flaky verify``: a patch from anyone, verified or rejected with the reason."""
    return {
        **_schema("flaky-patch-verdict"),
        "test": flaky_verdict_view(result.verdict),
        "paths": list(result.paths),
        "verified": result.verified,
        "rejected_because": result.failure,
        "verify_runs": result.verify_runs,
        "scan": result.scan,
    }


def triage_document(report: TriageReport) -> JSON:
    """One verdict per failing test, with the clusters of one signature across tests."""
    clusters: dict[str, list[str]] = {}
    for v in report.verdicts:
        clusters.setdefault(v.signature, []).append(v.test_id)
    return {
        **_schema("triage"),
        "run": report.run_id,
        "commit": report.commit,
        "branch": report.branch,
        "last_green_run": report.last_green,
        "compared_run": report.before,
        "counts": {k: sum(v.kind.value == k for v in report.verdicts) for k in _kinds(report)},
        "verdicts": [
            {
                "test_id": v.test_id,
                "verdict": v.kind.value,
                "signature": v.signature,
                "reason": v.reason,
                "evidence": list(v.evidence),
                "touched": list(v.touched),
            }
            for v in report.verdicts
        ],
        "clusters": [
            {"signature": sig, "tests": len(ids), "examples": ids[:5]}
            for sig, ids in sorted(clusters.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        ],
    }


def _kinds(report: TriageReport) -> list[str]:
    return sorted({v.kind.value for v in report.verdicts})


def culprit_document(report: CulpritReport) -> JSON:
    answer = report.answer
    culprit = report.culprit
    return {
        **_schema("culprit"),
        "good": report.good,
        "bad": report.bad,
        "tests": list(report.tests),
        "probed_tests": list(report.probed),
        "status": answer.status.value,
        "reason": answer.reason,
        "culprit": (
            {"sha": culprit.sha, "subject": culprit.subject, "author": culprit.author}
            if culprit
            else None
        ),
        "suspects": [report.candidates[i].sha for i in answer.commits],
        "posterior": round(answer.posterior, 6),
        "no_culprit_posterior": round(answer.no_culprit_posterior, 6),
        "confirmed": answer.confirmed,
        "commits": len(report.candidates),
        "probes": answer.probes,
        "test_runs": report.test_runs,
        "seconds": report.seconds,
        "fixed_later": report.fixed_later,
    }


def revert_document(report: RevertReport) -> JSON:
    return {
        **_schema("revert"),
        "commit": report.commit,
        "branch": report.branch,
        "revert_commit": report.revert_sha,
        "tests": list(report.tests),
        "verified_runs": report.verified_runs,
        "checked_tests": list(report.checked),
        "queued": report.queued,
    }


def recovery_path_document(path: RecoveryPath) -> JSON:
    """``triage --fix``: each step's document, and where the path stopped."""
    return {
        **_schema("recovery-path"),
        "triage": triage_document(path.triage),
        "culprit": culprit_document(path.culprit) if path.culprit else None,
        "revert": revert_document(path.revert) if path.revert else None,
        "stopped": path.stopped or None,
    }


#: why_is_main_red answers in about this many characters at most
WHY_RED_BUDGET = 16_000
_ACTIONS = (  # the first kind present decides what to do first
    ("regression", "find the culprit and propose its revert: greenline triage --fix"),
    ("setup", "fix what breaks collection or fixtures before any test runs"),
    ("infra", "re-run the job: the runner's environment failed, not the tests"),
    ("already-failing", "these failed before the change too: fix forward, nothing to revert"),
    ("suspect-flaky", "re-run to confirm, then greenline flaky scan and flaky fix"),
    ("flaky", "quarantine or fix the flaky tests: greenline flaky fix TEST"),
    ("quarantined", "nothing: quarantined tests do not fail the build"),
    ("unknown", "look at the failures: greenline triage shows them grouped"),
)


def why_red_document(health: MainHealth, *, per_kind: int = 10) -> JSON:
    """A bounded digest: the red streak, verdicts by kind with examples, the culprit status
    and the suggested action."""
    doc: JSON = {
        **_schema("why-red"),
        "branch": health.branch,
        "newest_run": health.newest_run,
        "green": health.green,
        "red_streak": None
        if health.green
        else {
            "runs": health.red_runs,
            "since": health.red_since,
            "last_green_run": health.last_green_run,
        },
        "culprit": {"status": health.culprit_status, "sha": health.culprit}
        if health.culprit_status
        else None,
    }
    report = health.triage
    kinds = sorted({v.kind.value for v in report.verdicts}) if report else []
    doc["verdicts"] = (
        {
            kind: _examples([v for v in report.verdicts if v.kind.value == kind], per_kind)
            for kind in kinds
        }
        if report
        else {}
    )
    doc["suggested_action"] = (
        "nothing: main is green"
        if health.green
        else next((a for k, a in _ACTIONS if k in kinds), "look at the newest run: greenline runs")
    )
    while per_kind > 1 and len(dump_json(doc)) > WHY_RED_BUDGET:  # stay within the budget
        per_kind //= 2
        doc["verdicts"] = {
            k: {**v, "tests": v["tests"][:per_kind]} for k, v in doc["verdicts"].items()
        }
    return doc


def _examples(verdicts: list[Any], limit: int) -> JSON:
    return {
        "count": len(verdicts),
        "tests": [
            {"test_id": v.test_id[:300], "signature": v.signature, "reason": v.reason[:300]}
            for v in verdicts[:limit]
        ],
    }


def shard_plan_document(plan: ShardPlan, index: int | None = None) -> JSON:
    """A shard plan: each shard's predicted seconds and tests (and which one this shard is)."""
    doc = _schema("shard_plan")
    doc.update(
        shards=plan.shards,
        index=index,
        key=plan.key,
        baseline_run_id=plan.baseline_run_id,
        median=_seconds(plan.median, 6),
        predicted_makespan=_seconds(plan.makespan, 3),
        estimated=sorted(plan.estimated),
        plan=[
            {
                "index": i,
                "predicted": _seconds(plan.loads[i], 3),
                "tests": plan.tests_of(i),
            }
            for i in range(plan.shards)
        ],
    )
    if index is not None:
        doc["tests"] = plan.tests_of(index)
    return doc


def sharded_run_document(outcome: Any) -> JSON:
    """``greenline run --shards``: the stored run, and each shard's plan against what it took."""
    doc = _schema("sharded_run")
    doc.update(
        run=run_view(outcome.run),
        exit_code=outcome.exit_code,
        collected=outcome.collected,
        makespan=_seconds(outcome.makespan, 3),
        predicted_makespan=_seconds(outcome.plan.makespan, 3),
        shards=[
            {
                "index": s.index,
                "tests": s.tests,
                "predicted": _seconds(s.predicted, 3),
                "seconds": None if s.seconds is None else _seconds(s.seconds, 3),
                "attempts": s.attempts,
                "exit_code": s.exit_code,
                "status": s.status,
                "error": s.error,
                "results": len(s.results),
            }
            for s in outcome.shards
        ],
    )
    return doc


def code_finding_view(f: CodeFinding) -> JSON:
    return {
        "provider": f.provider,
        "repository": f.repository,
        "number": f.number,
        "state": f.state,
        "rule_id": f.rule_id,
        "rule_title": f.rule_title,
        "severity": f.severity,
        "category": f.category,
        "path": f.path,
        "start_line": f.start_line,
        "end_line": f.end_line,
        "message": f.message,
        "url": f.url,
        "created_at": _stamp(f.created_at),
    }


def review_document(digest: ReviewDigest, *, limit: int | None = None) -> JSON:
    """A change's review digest; with ``limit`` each list keeps that many entries (and each
    function that many of its tests), with ``truncated`` saying whether any was cut."""
    cut = False

    def bounded(items: list[Any]) -> list[Any]:
        nonlocal cut
        if limit is None or len(items) <= limit:
            return items
        cut = True
        return items[:limit]

    functions = [
        {
            "path": f.path,
            "name": f.name,
            "status": f.status.value,
            "tests": bounded(list(f.tests)),
            "test_count": len(f.tests),
            "ran_at_import": f.ran_at_import,
            "untested": f.is_untested,
        }
        for f in digest.functions
    ]
    doc = {
        **_schema("review"),
        "base": digest.base,
        "baseline_run_id": digest.baseline_run_id,
        "baseline_sha": digest.baseline_sha,
        "change": change_document(digest.change),
        "changed_files": bounded([f.path for f in digest.change.files]),
        "functions": bounded(functions),
        "untested": bounded(
            [{"path": f.path, "name": f.name, "status": f.status.value} for f in digest.untested]
        ),
        "likely_to_fail": bounded(
            [
                {
                    "test_id": t.test_id,
                    "likelihood": t.likelihood,
                    "duration": _seconds(t.duration, 6),
                    "reasons": [{"kind": r.kind.value, "detail": r.detail} for r in t.reasons],
                }
                for t in digest.likely
            ]
        ),
        "selection": {
            "selected": digest.selected_tests,
            "baseline_tests": digest.baseline_tests,
            "ranker": digest.ranker,
            "full_suite": {"kind": digest.full_suite.kind.value, "detail": digest.full_suite.detail}
            if digest.full_suite
            else None,
        },
        "flaky": bounded(
            [
                {
                    "test_id": f.verdict.test_id,
                    "category": f.verdict.category.value,
                    "confidence": f.verdict.confidence,
                    "runs": f.verdict.runs,
                    "failures": f.verdict.failures,
                    "quarantined": f.quarantined,
                    "why": f.why,
                }
                for f in digest.flaky
            ]
        ),
        "findings": bounded([code_finding_view(f) for f in digest.findings]),
        "counts": {
            "changed_files": len(digest.change.files),
            "functions": len(digest.functions),
            "untested": len(digest.untested),
            "flaky": len(digest.flaky),
            "findings": len(digest.findings),
        },
        "notes": list(digest.notes),
    }
    doc["truncated"] = cut
    return doc


def delivery_receipt_document(receipt: DeliveryReceipt) -> JSON:
    """The answer to a GitHub webhook delivery: queued, a duplicate, or ignored (and why)."""
    return {
        **_schema("github-delivery"),
        "delivery": receipt.delivery_id,
        "event": receipt.event,
        "status": receipt.status.value,
        "reason": receipt.reason or None,
    }


def deliveries_document(deliveries: list[Delivery], pending: int) -> JSON:
    """The newest webhook deliveries received, and what processing each did."""
    return {
        **_schema("github-deliveries"),
        "pending": pending,
        "deliveries": [
            {
                "delivery": d.delivery_id,
                "event": d.event,
                "action": d.action,
                "repository": d.repository,
                "received_at": _stamp(d.received_at),
                "processed_at": _stamp(d.processed_at),
                "attempts": d.attempts,
                "outcome": d.outcome,
            }
            for d in deliveries
        ],
    }


def published_check_document(repository: str, published: PublishedCheck | None, sent: Any) -> JSON:
    """A check run published on GitHub (None: not sent) and the requests that published it."""
    return {
        **_schema("github-check"),
        "repository": repository,
        "check_run": None
        if published is None
        else {"id": published.id, "html_url": published.html_url},
        "requests": list(sent),
    }
