"""The fake's repository endpoints: the repository, pull requests and their files, issue
comments, labels, and git refs that really move in the bare repository (a fast-forward-only
update that is not one is refused with 422, as GitHub refuses it)."""

from __future__ import annotations

import re
from typing import Any

from tests.fakegithub import objects
from tests.fakegithub.endpoint import Context, RefusalError
from tests.fakegithub.state import Comment, Pull

SHA = re.compile(r"^[0-9a-f]{40}$")


def get_repository(ctx: Context) -> tuple[int, Any]:
    return 200, objects.repository(ctx.state, ctx.repository)


def _pull(ctx: Context) -> Pull:
    pull = ctx.repository.pulls.get(int(ctx.params["number"]))
    if pull is None:
        raise RefusalError(404, "Not Found")
    return pull


def get_pull(ctx: Context) -> tuple[int, Any]:
    return 200, objects.pull(ctx.state, ctx.repository, _pull(ctx))


def list_pulls(ctx: Context) -> tuple[int, Any, dict[str, str]]:
    wanted = ctx.query.get("state", "open")
    pulls = []
    for p in sorted(ctx.repository.pulls.values(), key=lambda p: -p.number):
        ctx.repository.refresh_merged(p)
        if wanted == "all" or (wanted == "open") == (p.closed_at is None):
            pulls.append(p)
    page, headers = ctx.page(pulls)
    return 200, [objects.pull(ctx.state, ctx.repository, p) for p in page], headers


def pull_files(ctx: Context) -> tuple[int, Any, dict[str, str]]:
    files = objects.pull_files(ctx.state, ctx.repository, _pull(ctx))[:3000]
    page, headers = ctx.page(files)
    return 200, page, headers


# -- comments --------------------------------------------------------------------------------
def _author(ctx: Context) -> tuple[str, str | None]:
    assert ctx.caller is not None
    slug = ctx.caller.app_slug
    return ctx.caller.login, (ctx.state.app_slug if slug is None else slug or None)


def list_comments(ctx: Context) -> tuple[int, Any, dict[str, str]]:
    number = _pull(ctx).number
    found = [c for c in ctx.repository.comments.values() if c.number == number]
    page, headers = ctx.page(sorted(found, key=lambda c: c.id))
    return 200, [objects.comment(ctx.state, ctx.repository, c) for c in page], headers


def _body_text(ctx: Context) -> str:
    body = ctx.body.get("body") if isinstance(ctx.body, dict) else None
    if not isinstance(body, str) or not body:
        raise RefusalError(422, 'Invalid request.\n\n"body" wasn\'t supplied.')
    if len(body) > 65_536:
        raise RefusalError(422, "Validation Failed: body is too long (maximum is 65536 characters)")
    return body


def create_comment(ctx: Context) -> tuple[int, Any]:
    number = _pull(ctx).number
    login, app = _author(ctx)
    comment = Comment(ctx.state.next_id(), number, _body_text(ctx), login, app)
    ctx.repository.comments[comment.id] = comment
    return 201, objects.comment(ctx.state, ctx.repository, comment)


def update_comment(ctx: Context) -> tuple[int, Any]:
    comment = ctx.repository.comments.get(int(ctx.params["comment_id"]))
    if comment is None:
        raise RefusalError(404, "Not Found")
    if (comment.login, comment.app_slug) != _author(ctx):
        raise RefusalError(403, "Resource not accessible by integration")
    from tests.fakegithub.state import stamp

    comment.body, comment.updated_at = _body_text(ctx), stamp()
    return 200, objects.comment(ctx.state, ctx.repository, comment)


# -- labels ----------------------------------------------------------------------------------
def add_labels(ctx: Context) -> tuple[int, Any]:
    from tests.fakegithub.events import pull_request_event

    pull = _pull(ctx)
    names = ctx.body.get("labels") if isinstance(ctx.body, dict) else ctx.body
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise RefusalError(422, 'Invalid request.\n\n"labels" must be a list of names.')
    for name in names:
        if name not in ctx.repository.labels:
            ctx.repository.labels[name] = ctx.state.next_id()
        if name not in pull.labels:
            pull.labels.append(name)
            event = pull_request_event(ctx.state, ctx.repository, pull, "labeled", label=name)
            ctx.events.append(("pull_request", event))
    return 200, objects.labels(ctx.state, ctx.repository, pull.labels)


