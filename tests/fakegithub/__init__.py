"""A fake GitHub for tests and benchmarks: a Starlette app served by uvicorn on a loopback port,
answering the REST and GraphQL calls greenline makes with GitHub's documented shapes (the
example payloads of ``tests/data/github/``), over bare git repositories that are the remotes.

    with FakeGitHub(tmp_path / "github").serving() as github:
        github.add_repository("octo-org/octo-repo", source=local_repo)
        github.webhook_url, github.webhook_secret = f"{server}/webhooks/github", "s3cret"
        pull = github.open_pull("octo-org/octo-repo", "feature")
        ...
        github.calls("POST", "/repos/octo-org/octo-repo/check-runs")

Benchmarks import it the same way, with the repository root on ``sys.path``.
"""

from __future__ import annotations

from tests.fakegithub.events import signature
from tests.fakegithub.fake import Delivery, FakeGitHub
from tests.fakegithub.state import Call, CheckRun, Pull, Repository

__all__ = ["Call", "CheckRun", "Delivery", "FakeGitHub", "Pull", "Repository", "signature"]
