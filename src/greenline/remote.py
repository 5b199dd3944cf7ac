"""The team server's REST API as an adapter: an httpx client that sends the API token, retries
with exponential backoff and jitter for a bounded time, and turns the server's answers into
model values or one-line errors (uploads of runs in batches, selection, JUnit reports).

The token comes from the caller (``GREENLINE_TOKEN`` in the interfaces); it travels only in the
``Authorization`` header and is never part of a message, a URL or an error.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from greenline import __version__
from greenline.config import mask_url
from greenline.errors import ServerError, ServerUnavailableError, UsageError
from greenline.model import (
    Block,
    CommitInfo,
    Environment,
    Reason,
    ReasonKind,
    SelectedTest,
    SelectionPlan,
    TestResult,
)

TOKEN_ENV = "GREENLINE_TOKEN"
#: answers after which the same request may succeed: the server is starting, overloaded, or
#: a proxy in front of it is
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
FIRST_DELAY = 0.25
MAX_DELAY = 8.0
#: bodies smaller than this are sent as they are: compressing them saves nothing
GZIP_ABOVE = 1024


def check_server_url(url: str, where: str = "--server") -> str:
    """``url`` without a trailing slash; a UsageError unless it is an http(s) address."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"{where} {mask_url(url)!r} is not an http(s) address",
            hint=f"{where} https://greenline.example.com (the address greenline serve prints)",
        )
    return url.rstrip("/")


class ServerClient:
    """Requests to one team server. ``retry_seconds`` bounds how long one request is tried
    again; ``sleep``, ``clock`` and ``rng`` are parameters so tests can run it without waiting."""

    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        retry_seconds: float = 30.0,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.url = check_server_url(url)
        self.display_url = mask_url(self.url)
        self.retry_seconds = retry_seconds
        headers = {"User-Agent": f"greenline/{__version__}", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            base_url=f"{self.url}/api/v1",
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
            follow_redirects=False,
        )
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ServerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        content: bytes | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = True,
        retry_seconds: float | None = None,
    ) -> Any:
        """The JSON answer to one request, tried again on a dropped connection or a 5xx/429
        until ``retry_seconds`` (default: the client's) have passed. A request that is not
        ``idempotent`` is tried again only when it never reached the server."""
        sent_headers = dict(headers or {})
        if body is not None:
            content = json.dumps(body, separators=(",", ":")).encode("utf-8")
            sent_headers["Content-Type"] = "application/json"
            if len(content) > GZIP_ABOVE:
                content = gzip.compress(content, compresslevel=5)
                sent_headers["Content-Encoding"] = "gzip"
        budget = self.retry_seconds if retry_seconds is None else retry_seconds
        deadline = self._clock() + budget
        what = f"{method} {path}"
        for attempt in range(1_000_000):
            try:
                response = self._http.request(
                    method, path, content=content, params=params, headers=sent_headers
                )
            except httpx.TransportError as exc:
                if not idempotent and not isinstance(
                    exc, httpx.ConnectError | httpx.ConnectTimeout
                ):
                    raise self._unavailable(what, _transport_text(exc), 0) from None
                trouble, wait = _transport_text(exc), None
            else:
                if response.status_code < 400:
                    return _json_of(response, what, self.display_url)
                if response.status_code not in RETRY_STATUSES:
                    raise self._refused(what, response)
                trouble, wait = _answer_text(response), _retry_after(response)
            delay = self._delay(attempt, wait)
            if self._clock() + delay > deadline:
                raise self._unavailable(what, trouble, budget)
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _delay(self, attempt: int, wait: float | None) -> float:
        """Exponential backoff with jitter: half the step fixed, half drawn (so many clients
        that failed together do not come back together); a Retry-After the server gave, capped."""
        step = min(MAX_DELAY, FIRST_DELAY * 2.0 ** min(attempt, 16))
        delay = step / 2 + self._rng.uniform(0, step / 2)
        return min(MAX_DELAY, max(delay, wait)) if wait is not None else delay

    def _unavailable(self, what: str, trouble: str, budget: float) -> ServerUnavailableError:
        tried = f" (tried for {budget:.0f}s)" if budget else ""
        return ServerUnavailableError(
            f"the server at {self.display_url} did not answer {what}{tried}: {trouble}",
            hint="is greenline serve running there? (its /healthz answers)",
        )

    def _refused(self, what: str, response: httpx.Response) -> ServerError:
        error = _error_of(response)
        message = error.get("message") or _answer_text(response)
        hint = error.get("hint")
        if response.status_code == 401:
            hint = f"set {TOKEN_ENV} to a token the server knows (greenline token create NAME)"
        elif response.status_code == 403:
            hint = hint or "ask for a token with the scope this needs"
        return ServerError(
            f"the server at {self.display_url} refused {what} ({response.status_code}): {message}",
            hint=hint,
        )

    # -- reading -------------------------------------------------------------------------------
    def baseline_candidates(
        self, pages: int = 5, retry_seconds: float | None = None
    ) -> Iterator[tuple[int, str]]:
        """(run id, commit sha) of the server's complete runs with coverage, newest first."""
        cursor: str | None = None
        for _ in range(pages):
            params = {"status": "complete", "limit": "200"}
            if cursor:
                params["cursor"] = cursor
            doc = self.call("GET", "/runs", params=params, retry_seconds=retry_seconds)
            for run in doc.get("runs", []):
                sha = (run.get("commit") or {}).get("sha")
                if run.get("has_coverage") and sha:
                    yield int(run["id"]), str(sha)
            cursor = doc.get("next_cursor")
            if not cursor:
                return

    def run_test_ids(self, run_id: int, retry_seconds: float | None = None) -> set[str]:
        """Every test id with a result in the run (the server sends them a page at a time)."""
        ids: set[str] = set()
        cursor: str | None = None
        while True:
            params = {"include": "all", "limit": "10000"}
            if cursor:
                params["cursor"] = cursor
            path = f"/runs/{run_id}"
            doc = self.call("GET", path, params=params, retry_seconds=retry_seconds)
            ids.update(str(r["test_id"]) for r in doc.get("results", []))
            cursor = doc.get("next_cursor")
            if not cursor:
                return ids

    def select(
        self,
        base: str,
        *,
        diff: str | None = None,
        changed_files: list[str] | None = None,
        budget: str | None = None,
        confidence: str | None = None,
        environment: Environment | None = None,
        retry_seconds: float | None = None,
    ) -> dict[str, Any]:
        """The server's selection document (``greenline select --format json``) for a change
        made on commit ``base``: the ``diff`` against it, or the ``changed_files``."""
        body: dict[str, Any] = {"base": base}
        if diff is not None:
            body["diff"] = diff
        else:
            body["changed_files"] = changed_files or []
        body |= {k: v for k, v in (("budget", budget), ("confidence", confidence)) if v}
        if environment is not None:
            body["environment"] = _environment_body(environment)
        doc: dict[str, Any] = self.call("POST", "/select", body=body, retry_seconds=retry_seconds)
        return doc

    def upload_junit(self, report: bytes, commit: str | None, branch: str | None) -> Any:
        """Store a JUnit XML report as one complete run; the server's run document. Tried
        again only when the request never reached the server (a resent report would be a
        second run)."""
        params = {k: v for k, v in (("commit", commit), ("branch", branch)) if v}
        return self.call(
            "POST",
            "/runs/junit",
            content=report,
            params=params,
            headers={"Content-Type": "application/xml"},
            idempotent=False,
        )


