"""The fake's App endpoints (installation of a repository, installation tokens) and the Checks
and Statuses APIs, validated as GitHub validates them (at most 50 annotations a request,
outputs within 65,535 characters, a head sha the repository has, check runs made by Apps
only)."""

from __future__ import annotations

from typing import Any

from tests.fakegithub import objects
from tests.fakegithub.endpoint import Context, RefusalError
from tests.fakegithub.payloads import render
from tests.fakegithub.state import CheckRun, CheckSuite, Status, stamp

STATUSES = {"queued", "in_progress", "completed", "waiting", "requested", "pending"}
CONCLUSIONS = {
    "action_required",
    "cancelled",
    "failure",
    "neutral",
    "success",
    "skipped",
    "stale",
    "timed_out",
}
LEVELS = {"notice", "warning", "failure"}
MAX_CHARS = 65_535


# -- the App ---------------------------------------------------------------------------------
def get_installation(ctx: Context) -> tuple[int, Any]:
    return 200, objects.installation(ctx.state, ctx.repository)


def create_installation_token(ctx: Context) -> tuple[int, Any]:
    repo = ctx.state.installation(int(ctx.params["installation_id"]))
    if repo is None:
        raise RefusalError(404, "Not Found")
    token = ctx.state.issue_token(repo.installation_id)
    expires = stamp(token.expires)
    return 201, render("api/installation-token", token=token.value, expires_at=expires)


# -- check runs ------------------------------------------------------------------------------
def _app_of(ctx: Context) -> str:
    assert ctx.caller is not None
    slug = ctx.caller.app_slug
    if slug is None:
        return ctx.state.app_slug
    if not slug:
        raise RefusalError(403, "You must authenticate via a GitHub App.")
    return slug


def _validate(body: Any, creating: bool) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise RefusalError(422, "Invalid request.\n\nThe body is not a JSON object.")
    for key in ("name", "head_sha") if creating else ():
        if not isinstance(body.get(key), str) or not body[key]:
            raise RefusalError(422, f'Invalid request.\n\n"{key}" wasn\'t supplied.')
    if "status" in body and body["status"] not in STATUSES:
        raise RefusalError(422, f"Invalid request.\n\n{body['status']!r} is not a valid status.")
    if body.get("conclusion") is not None and body["conclusion"] not in CONCLUSIONS:
        raise RefusalError(422, f"Invalid request.\n\n{body['conclusion']!r} is not a conclusion.")
    if body.get("status") == "completed" and not body.get("conclusion"):
        raise RefusalError(422, 'Invalid request.\n\n"conclusion" wasn\'t supplied.')
    output = body.get("output")
    if output is not None:
        _validate_output(output)
    return body


def _validate_output(output: Any) -> None:
    if not isinstance(output, dict) or not output.get("title") or not output.get("summary"):
        raise RefusalError(
            422, 'Invalid request.\n\nFor \'output\', "title" and "summary" are required.'
        )
    for key in ("summary", "text"):
        value = output.get(key)
        if isinstance(value, str) and len(value) > MAX_CHARS:
            raise RefusalError(
                422,
                f"Invalid request.\n\nOnly {MAX_CHARS} characters are allowed; "
                f"{len(value)} were supplied.",
            )
    annotations = output.get("annotations") or []
    if len(annotations) > 50:
        raise RefusalError(422, "Invalid request.\n\nOnly 50 annotations are allowed per request.")
    for a in annotations:
        missing = [
            k
            for k in ("path", "start_line", "end_line", "annotation_level", "message")
            if a.get(k) in (None, "")
        ]
        if missing:
            raise RefusalError(422, f'Invalid request.\n\n"{missing[0]}" wasn\'t supplied.')
        if a["annotation_level"] not in LEVELS:
            raise RefusalError(
                422, f"Invalid request.\n\n{a['annotation_level']!r} is not a level."
            )
        if a["end_line"] < a["start_line"]:
            raise RefusalError(422, "Invalid request.\n\nend_line is before start_line.")


def _apply(run: CheckRun, body: dict[str, Any]) -> None:
    if body.get("conclusion"):
        run.status, run.conclusion = "completed", body["conclusion"]
    elif "status" in body:
        run.status = body["status"]
    if run.status == "completed" and run.completed_at is None:
        run.completed_at = body.get("completed_at") or stamp()
    for key in ("external_id", "details_url"):
        if key in body:
            setattr(run, key, body[key])
    output = body.get("output")
    if output:
        run.title, run.summary = output["title"], output["summary"]
        if "text" in output:
            run.text = output["text"]
        run.annotations += list(output.get("annotations") or [])  # appended, as GitHub does


