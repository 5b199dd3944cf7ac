"""What greenline's merge queue needs from a code host to run on pull requests: read a pull
request, reach the host's git repository (the queue pushes each speculative tree there as
``greenline/queue/<run>``, and fetches heads from it), delete those branches again, move the
base branch forward to a tested tree (never anything but a fast-forward), comment on a pull
request and take its queue label off, and say when CI finished on a pushed tree.

Two hosts implement it: GitHub (``forge.github_queue``, over the REST API) and a local git
forge (``forge.local_git``: a bare repository with its pull requests in a JSON record, for tests
and demos). Each counts the API calls it makes (``calls``), so a benchmark can tell what a
landed pull request costs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from greenline.model.pulls import CiResult, PullRequest


@dataclass(frozen=True)
class GitRemote:
    """The host's git repository: its URL (or path), and the environment git needs to reach
    it (credentials travel in ``GIT_CONFIG_*`` variables, never on a command line)."""

    url: str
    env: Mapping[str, str] = field(default_factory=dict)


class PullHost(Protocol):
    """One repository on a code host, as the merge queue uses it."""

    #: how the host is named in messages and in the queue's document (``github``, ``local-git``)
    kind: str
    #: the repository (OWNER/REPO on GitHub)
    repository: str

    @property
    def calls(self) -> int:
        """API calls made so far (git's own transfers are not counted)."""

    def remote(self) -> GitRemote:
        """Where git fetches heads from and pushes the queue's trees to."""

    def default_branch(self) -> str: ...

    def read_pull(self, number: int) -> PullRequest:
        """The pull request as the host has it now; a ForgeError when there is none."""

    def pull_ref(self, number: int) -> str:
        """The ref its head can be fetched by (``refs/pull/N/head``)."""

    def branch_sha(self, branch: str) -> str | None:
        """The commit ``branch`` is at, or None when there is no such branch."""

    def queue_branches(self) -> dict[str, str]:
        """Every ``greenline/queue/…`` branch there: name to commit."""

    def delete_branch(self, branch: str) -> bool:
        """False when there was no such branch."""

    def fast_forward(self, branch: str, sha: str) -> bool:
        """Move ``branch`` forward to ``sha`` (True, also when it is there already); False
        when that is no fast-forward (the branch moved on meanwhile: it stays where it is)."""

    def upsert_comment(self, number: int, key: str, body: str) -> None:
        """greenline's comment ``key`` on pull request ``number``: the one there is updated,
        else a new one is made (one per key, however often it is written)."""

    def remove_label(self, number: int, label: str) -> None:
        """Take ``label`` off the pull request (nothing when it is not on it)."""

    def ci_results(self, branch: str, sha: str) -> list[CiResult]:
        """CI that finished on ``sha`` pushed as ``branch`` (to catch up with results whose
        notice was missed: the queue learns of results from webhooks first)."""

    def close(self) -> None: ...