# -- uploads ----------------------------------------------------------------------------------
class RunUpload:
    """One run sent to the server: started under a key drawn here, then batch 1, 2, … each
    sent until the server acknowledges it (a batch it stored before is acknowledged again, not
    stored twice), then finished."""

    def __init__(self, client: ServerClient, key: str | None = None) -> None:
        self.client = client
        self.key = key or uuid.uuid4().hex
        self.run_id: int | None = None
        #: batches the server acknowledged, and the results in them
        self.batches = 0
        self.results = 0
        self.duplicates = 0

    def start(
        self,
        commit: CommitInfo,
        environment: Environment | None,
        *,
        args: str | None = None,
        hostname: str | None = None,
        pid: int | None = None,
        retry_seconds: float | None = None,
    ) -> int:
        body = {
            "key": self.key,
            "source": "pytest",
            "commit": _commit_body(commit),
            "environment": _environment_body(environment),
            "args": args,
            "hostname": hostname,
            "pid": pid,
        }
        doc = self.client.call("POST", "/uploads", body=body, retry_seconds=retry_seconds)
        self.run_id = int(doc["run_id"])
        return self.run_id

    def send(
        self,
        results: list[TestResult],
        coverage: Mapping[str, Iterable[Block]] | None = None,
        file_reads: Mapping[str, Iterable[str]] | None = None,
        import_time: Mapping[str, Iterable[Block]] | None = None,
    ) -> bool:
        """Send the next batch until it is acknowledged; False when the server had it already."""
        seq = self.batches + 1
        body = batch_body(results, coverage, file_reads, import_time)
        doc = self.client.call("POST", f"/uploads/{quote(self.key)}/batches/{seq}", body=body)
        self.batches, self.results = seq, self.results + len(results)
        if doc.get("duplicate"):
            self.duplicates += 1
        return not doc.get("duplicate")

    def finish(
        self, exit_status: int | None, *, complete: bool, retry_seconds: float | None = None
    ) -> dict[str, Any]:
        """End the run; the server's run document."""
        body = {"exit_status": exit_status, "complete": complete, "batches": self.batches}
        doc: dict[str, Any] = self.client.call(
            "POST", f"/uploads/{quote(self.key)}/finish", body=body, retry_seconds=retry_seconds
        )
        return doc


