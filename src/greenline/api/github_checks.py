"""The check runs greenline publishes, as reports: the selection of a change (how many tests,
why, the time saved), the flaky verdicts of a run's failing tests (with their quarantine),
and the triage of a failed run; annotations on each failing test's definition. Every string
that comes from outside (test ids, messages, reasons) is shown as plain text."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping

from greenline.model import FlakyVerdict, QuarantineEntry, SelectionPlan, TestResult, Verdict
from greenline.model.forge import Annotation, AnnotationLevel, CheckConclusion, CheckReport
from greenline.model.recovery import TriageKind, TriageReport

SELECTION = "greenline/selection"
FLAKY = "greenline/flaky"
TRIAGE = "greenline/triage"
#: tests listed one by one in a check's text (the rest are counted)
LISTED = 200
#: (path, line) of a test's definition, when it can be found
Locate = Callable[[str, str | None], tuple[str, int] | None]
_MARKDOWN = re.compile(r"([\\`*_{}\[\]<>()#+\-.!|~])")


def plain(text: str) -> str:
    """``text`` shown as itself in markdown: every character markdown reads escaped, line
    breaks kept as spaces (one table cell, one list item)."""
    return _MARKDOWN.sub(r"\\\1", " ".join(text.split()))


def code(text: str, *, cell: bool = False) -> str:
    """``text`` as a code span: fenced by more backticks than it holds in a row; in a table
    ``cell``, its pipes escaped (GitHub splits a table's cells before it reads code spans)."""
    text = " ".join(text.split())
    if cell:
        text = text.replace("|", "\\|")
    fence = "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _seconds(value: float) -> str:
    return f"{value:,.1f} s" if value < 600 else f"{value / 60:,.1f} min"


def _table(header: tuple[str, str], rows: Iterable[tuple[str, object]]) -> str:
    lines = [f"| {header[0]} | {header[1]} |", "|---|---:|"]
    lines += [f"| {a} | {b} |" for a, b in rows]
    return "\n".join(lines)


def selection_report(plan: SelectionPlan, sha: str) -> CheckReport:
    """The selection check: what the change can break, why, and what skipping the rest saves."""
    total = len(plan.selected) + len(plan.over_budget) + len(plan.unaffected)
    base = f"baseline run {plan.baseline_run_id} at {code((plan.base or '')[:12])}"
    if plan.full_suite is not None:
        title = "The full suite runs for this change"
        reason = plan.full_suite
        summary = (
            "Selection cannot be trusted for this change, so every test runs "
            f"({reason.kind.value}: {plain(reason.detail)}).\n\nJudged against {base}."
        )
        return CheckReport(SELECTION, sha, CheckConclusion.NEUTRAL, title, summary)
    chosen = len(plan.selected) + len(plan.new_test_files)
    saved = max(0.0, plan.suite_duration - plan.selected_duration)
    share = f"{saved / plan.suite_duration:.0%}" if plan.suite_duration else "0%"
    title = f"{len(plan.selected)} of {total} tests selected; {share} of the suite's time saved"
    why = Counter(t.reasons[0].kind.value for t in plan.selected if t.reasons)
    lines = [
        f"**{len(plan.selected)} of {total} tests** can be affected by this change "
        f"(judged against {base}).",
        f"They take about {_seconds(plan.selected_duration)} of the suite's "
        f"{_seconds(plan.suite_duration)}: **{_seconds(saved)} saved** ({share}).",
    ]
    if plan.new_test_files:
        lines.append(f"{len(plan.new_test_files)} new test file(s) run whole.")
    if plan.over_budget:
        lines.append(f"{len(plan.over_budget)} selected test(s) are over the budget.")
    if why:
        lines.append(_table(("why", "tests"), why.most_common()))
    if not chosen:
        lines.append("No test can be affected: nothing in the change is code a test ran.")
    return CheckReport(
        SELECTION, sha, CheckConclusion.SUCCESS, title, "\n\n".join(lines), _selected_text(plan)
    )


def _selected_text(plan: SelectionPlan) -> str:
    rows = [
        f"| {code(t.test_id, cell=True)} | {t.likelihood:.0%} | {_seconds(t.duration)} | "
        f"{plain(str(t.reasons[0])) if t.reasons else ''} |"
        for t in plan.selected[:LISTED]
    ]
    if not rows:
        return ""
    head = "| test (most likely to fail first) | fails | takes | why |\n|---|---:|---:|---|"
    more = len(plan.selected) - LISTED
    tail = f"\n\n… and {more} more (greenline select --format json lists all)" if more > 0 else ""
    return head + "\n" + "\n".join(rows) + tail


def _failures(results: Iterable[TestResult]) -> dict[str, TestResult]:
    """The run's failing tests, each with its last failing attempt."""
    found: dict[str, TestResult] = {}
    for r in results:
        if r.outcome.is_failure:
            found[r.test_id] = r
    return found


def flaky_report(
    sha: str,
    run_id: int,
    results: Iterable[TestResult],
    verdicts: Mapping[str, FlakyVerdict],
    quarantined: Mapping[str, QuarantineEntry],
    locate: Locate,
) -> CheckReport:
    """Each failing test of the run: flaky (a known flake), failing, or new to the history;
    quarantined or not. Green when nothing failed; neutral when every failure is a known flake
    or quarantined; red otherwise."""
    failures = _failures(results)
    if not failures:
        summary = f"Run {run_id} has no failing tests."
        return CheckReport(FLAKY, sha, CheckConclusion.SUCCESS, "No failing tests", summary)
    notes: list[Annotation] = []
    rows: list[str] = []
    real = 0
    for test_id, result in sorted(failures.items()):
        verdict, entry = verdicts.get(test_id), quarantined.get(test_id)
        known = entry is not None or (verdict is not None and verdict.verdict is Verdict.FLAKY)
        real += not known
        said = _flaky_words(verdict, entry)
        rows.append(f"| {code(test_id, cell=True)} | {plain(said)} |")
        level = (
            AnnotationLevel.NOTICE
            if entry
            else AnnotationLevel.WARNING
            if known
            else AnnotationLevel.FAILURE
        )
        message = said + (f"\n\nIt failed with: {result.message}" if result.message else "")
        notes += _note(locate, test_id, result.path, level, message, test_id)
    title = (
        f"{len(failures)} failing test(s): {real} not a known flake"
        if real
        else f"{len(failures)} failing test(s), all known flakes or quarantined"
    )
    summary = f"Run {run_id}: " + title + "\n\n| test | verdict |\n|---|---|\n" + "\n".join(rows)
    conclusion = CheckConclusion.FAILURE if real else CheckConclusion.NEUTRAL
    return CheckReport(FLAKY, sha, conclusion, title, summary, annotations=tuple(notes))


def _flaky_words(verdict: FlakyVerdict | None, entry: QuarantineEntry | None) -> str:
    if verdict is None:
        said = "no history of flaking"
    elif verdict.verdict is Verdict.FLAKY:
        said = (
            f"flaky ({verdict.category.value}, confidence {verdict.confidence:.0%}, "
            f"{verdict.failures} failure(s) in {verdict.runs} runs)"
        )
    else:
        said = f"{verdict.verdict.value} in {verdict.runs} runs"
    if entry is not None:
        said += f"; quarantined: {entry.reason}"
    return said


#: triage verdicts that are the change's to fix (or cannot be cleared)
BLOCKING = {TriageKind.REGRESSION, TriageKind.UNKNOWN}
_LEVELS = {
    TriageKind.REGRESSION: AnnotationLevel.FAILURE,
    TriageKind.UNKNOWN: AnnotationLevel.FAILURE,
    TriageKind.FLAKY: AnnotationLevel.WARNING,
    TriageKind.SUSPECT_FLAKY: AnnotationLevel.WARNING,
}


def triage_report(
    report: TriageReport, paths: Mapping[str, str | None], locate: Locate
) -> CheckReport:
    """Why each failing test failed; red when one is a regression or cannot be explained."""
    sha = report.commit or ""
    counts = Counter(v.kind for v in report.verdicts)
    blocking = sum(counts[k] for k in BLOCKING)
    title = (
        f"{blocking} of {len(report.verdicts)} failing test(s) need a fix in this change"
        if blocking
        else f"{len(report.verdicts)} failing test(s), none caused by this change"
    )
    summary = "\n\n".join(
        [
            f"Triage of run {report.run_id}"
            + (f" (last green run: {report.last_green})" if report.last_green else "")
            + ".",
            _table(("verdict", "tests"), ((k.value, n) for k, n in counts.most_common())),
        ]
    )
    notes: list[Annotation] = []
    rows = []
    for v in report.verdicts:
        rows.append(f"- {code(v.test_id)}: **{v.kind.value}**: {plain(v.reason)}")
        details = "\n".join([*v.evidence, *(f"touched: {t}" for t in v.touched)])
        level = _LEVELS.get(v.kind, AnnotationLevel.NOTICE)
        message = v.reason if v.reason.startswith(v.kind.value) else f"{v.kind.value}: {v.reason}"
        notes += _note(locate, v.test_id, paths.get(v.test_id), level, message, v.test_id, details)
    conclusion = CheckConclusion.FAILURE if blocking else CheckConclusion.NEUTRAL
    text = "\n".join(rows[:LISTED])
    return CheckReport(TRIAGE, sha, conclusion, title, summary, text, tuple(notes))


def _note(
    locate: Locate,
    test_id: str,
    path: str | None,
    level: AnnotationLevel,
    message: str,
    title: str,
    details: str = "",
) -> list[Annotation]:
    where = locate(test_id, path)
    if where is None:
        return []
    return [Annotation(where[0], where[1], where[1], level, message, title, details)]


def find_definition(text: str, test_id: str) -> int | None:
    """The line of ``def <test>`` (the test id's last part without its parameters), within
    its class when the id names one; None when it is not in ``text``."""
    parts = [p.split("[", 1)[0] for p in test_id.split("::")[1:]]
    if not parts:
        return None
    lines = text.splitlines()
    start = 0
    for name in parts[:-1]:  # classes: look for the method after its class
        found = _line_of(lines, rf"^\s*class\s+{re.escape(name)}\b", start)
        start = found if found is not None else start
    hit = _line_of(lines, rf"^\s*(async\s+)?def\s+{re.escape(parts[-1])}\s*\(", start)
    return None if hit is None else hit + 1


def _line_of(lines: list[str], pattern: str, start: int) -> int | None:
    rule = re.compile(pattern)
    return next((i for i in range(start, len(lines)) if rule.match(lines[i])), None)