def remove_label(ctx: Context) -> tuple[int, Any]:
    from tests.fakegithub.events import pull_request_event

    pull = _pull(ctx)
    name = ctx.params["name"]
    if name not in pull.labels:
        raise RefusalError(404, "Label does not exist")
    pull.labels.remove(name)
    event = pull_request_event(ctx.state, ctx.repository, pull, "unlabeled", label=name)
    ctx.events.append(("pull_request", event))
    return 200, objects.labels(ctx.state, ctx.repository, pull.labels)


# -- git refs --------------------------------------------------------------------------------
def _full_ref(ctx: Context) -> str:
    return "refs/" + ctx.params["ref"].strip("/")


def get_ref(ctx: Context) -> tuple[int, Any]:
    ref = _full_ref(ctx)
    sha = ctx.repository.refs(ref).get(ref)
    if sha is None:
        raise RefusalError(404, "Not Found")
    return 200, objects.git_ref(ctx.state, ctx.repository, ref, sha)


def matching_refs(ctx: Context) -> tuple[int, Any, dict[str, str]]:
    prefix = _full_ref(ctx) if ctx.params["ref"] else "refs/"
    found = sorted((r, s) for r, s in ctx.repository.refs().items() if r.startswith(prefix))
    page, headers = ctx.page(found)
    return 200, [objects.git_ref(ctx.state, ctx.repository, r, s) for r, s in page], headers


def _commit(ctx: Context, sha: Any) -> str:
    if not isinstance(sha, str) or not SHA.match(sha) or ctx.repository.resolve(sha) != sha:
        raise RefusalError(422, "Object does not exist")
    return sha


def _moved(ctx: Context, ref: str, before: str | None, after: str | None, forced: bool) -> None:
    from tests.fakegithub.events import moved_ref_events

    ctx.events += moved_ref_events(ctx.state, ctx.repository, ref, before, after, forced)


def create_ref(ctx: Context) -> tuple[int, Any]:
    body = ctx.body if isinstance(ctx.body, dict) else {}
    ref = body.get("ref")
    if not isinstance(ref, str) or not ref.startswith("refs/") or ref.count("/") < 2:
        raise RefusalError(422, "ref must start with 'refs' and have at least two slashes.")
    sha = _commit(ctx, body.get("sha"))
    if not ctx.repository.move_ref(ref, sha, None):
        raise RefusalError(422, "Reference already exists")
    _moved(ctx, ref, None, sha, False)
    return 201, objects.git_ref(ctx.state, ctx.repository, ref, sha)


def update_ref(ctx: Context) -> tuple[int, Any]:
    ref = _full_ref(ctx)
    body = ctx.body if isinstance(ctx.body, dict) else {}
    sha = _commit(ctx, body.get("sha"))
    force = bool(body.get("force", False))
    old = ctx.repository.refs(ref).get(ref)
    if old is None:
        raise RefusalError(422, "Reference does not exist")
    if not force and not ctx.repository.is_ancestor(old, sha):
        raise RefusalError(422, "Update is not a fast forward")
    if not ctx.repository.move_ref(ref, sha, old):
        raise RefusalError(422, "Reference cannot be updated")
    if old != sha:
        _moved(ctx, ref, old, sha, force and not ctx.repository.is_ancestor(old, sha))
    return 200, objects.git_ref(ctx.state, ctx.repository, ref, sha)


def delete_ref(ctx: Context) -> tuple[int, Any]:
    ref = _full_ref(ctx)
    old = ctx.repository.refs(ref).get(ref)
    if old is None or not ctx.repository.move_ref(ref, None, old):
        raise RefusalError(422, "Reference does not exist")
    _moved(ctx, ref, old, None, False)
    return 204, None