def batch_body(
    results: list[TestResult],
    coverage: Mapping[str, Iterable[Block]] | None = None,
    file_reads: Mapping[str, Iterable[str]] | None = None,
    import_time: Mapping[str, Iterable[Block]] | None = None,
) -> dict[str, Any]:
    """A batch as the server takes it: each block listed once, tests (and modules imported)
    pointing at them."""
    index: dict[Block, int] = {}

    def point(entries: Mapping[str, Iterable[Block]] | None) -> dict[str, list[int]]:
        return {
            name: [index.setdefault(b, len(index)) for b in blocks]
            for name, blocks in (entries or {}).items()
        }

    tests, modules = point(coverage), point(import_time)
    return {
        "results": [
            {
                "test_id": r.test_id,
                "outcome": r.outcome.value,
                "duration": r.duration,
                "phase": r.phase.value if r.phase else None,
                "message": r.message,
                "attempt": r.attempt,
                "path": r.path,
            }
            for r in results
        ],
        "blocks": [[b.path, b.name, b.checksum] for b in index],
        "coverage": tests,
        "file_reads": {t: list(paths) for t, paths in (file_reads or {}).items()},
        "import_time": modules,
    }


def _commit_body(commit: CommitInfo) -> dict[str, Any]:
    return {
        "sha": commit.sha,
        "branch": commit.branch,
        "dirty": commit.dirty,
        "committed_at": commit.committed_at.isoformat() if commit.committed_at else None,
        "subject": commit.subject,
    }


def _environment_body(env: Environment | None) -> dict[str, str] | None:
    if env is None:
        return None
    return {"python": env.python, "platform": env.platform, "packages_hash": env.packages_hash}


# -- selection --------------------------------------------------------------------------------
def plan_of(doc: Mapping[str, Any], known: set[str] | None = None) -> SelectionPlan:
    """The selection document the server answered, as a plan; ``known`` (the baseline's test
    ids) gives the unaffected tests by name, which the document only counts."""

    def reason(r: Mapping[str, Any]) -> Reason:
        return Reason(ReasonKind(r["kind"]), str(r.get("detail", "")))

    selected = tuple(
        SelectedTest(
            str(t["test_id"]),
            tuple(reason(r) for r in t.get("reasons", [])),
            float(t.get("duration") or 0.0),
            float(t.get("likelihood") or 0.0),
        )
        for t in doc.get("selected", [])
    )
    over = tuple(str(t) for t in doc.get("over_budget", []))
    chosen = {t.test_id for t in selected} | set(over)
    full = doc.get("full_suite")
    return SelectionPlan(
        baseline_run_id=doc.get("baseline_run_id"),
        base=doc.get("base"),
        selected=selected,
        unaffected=tuple(sorted((known or set()) - chosen)),
        suite_duration=float(doc.get("suite_duration") or 0.0),
        full_suite=reason(full) if full else None,
        new_test_files=tuple(str(p) for p in doc.get("new_test_files", [])),
        over_budget=over,
        ranker=str(doc.get("ranker") or "heuristic"),
    )


# -- answers ----------------------------------------------------------------------------------
def _json_of(response: httpx.Response, what: str, where: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise ServerError(
            f"the server at {where} answered {what} with something other than JSON",
            hint="is the address that of greenline serve (not a proxy's page)?",
        ) from None


def _error_of(response: httpx.Response) -> dict[str, Any]:
    with contextlib.suppress(ValueError, AttributeError):
        error = response.json().get("error")
        if isinstance(error, dict):
            return error
    return {}


def _answer_text(response: httpx.Response) -> str:
    message = _error_of(response).get("message")
    text = message or response.reason_phrase or "no reason given"
    return f"HTTP {response.status_code} {text}"[:300]


def _transport_text(exc: httpx.TransportError) -> str:
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}{': ' + detail if detail else ''}"[:300]


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