def _suite_for(ctx: Context, sha: str, app_slug: str) -> CheckSuite:
    repo = ctx.repository
    for suite in repo.suites.values():
        if suite.head_sha == sha and suite.app_slug == app_slug:
            return suite
    branch = next(
        (
            ref.removeprefix("refs/heads/")
            for ref, tip in repo.refs("refs/heads/").items()
            if tip == sha
        ),
        None,
    )
    suite = CheckSuite(ctx.state.next_id(), sha, branch, app_slug)
    repo.suites[suite.id] = suite
    return suite


def _event(ctx: Context, action: str, run: CheckRun) -> None:
    from tests.fakegithub.events import check_run_event

    ctx.events.append(("check_run", check_run_event(ctx.state, ctx.repository, run, action)))


def create_check_run(ctx: Context) -> tuple[int, Any]:
    body = _validate(ctx.body, creating=True)
    slug = _app_of(ctx)
    sha = ctx.repository.resolve(body["head_sha"]) if len(body["head_sha"]) == 40 else None
    if sha is None:
        raise RefusalError(422, f"No commit found for SHA: {body['head_sha']}")
    suite = _suite_for(ctx, sha, slug)
    run = CheckRun(ctx.state.next_id(), body["name"], sha, slug, suite.id)
    _apply(run, body)
    ctx.repository.check_runs[run.id] = run
    _event(ctx, "created", run)
    if run.status == "completed":
        _event(ctx, "completed", run)
    return 201, objects.check_run(ctx.state, ctx.repository, run)


def _own_run(ctx: Context) -> CheckRun:
    run = ctx.repository.check_runs.get(int(ctx.params["check_run_id"]))
    if run is None:
        raise RefusalError(404, "Not Found")
    return run


def update_check_run(ctx: Context) -> tuple[int, Any]:
    body = _validate(ctx.body, creating=False)
    run = _own_run(ctx)
    if _app_of(ctx) != run.app_slug:
        raise RefusalError(403, "Invalid app_id: the check run belongs to another app")
    was = run.status
    _apply(run, body)
    if was != "completed" and run.status == "completed":
        _event(ctx, "completed", run)
    return 200, objects.check_run(ctx.state, ctx.repository, run)


def get_check_run(ctx: Context) -> tuple[int, Any]:
    return 200, objects.check_run(ctx.state, ctx.repository, _own_run(ctx))


def list_annotations(ctx: Context) -> tuple[int, Any, dict[str, str]]:
    items, headers = ctx.page(list(_own_run(ctx).annotations))
    return 200, items, headers


def _sha_of(ctx: Context) -> str:
    sha = ctx.repository.resolve(ctx.params["ref"])
    if sha is None:
        raise RefusalError(422, f"No commit found for SHA: {ctx.params['ref']}")
    return sha


def runs_for_ref(ctx: Context) -> tuple[int, Any, dict[str, str]]:
    sha = _sha_of(ctx)
    runs = [r for r in ctx.repository.check_runs.values() if r.head_sha == sha]
    if ctx.query.get("check_name"):
        runs = [r for r in runs if r.name == ctx.query["check_name"]]
    if ctx.query.get("status"):
        runs = [r for r in runs if r.status == ctx.query["status"]]
    if ctx.query.get("filter", "latest") == "latest":
        newest = {}
        for r in runs:
            newest[(r.app_slug, r.name)] = r
        runs = list(newest.values())
    runs.sort(key=lambda r: -r.id)
    page, headers = ctx.page(runs)
    shown = [objects.check_run(ctx.state, ctx.repository, r) for r in page]
    return 200, {"total_count": len(runs), "check_runs": shown}, headers


def suites_for_ref(ctx: Context) -> tuple[int, Any, dict[str, str]]:
    sha = _sha_of(ctx)
    suites = [s for s in ctx.repository.suites.values() if s.head_sha == sha]
    page, headers = ctx.page(suites)
    shown = [objects.check_suite(ctx.state, ctx.repository, s) for s in page]
    return 200, {"total_count": len(suites), "check_suites": shown}, headers


# -- statuses --------------------------------------------------------------------------------
def create_status(ctx: Context) -> tuple[int, Any]:
    body = ctx.body if isinstance(ctx.body, dict) else {}
    sha = ctx.repository.resolve(ctx.params["sha"])
    if sha is None or sha != ctx.params["sha"]:
        raise RefusalError(422, f"No commit found for SHA: {ctx.params['sha']}")
    if body.get("state") not in ("error", "failure", "pending", "success"):
        raise RefusalError(422, "Validation Failed: state is not included in the list")
    status = Status(
        ctx.state.next_id(),
        sha,
        body["state"],
        body.get("context") or "default",
        body.get("description"),
        body.get("target_url"),
    )
    ctx.repository.statuses.append(status)
    return 201, objects.status(ctx.state, ctx.repository, status)


def combined_status(ctx: Context) -> tuple[int, Any]:
    return 200, objects.combined_status(ctx.state, ctx.repository, _sha_of(ctx))
