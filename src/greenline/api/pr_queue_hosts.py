"""Where the merge queue on pull requests finds its code host, and how the team server's
webhooks reach it: the host the queue's document names (a local git forge by its path, a GitHub
repository by its name), else the one this checkout's ``origin`` remote is; and the queue's
handler added after each event's own."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from greenline import vcs
from greenline.api.workspace import Workspace
from greenline.errors import ForgeError
from greenline.forge.github_api import GitHubApi
from greenline.forge.github_queue import GitHubQueueHost
from greenline.forge.local_git import LocalForge
from greenline.forge.pulls import PullHost
from greenline.model.forge import WebhookEvent

if TYPE_CHECKING:
    from greenline.api.github import GitHubService
    from greenline.api.github_events import Handler
    from greenline.api.pr_queue import PullQueueService

#: where the host is: ``{"kind": "local-git", "path": …}`` or ``{"kind": "github",
#: "repository": …}``; None: as this checkout's origin remote says
HostOpener = Callable[[dict[str, Any] | None], PullHost]
#: the webhooks the queue hears
QUEUE_EVENTS = ("pull_request", "push", "check_suite", "workflow_run")


def new_forge_doc(host: PullHost) -> dict[str, Any]:
    return {
        "kind": host.kind,
        "repository": host.repository,
        "where": where_of(host),
        "pulls": {},
        "pushed": {},
        "outbox": [],
        "lease": None,
    }


def where_of(host: PullHost) -> dict[str, Any]:
    if isinstance(host, LocalForge):
        return {"kind": host.kind, "path": str(host.bare)}
    return {"kind": host.kind, "repository": host.repository}


def local_forge_of(root: Path) -> LocalForge | None:
    """The local forge this checkout's origin remote is, if it is one."""
    url = vcs.remote_url(root)
    path = Path(url) if url and "://" not in url else None
    return LocalForge(path) if path is not None and LocalForge.is_forge(path) else None


def open_pull_host(ws: Workspace, github: Callable[[str], GitHubApi]) -> HostOpener:
    """How the queue reaches its host: the one its document names, else this checkout's
    origin remote when that is a local forge, else GitHub's repository of the origin
    (``github`` makes its client, credentials from the environment)."""

    def open_host(where: dict[str, Any] | None) -> PullHost:
        if where is None:
            local = local_forge_of(ws.root)
            if local is not None:
                return local
            where = {"kind": "github", "repository": ws.repository}
        if where.get("kind") == "local-git":
            return LocalForge(Path(where["path"]))
        if where.get("kind") == "github":
            return GitHubQueueHost(github(str(where["repository"])))
        raise ForgeError(
            f"the merge queue's document names an unknown code host {where.get('kind')!r}",
            hint="empty the queue (greenline queue remove --pr N) and add its pull requests again",
        )

    return open_host


def add_queue_handlers(handlers: dict[str, Handler], queue: Callable[[], PullQueueService]) -> None:
    """Let the queue hear the webhooks it uses, after what each event's handler does."""

    def handler(first: Handler | None, name: str) -> Handler:
        def handle(github: GitHubService, event: WebhookEvent) -> str:
            said = [queue().handle(name, event.payload)] if queue().wants(event) else []
            if first is not None:
                said.insert(0, first(github, event))
            return "; ".join(said) or f"{name}: nothing to do"

        return handle

    for name in QUEUE_EVENTS:
        handlers[name] = handler(handlers.get(name), name)
