"""A check run as GitHub's Checks API takes it: texts cut to its size limits (with a note saying
so), and annotations sent at most 50 per request (GitHub's limit): the run is created with the
first fifty, and each further fifty goes in an update, the last of which completes it."""

from __future__ import annotations

from typing import Any

from greenline.model.forge import Annotation, CheckReport

#: annotations GitHub takes in one create or update request
MAX_ANNOTATIONS = 50
#: the longest summary or text of a check run's output
MAX_OUTPUT_CHARS = 65_535
#: the longest annotation message and raw details (64 KB), and title
MAX_MESSAGE_CHARS = 65_535
MAX_TITLE_CHARS = 255
TRIM_NOTE = (
    "\n\n*greenline cut this at GitHub's limit of {limit:,} characters: {cut:,} more were "
    "left out.*"
)


def trim(text: str, limit: int = MAX_OUTPUT_CHARS, *, note: bool = True) -> str:
    """``text`` within ``limit`` (counted in UTF-8 bytes, so within it in characters whatever
    GitHub counts), ending with a note of how much was cut when it was."""
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    if not note:
        return raw[:limit].decode("utf-8", errors="ignore")
    # room for the longest note this text can need (the whole of it cut); the note then names
    # what was really cut, which is never longer to say
    room = limit - len(TRIM_NOTE.format(limit=limit, cut=len(text)).encode("utf-8"))
    head = raw[:room].decode("utf-8", errors="ignore")
    return head + TRIM_NOTE.format(limit=limit, cut=len(text) - len(head))


def annotation_body(a: Annotation) -> dict[str, Any]:
    body: dict[str, Any] = {
        "path": a.path,
        "start_line": max(1, a.start_line),
        "end_line": max(1, a.start_line, a.end_line),
        "annotation_level": a.level.value,
        "message": trim(a.message or a.title or "(no message)", MAX_MESSAGE_CHARS),
    }
    if a.title:
        body["title"] = trim(a.title, MAX_TITLE_CHARS, note=False)
    if a.raw_details:
        body["raw_details"] = trim(a.raw_details, MAX_MESSAGE_CHARS)
    return body


def _output(report: CheckReport, chunk: list[dict[str, Any]]) -> dict[str, Any]:
    output: dict[str, Any] = {
        "title": trim(report.title, MAX_TITLE_CHARS, note=False),
        "summary": trim(report.summary),
    }
    if report.text:
        output["text"] = trim(report.text)
    output["annotations"] = chunk
    return output


def check_run_requests(report: CheckReport) -> list[dict[str, Any]]:
    """The bodies that publish ``report``: the first creates the run (POST), each other one
    updates it (PATCH); the last one completes it. The title, summary and text go in every
    one, so the output reads the same whichever request GitHub showed last."""
    annotations = [annotation_body(a) for a in report.annotations]
    chunks = [
        annotations[i : i + MAX_ANNOTATIONS] for i in range(0, len(annotations), MAX_ANNOTATIONS)
    ] or [[]]
    done = {"status": "completed", "conclusion": report.conclusion.value}
    first: dict[str, Any] = {"name": report.name, "head_sha": report.head_sha}
    if report.external_id:
        first["external_id"] = report.external_id
    if report.details_url:
        first["details_url"] = report.details_url
    first.update(done if len(chunks) == 1 else {"status": "in_progress"})
    first["output"] = _output(report, chunks[0])
    bodies = [first]
    for n, chunk in enumerate(chunks[1:], start=2):
        body: dict[str, Any] = dict(done) if n == len(chunks) else {}
        body["output"] = _output(report, chunk)
        bodies.append(body)
    return bodies


def planned_calls(repository: str, report: CheckReport) -> list[dict[str, Any]]:
    """The calls that would publish ``report`` on ``repository`` (the run's id is not known
    before it is created: ``{check_run_id}`` stands for it)."""
    first, *rest = check_run_requests(report)
    base = f"/repos/{repository}/check-runs"
    calls = [{"method": "POST", "path": base, "body": first}]
    calls += [{"method": "PATCH", "path": f"{base}/{{check_run_id}}", "body": b} for b in rest]
    return calls
