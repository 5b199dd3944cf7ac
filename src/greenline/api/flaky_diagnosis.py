"""What a person or a coding agent needs to write a fix for a flaky test, from its newest scan:
the root cause in a sentence, the test and its polluters with their lines, what the polluters
leave changed (each name with what it was and what it is after them), the lines of the code
under test involved (where the leaked state lives, where a set's order shows, where a timer is
read), the failure, what fixing it has tried and why that did not hold, and the next step."""

from __future__ import annotations

import ast
import re
from typing import Any

from greenline.api.flaky_candidates import Candidates, fails_alone
from greenline.api.flaky_trials import ScanReport
from greenline.api.workspace import Workspace
from greenline.flaky.fixes import FixError, find_function
from greenline.flaky.set_order import function_scopes, unordered_iterations
from greenline.model import FlakyCategory, FlakyVerdict, Verdict

#: the longest source a diagnosis quotes, in lines
QUOTED_LINES = 40
MESSAGE_CHARS = 1500
_LOCATION = re.compile(r"^(\S+\.py):(\d+): ", re.MULTILINE)
_TIMERS = ("monotonic", "perf_counter", "process_time")

NEXT_STEP = {
    FlakyCategory.ORDER_DEPENDENT: (
        "restore what the polluter leaves changed before the test runs (an autouse fixture "
        "in the test's module that keeps the state at import and puts it back, or the test's "
        "first statements), or make the polluter clean up after itself; then prove it with "
        "greenline flaky verify (MCP verify_flaky_fix)"
    ),
    FlakyCategory.UNORDERED_COLLECTION: (
        "iterate the set in sorted order where its order reaches the output (in the code "
        "under test when the order is not part of its contract), or compare as sets where "
        "the value is a set by construction; never loosen a list comparison"
    ),
    FlakyCategory.TIMING: (
        "measure with a fake clock (inject or patch the timer the code under test reads); "
        "a threshold the test itself measures is the contract: move it to a benchmark, never "
        "widen it"
    ),
    FlakyCategory.TIME: "run the test at a fixed instant (freeze the clock)",
    FlakyCategory.RANDOMNESS: "seed the generators the test draws from",
    FlakyCategory.FLOATING_POINT: "compare floats with a tolerance at float noise",
}
ELSEWHERE = (
    "the cause is in the code under test or its environment ({cause}): fix it there (a lock, "
    "an awaited event, a stub server); no test-side patch holds"
)


def _read(ws: Workspace, relative: str) -> str | None:
    path = ws.workdir / relative
    return path.read_text(encoding="utf-8") if path.is_file() else None


def _function(ws: Workspace, test_id: str) -> dict[str, Any]:
    """Where a test is, with its source (quoted up to ``QUOTED_LINES``)."""
    path, _, name = test_id.partition("::")
    out: dict[str, Any] = {"test_id": test_id, "path": path}
    source = _read(ws, path)
    if source is None:
        return out
    try:
        func = find_function(ast.parse(source), name)
    except (FixError, SyntaxError):
        return out
    first = min([func.lineno, *(d.lineno for d in func.decorator_list)])
    lines = source.splitlines()[first - 1 : func.end_lineno]
    out.update(line=first, end_line=func.end_lineno, source="\n".join(lines[:QUOTED_LINES]))
    return out


def _failure(report: ScanReport, test_id: str) -> dict[str, Any] | None:
    messages = [m for m in report.messages.get(test_id, ()) if m.strip()]
    if not messages:
        return None
    message = messages[-1]
    errors = [line for line in message.splitlines() if line.startswith("E ")]
    locations = [f"{p}:{n}" for p, n in _LOCATION.findall(message)]
    return {
        "said": "\n".join(errors)[:MESSAGE_CHARS] or message[:MESSAGE_CHARS],
        "locations": list(dict.fromkeys(locations)),
        "failures_seen": len(messages),
    }


