"""GitHub's REST and GraphQL APIs for one repository: check runs, pull requests and their files,
issue comments found again by a hidden marker, labels, git refs (created, moved only by
fast-forward unless forced, deleted), commit statuses and check suites.

The newest requests are kept in ``sent`` (method, path, body: never a header) and counted in
``calls``, so a command can show what it sent, and a benchmark can count the calls per pull
request.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx

from greenline.errors import ForgeConflictError, ForgeError, UsageError
from greenline.forge.github import GitHubClient
from greenline.forge.github_auth import Credentials, mask_tokens
from greenline.forge.github_checks import check_run_requests
from greenline.model.forge import CheckReport, PublishedCheck

#: calls a client keeps in ``sent``
SENT_KEPT = 1000
REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
#: the hidden line that marks a comment as greenline's (one per key on an issue)
MARKER = "<!-- greenline:{key} -->"
OPEN_PULLS = """
query($owner: String!, $name: String!, $after: String, $labels: [String!]) {
  repository(owner: $owner, name: $name) {
    pullRequests(first: 100, after: $after, states: [OPEN], labels: $labels) {
      pageInfo { hasNextPage endCursor }
      nodes {
        number title headRefName headRefOid baseRefName
        labels(first: 100) { nodes { name } }
      }
    }
  }
}
"""


def check_repository(repository: str) -> str:
    if not REPOSITORY.match(repository):
        raise UsageError(f"{repository!r} is not OWNER/REPO", hint="e.g. octo-org/octo-repo")
    return repository


def _ref_path(ref: str, *, prefix: bool = False) -> str:
    """``refs/heads/x``, ``heads/x`` or a branch name ``x`` as the API's path (``heads/x``);
    a ``prefix`` of names may end with ``/``."""
    name = ref.removeprefix("refs/")
    if not name.startswith(("heads/", "tags/", "pull/")):
        name = f"heads/{name}"
    bad = ".." in name or any(c in name for c in " ~^:?*[\\") or name.startswith("-")
    if bad or (name.endswith("/") and not prefix):
        raise UsageError(f"{ref!r} is not a git ref name", hint="e.g. refs/heads/feature")
    return quote(name, safe="/")


class GitHubApi(GitHubClient):
    """One repository's API, authorized by ``credentials`` (a token, or an App's
    installation token made on first use)."""

    token_hint = (
        "check the token (GREENLINE_GITHUB_TOKEN) or the GitHub App's installation: it needs "
        "checks, pull requests and contents write, and metadata read"
    )
    rate_limit_hint = "try again once the limit resets (GitHub's rate limits are per hour)"

    def __init__(self, repository: str, credentials: Credentials, **kwargs: Any) -> None:
        super().__init__(None, **kwargs)
        self.repository = check_repository(repository)
        self.credentials = credentials
        #: the newest calls (a server's client lives long: older ones are let go)
        self.sent: deque[dict[str, Any]] = deque(maxlen=SENT_KEPT)
        self.calls = 0
        self.base = f"/repos/{repository}"

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": self.credentials.authorization(self.repository)}

    def close(self) -> None:
        super().close()
        close = getattr(self.credentials, "close", None)
        if close is not None:
            close()

    def mask(self, text: str) -> str:
        return mask_tokens(text, self.credentials.secrets())

    def request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, str] | None = None,
        json: object = None,
        allow: tuple[int, ...] = (),
    ) -> httpx.Response:
        self.sent.append({"method": method, "path": url, "body": json})
        self.calls += 1
        return super().request(method, url, params=params, json=json, allow=allow)

    def refusal(self, response: httpx.Response, method: str, url: str) -> ForgeError:
        if response.status_code == 422:
            return ForgeError(
                self.mask(f"GitHub refused {method} {url} (422): {_message(response)}"),
                hint="the request does not fit what GitHub holds; see its message",
            )
        return super().refusal(response, method, url)

    def _send(self, method: str, url: str, body: object = None) -> Any:
        """The JSON answer to one call."""
        return self.request(method, url, json=body).json()

    def _items(self, path: str, key: str | None = None) -> Iterator[Any]:
        """Every item of a listing, page by page (``key``: the list inside each page)."""
        for doc in self.pages(path, {"per_page": "100"}):
            items = doc.get(key, []) if key and isinstance(doc, dict) else doc
            yield from items if isinstance(items, list) else []

    # -- repository ----------------------------------------------------------------------------
    def get_repository(self) -> dict[str, Any]:
        doc: dict[str, Any] = self._send("GET", self.base)
        return doc

    # -- check runs ----------------------------------------------------------------------------
    def create_check_run(self, body: dict[str, Any]) -> dict[str, Any]:
        doc: dict[str, Any] = self._send("POST", f"{self.base}/check-runs", body)
        return doc

    def update_check_run(self, check_run_id: int, body: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.base}/check-runs/{int(check_run_id)}"
        doc: dict[str, Any] = self._send("PATCH", url, body)
        return doc

    def publish_check(self, report: CheckReport) -> PublishedCheck:
        """A new completed check run for ``report`` on its commit: created with the first 50
        annotations, each further 50 added by an update."""
        start = self.calls
        first, *rest = check_run_requests(report)
        run = self.create_check_run(first)
        for body in rest:
            run = self.update_check_run(int(run["id"]), body)
        sent = tuple(list(self.sent)[start - self.calls :])
        return PublishedCheck(int(run["id"]), run.get("html_url"), sent)

    def check_runs_for_ref(self, ref: str, name: str | None = None) -> list[dict[str, Any]]:
        params = {"per_page": "100", **({"check_name": name} if name else {})}
        url = f"{self.base}/commits/{quote(ref, safe='')}/check-runs"
        return [r for doc in self.pages(url, params) for r in doc.get("check_runs", [])]

    def check_suites_for_ref(self, ref: str) -> list[dict[str, Any]]:
        url = f"{self.base}/commits/{quote(ref, safe='')}/check-suites"
        return list(self._items(url, "check_suites"))

    def create_status(
        self,
        sha: str,
        state: str,
        context: str,
        description: str = "",
        target_url: str | None = None,
    ) -> dict[str, Any]:
        """A commit status (``state``: error, failure, pending or success) under ``context``."""
        body: dict[str, Any] = {"state": state, "context": context}
        if description:
            body["description"] = description[:140]  # GitHub's limit
        if target_url:
            body["target_url"] = target_url
        doc: dict[str, Any] = self._send("POST", f"{self.base}/statuses/{sha}", body)
        return doc

    def combined_status(self, ref: str) -> dict[str, Any]:
        """The commit's combined status (``state``: success, pending or failure)."""
        doc: dict[str, Any] = self.get(f"{self.base}/commits/{quote(ref, safe='')}/status").json()
        return doc

    # -- pull requests -------------------------------------------------------------------------
    def get_pull(self, number: int) -> dict[str, Any]:
        doc: dict[str, Any] = self.get(f"{self.base}/pulls/{int(number)}").json()
        return doc

    def pull_files(self, number: int) -> list[dict[str, Any]]:
        """The files a pull request changes (GitHub lists at most 3,000)."""
        return list(self._items(f"{self.base}/pulls/{int(number)}/files"))

    def open_pulls(self, label: str | None = None) -> list[dict[str, Any]]:
        """Open pull requests (with ``label`` only, when given), through GraphQL: number,
        title, head and base, labels."""
        owner, name = self.repository.split("/")
        found: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            variables: dict[str, Any] = {"owner": owner, "name": name, "after": after}
            variables["labels"] = [label] if label else None
            data = self.graphql(OPEN_PULLS, variables)
            pulls = (data.get("repository") or {}).get("pullRequests") or {}
            for node in pulls.get("nodes") or []:
                labels = [n["name"] for n in (node.get("labels") or {}).get("nodes") or []]
                found.append({**node, "labels": labels})
            page = pulls.get("pageInfo") or {}
            if not page.get("hasNextPage"):
                return found
            after = page.get("endCursor")

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """``data`` of a GraphQL query; GraphQL's errors (sent with 200) are a ForgeError."""
        doc = self.request("POST", "/graphql", json={"query": query, "variables": variables})
        body = doc.json()
        errors = body.get("errors") if isinstance(body, dict) else None
        if errors:
            first = errors[0].get("message", errors[0]) if isinstance(errors[0], dict) else errors
            raise ForgeError(
                self.mask(f"GitHub's GraphQL API refused the query: {first}"),
                hint="check the repository's name and that the token can read it",
            )
        data: dict[str, Any] = body.get("data") or {}
        return data

    # -- comments and labels -------------------------------------------------------------------
    def find_comment(self, number: int, key: str) -> dict[str, Any] | None:
        """greenline's comment of ``key`` on issue or pull request ``number``, if any."""
        marker = MARKER.format(key=key)
        url = f"{self.base}/issues/{int(number)}/comments"
        return next((c for c in self._items(url) if marker in (c.get("body") or "")), None)

    def upsert_comment(self, number: int, key: str, body: str) -> dict[str, Any]:
        """Write greenline's comment of ``key`` on ``number``: the one there is updated (one
        per key, however often it is written), else a new one is made."""
        text = f"{MARKER.format(key=key)}\n{body}"
        found = self.find_comment(number, key)
        if found is not None:
            url = f"{self.base}/issues/comments/{int(found['id'])}"
            doc: dict[str, Any] = self._send("PATCH", url, {"body": text})
        else:
            doc = self._send("POST", f"{self.base}/issues/{int(number)}/comments", {"body": text})
        return doc

    def add_labels(self, number: int, labels: list[str]) -> list[str]:
        url = f"{self.base}/issues/{int(number)}/labels"
        return [label["name"] for label in self._send("POST", url, {"labels": labels})]

    def remove_label(self, number: int, label: str) -> bool:
        """False when the label was not on it."""
        url = f"{self.base}/issues/{int(number)}/labels/{quote(label, safe='')}"
        return self.request("DELETE", url, allow=(404,)).status_code != 404

    # -- git refs ------------------------------------------------------------------------------
    def get_ref(self, ref: str) -> str | None:
        """The sha ``ref`` points at, or None when there is no such ref."""
        response = self.request("GET", f"{self.base}/git/ref/{_ref_path(ref)}", allow=(404,))
        if response.status_code == 404:
            return None
        return str(response.json()["object"]["sha"])

    def matching_refs(self, prefix: str) -> dict[str, str]:
        """Every ref under ``prefix`` (``heads/greenline/queue/``): full name to sha."""
        url = f"{self.base}/git/matching-refs/{_ref_path(prefix, prefix=True)}"
        return {r["ref"]: r["object"]["sha"] for r in self._items(url)}

    def create_ref(self, ref: str, sha: str) -> None:
        """A new ref at ``sha``; a ForgeConflictError when it exists."""
        body = {"ref": f"refs/{_ref_path(ref)}", "sha": sha}
        response = self.request("POST", f"{self.base}/git/refs", json=body, allow=(422,))
        if response.status_code == 422:
            raise ForgeConflictError(
                f"GitHub did not create {body['ref']}: {_message(response)}",
                hint="delete the ref first, or move it with an update",
            )

    def update_ref(self, ref: str, sha: str, *, force: bool = False) -> None:
        """Move ``ref`` to ``sha``; without ``force`` only forward (GitHub refuses any other
        move with 422, a ForgeConflictError here: the ref stays where it was)."""
        url = f"{self.base}/git/refs/{_ref_path(ref)}"
        body = {"sha": sha, "force": force}
        response = self.request("PATCH", url, json=body, allow=(422,))
        if response.status_code == 422:
            raise ForgeConflictError(
                f"GitHub did not move {ref} to {sha[:12]}: {_message(response)}",
                hint="the ref moved on meanwhile: rebuild on its new commit",
            )

    def delete_ref(self, ref: str) -> bool:
        """False when there was no such ref."""
        url = f"{self.base}/git/refs/{_ref_path(ref)}"
        return self.request("DELETE", url, allow=(404, 422)).status_code == 204


def _message(response: httpx.Response) -> str:
    try:
        doc = response.json()
    except ValueError:
        return response.text[:200]
    return str(doc.get("message", doc))[:200] if isinstance(doc, dict) else str(doc)[:200]
