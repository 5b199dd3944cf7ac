"""GitHub as the merge queue's code host, over greenline's GitHub client (``forge.github_api``):
pull requests read through the REST API, the queue's branches deleted and the base branch
fast-forwarded through its git refs API (GitHub refuses a move that is no fast-forward), comments
kept one per key, CI's results read from the commit's check suites; the trees themselves travel
by git to the repository's clone URL, the token in git's environment (an ``http.extraHeader``
scoped to GitHub's origin), never on a command line."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlsplit

from greenline.errors import ForgeConflictError, ForgeError
from greenline.forge.github_api import GitHubApi
from greenline.forge.pull_events import read_ci_result, read_pull
from greenline.forge.pulls import GitRemote
from greenline.model.pulls import QUEUE_BRANCH_PREFIX, CiResult, PullRequest


class GitHubQueueHost:
    """One GitHub repository as the queue uses it."""

    kind = "github"

    def __init__(self, api: GitHubApi) -> None:
        self.api = api
        self.repository = api.repository
        self._repo: dict[str, Any] | None = None

    @property
    def calls(self) -> int:
        return self.api.calls

    def _repository(self) -> dict[str, Any]:
        if self._repo is None:
            self._repo = self.api.get_repository()
        return self._repo

    def remote(self) -> GitRemote:
        url = str(self._repository().get("clone_url") or "")
        if not url:
            raise ForgeError(
                f"GitHub gave no clone URL for {self.repository}",
                hint="check that the token can read the repository's contents",
            )
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            return GitRemote(url)  # a path or file URL (a mirror, the tests' fake): no token
        token = self.api.credentials.authorization(self.repository).split(" ", 1)[-1]
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        env = {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": f"http.{parts.scheme}://{parts.netloc}/.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
        }
        return GitRemote(url, env)

    def default_branch(self) -> str:
        return str(self._repository().get("default_branch") or "main")

    def read_pull(self, number: int) -> PullRequest:
        pull = read_pull(self.api.get_pull(number))
        if pull is None:
            raise ForgeError(
                f"GitHub's pull request #{number} of {self.repository} could not be read",
                hint="check the number; GitHub answered something that is no pull request",
            )
        return pull

    def pull_ref(self, number: int) -> str:
        return f"refs/pull/{int(number)}/head"

    def branch_sha(self, branch: str) -> str | None:
        return self.api.get_ref(f"heads/{branch}")

    def queue_branches(self) -> dict[str, str]:
        found = self.api.matching_refs(f"heads/{QUEUE_BRANCH_PREFIX}")
        return {ref.removeprefix("refs/heads/"): sha for ref, sha in found.items()}

    def delete_branch(self, branch: str) -> bool:
        return self.api.delete_ref(f"heads/{branch}")

    def fast_forward(self, branch: str, sha: str) -> bool:
        try:
            self.api.update_ref(f"heads/{branch}", sha, force=False)
        except ForgeConflictError:
            return False
        return True

    def upsert_comment(self, number: int, key: str, body: str) -> None:
        self.api.upsert_comment(number, key, body)

    def remove_label(self, number: int, label: str) -> None:
        self.api.remove_label(number, label)

    def ci_results(self, branch: str, sha: str) -> list[CiResult]:
        """The completed check suites of ``sha`` that ran for ``branch``."""
        found = []
        for suite in self.api.check_suites_for_ref(sha):
            result = read_ci_result("check_suite", {"action": "completed", "check_suite": suite})
            if result is not None and result.branch == branch:
                found.append(result)
        return found

    def close(self) -> None:
        pass  # the client belongs to the GitHub service, which closes it