def _definition(ws: Workspace, row: dict[str, Any]) -> dict[str, Any] | None:
    """Where a leaked module-level name (or the object holding an attribute) is defined."""
    file = row.get("file")
    source = _read(ws, file) if file else None
    if not source:
        return None
    head = str(row["name"]).split(".")[0]
    for node in ast.parse(source).body:
        names: list[str] = []
        if isinstance(node, ast.Assign):
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names = [node.target.id]
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names = [node.name]
        if head in names:
            text = source.splitlines()[node.lineno - 1].strip()
            return {"path": file, "line": node.lineno, "text": text}
    return None


def _state(ws: Workspace, report: ScanReport, test_id: str) -> list[dict[str, Any]]:
    out = []
    for row in report.leaks.get(test_id, ()):
        process = row.get("owner") == "process"
        out.append(
            {
                "name": row["name"] if process else f"{row['module']}.{row['name']}",
                "change": row.get("change", "rebound"),
                "before": row.get("before", row.get("initial")),
                "after": row.get("after"),
                "owner": row.get("owner", "module"),
                "defined_at": None if process else _definition(ws, row),
            }
        )
    return out


def _code_lines(ws: Workspace, verdict: FlakyVerdict, report: ScanReport) -> list[dict[str, Any]]:
    """The lines of the code under test the cause shows through: set iterations whose order
    shows (unordered collections), timer reads (timing)."""
    if verdict.category not in (FlakyCategory.UNORDERED_COLLECTION, FlakyCategory.TIMING):
        return []
    try:
        modules = Candidates(ws, verdict, report).imported_modules()
    except (FixError, SyntaxError, OSError):
        return []
    out: list[dict[str, Any]] = []
    for module in modules:
        source = _read(ws, module) or ""
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        lines = source.splitlines()
        if verdict.category is FlakyCategory.UNORDERED_COLLECTION:
            for func, scope in function_scopes(tree):
                for node, _ in unordered_iterations(func, scope):
                    why = f"{func.name} iterates a set where its order shows"
                    out.append({"path": module, "line": node.lineno, "why": why})
        else:
            for number, text in enumerate(lines, 1):
                if any(f"{t}(" in text or f"={t}" in text.replace(" ", "") for t in _TIMERS):
                    out.append({"path": module, "line": number, "why": "reads a timer"})
        for entry in out:
            if entry["path"] == module:
                entry["text"] = lines[entry["line"] - 1].strip()
    return out[:20]


def _summary(verdict: FlakyVerdict, state: list[dict[str, Any]]) -> str:
    cause = verdict.category.value
    if verdict.verdict is not Verdict.FLAKY:
        return f"{verdict.verdict.value} in {verdict.runs} runs: not flaky"
    head = f"flaky ({cause}): failed {verdict.failures} of {verdict.runs} runs"
    if verdict.category is FlakyCategory.ORDER_DEPENDENT and verdict.polluters:
        who = ", ".join(verdict.polluters)
        if fails_alone(verdict):
            return f"{head}; it fails alone and passes after {who}, which sets up what it needs"
        changed = ", ".join(s["name"] for s in state[:5]) or "nothing the state probe sees"
        return f"{head}; it fails after {who}, which leaves changed: {changed}"
    return head


def diagnose(
    ws: Workspace, verdict: FlakyVerdict, report: ScanReport, scanned: str
) -> dict[str, Any]:
    """Everything needed to write a fix for ``verdict``'s test (``scanned``: which scan)."""
    state = _state(ws, report, verdict.test_id)
    concurrency = verdict.category in (
        FlakyCategory.CONCURRENCY,
        FlakyCategory.NETWORK,
        FlakyCategory.ASYNC_WAIT,
    )
    next_step = (
        ELSEWHERE.format(cause=verdict.category.value)
        if concurrency
        else NEXT_STEP.get(verdict.category, "see the evidence")
    )
    return {
        "scan": scanned,
        "root_cause": verdict.category.value,
        "summary": _summary(verdict, state),
        "test": _function(ws, verdict.test_id),
        "failure": _failure(report, verdict.test_id),
        "polluters": [_function(ws, p) for p in verdict.polluters],
        "cleaners": list(verdict.cleaners),
        "state": state,
        "code": _code_lines(ws, verdict, report),
        "fix_attempts": list(report.fixes.get(verdict.test_id, ())),
        "next_step": next_step,
    }
