"""The api: a workspace (settings, store, repository, executor) and one service per capability,
composed by ``Greenline``. Interfaces (CLI, pytest plugin, MCP server, web) talk to it only; it
hands them model values, which they render through ``views``. Each service's module loads
when the service is first used, so a command imports only the capabilities it calls.

    with Greenline.open(path) as gl:
        plan = gl.selection.plan(base)
        report = gl.flaky.scan(runs=10)
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from greenline.api.runs import RecordOutcome, RunService
from greenline.api.workspace import Workspace, load_config, open_workspace
from greenline.config import Settings
from greenline.store import Store

if TYPE_CHECKING:
    from greenline.api.baselines import BaselineService
    from greenline.api.findings import FindingService
    from greenline.api.flaky import FlakyService
    from greenline.api.github import GitHubService
    from greenline.api.insights import InsightsService
    from greenline.api.pr_queue import PullQueueService
    from greenline.api.queue import QueueService
    from greenline.api.recovery import RecoveryService
    from greenline.api.review import ReviewService
    from greenline.api.selection import SelectionService
    from greenline.api.shard_runs import ShardRunService
    from greenline.api.split import SplitService
    from greenline.api.tokens import TokenService
    from greenline.api.uploads import UploadService


class Greenline:
    """One repository's services over one store; each service takes the workspace and asks the
    others only through their public methods."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.runs = RunService(ws)

    @cached_property
    def selection(self) -> SelectionService:
        from greenline.api.selection import SelectionService

        return SelectionService(self.ws, self.runs)

    @cached_property
    def baselines(self) -> BaselineService:
        from greenline.api.baselines import BaselineService

        return BaselineService(self.ws, self.runs, self.selection)

    @cached_property
    def flaky(self) -> FlakyService:
        from greenline.api.flaky import FlakyService

        return FlakyService(self.ws, self.runs)

    @cached_property
    def queue(self) -> QueueService:
        from greenline.api.queue import QueueService

        return QueueService(self.ws, self.flaky)

    @cached_property
    def pull_queue(self) -> PullQueueService:
        from greenline.api.pr_queue import PullQueueService
        from greenline.api.pr_queue_hosts import open_pull_host

        hosts = open_pull_host(self.ws, lambda repository: self.github.client(repository))
        return PullQueueService(self.ws, self.runs, self.selection, self.flaky, hosts)

    @cached_property
    def insights(self) -> InsightsService:
        from greenline.api.insights import InsightsService

        return InsightsService(self.ws, self.runs, self.flaky)

    @cached_property
    def recovery(self) -> RecoveryService:
        from greenline.api.recovery import RecoveryService

        return RecoveryService(self.ws, self.runs, self.flaky, self.queue)

    @cached_property
    def github(self) -> GitHubService:
        from greenline.api.github import GitHubService
        from greenline.api.pr_queue_hosts import add_queue_handlers

        service = GitHubService(self.ws, self.runs, self.selection, self.flaky, self.recovery)
        add_queue_handlers(service.handlers, lambda: self.pull_queue)
        return service

    @cached_property
    def tokens(self) -> TokenService:
        from greenline.api.tokens import TokenService

        return TokenService(self.ws)

    @cached_property
    def uploads(self) -> UploadService:
        from greenline.api.uploads import UploadService

        return UploadService(self.ws, self.runs)

    @cached_property
    def split(self) -> SplitService:
        from greenline.api.split import SplitService

        return SplitService(self.ws, self.runs)

    @cached_property
    def shard_runs(self) -> ShardRunService:
        from greenline.api.shard_runs import ShardRunService

        return ShardRunService(self.ws, self.runs, self.split)

    @cached_property
    def findings(self) -> FindingService:
        from greenline.api.findings import FindingService

        return FindingService(self.ws)

    @cached_property
    def review(self) -> ReviewService:
        from greenline.api.review import ReviewService

        return ReviewService(self.ws, self.selection, self.flaky, self.findings)

    @classmethod
    def open(
        cls,
        path: Path | None = None,
        *,
        db: str | None = None,
        env: Mapping[str, str] | None = None,
        migrate: bool = True,
        create: bool = True,
        flags: Mapping[str, object] | None = None,
    ) -> Greenline:
        """Open the workspace of the repository containing ``path`` (see ``open_workspace``)."""
        ws = open_workspace(path, db=db, env=env, migrate=migrate, create=create, flags=flags)
        return cls(ws)

    @property
    def settings(self) -> Settings:
        return self.ws.settings

    @property
    def store(self) -> Store:
        return self.ws.store

    @property
    def repository(self) -> str:
        return self.ws.repository

    def close(self) -> None:
        if "pull_queue" in self.__dict__:  # its code host's client holds connections
            self.pull_queue.close()
        if "github" in self.__dict__:  # its clients hold connections to GitHub
            self.github.close()
        self.ws.close()

    def __enter__(self) -> Greenline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["Greenline", "RecordOutcome", "Workspace", "load_config", "open_workspace"]
