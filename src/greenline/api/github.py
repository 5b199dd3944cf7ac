"""GitHub: a client per repository (credentials and the API's address from the environment),
the check runs greenline publishes on a commit (the selection, the flaky verdicts of a run's
failures, the triage of a failed run), and the webhooks the team server receives: each recorded
once by its delivery id, then processed in the background by its event's handler
(``api.github_events``), crash-safe (a delivery not processed yet is taken up after a restart,
one whose processing failed is tried again, at most three times).

    gl.github.receive(delivery_id, event, body)     # the webhook route: record, answer at once
    gl.github.process_next()                        # the server's worker: one delivery
    gl.github.publish(repository, gl.github.selection_check(sha))
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from greenline import vcs
from greenline.api.flaky import FlakyService
from greenline.api.github_checks import (
    Locate,
    find_definition,
    flaky_report,
    selection_report,
    triage_report,
)
from greenline.api.github_events import HANDLERS, Handler
from greenline.api.recovery import RecoveryService
from greenline.api.runs import RunService
from greenline.api.selection import SelectionService
from greenline.api.workspace import Workspace
from greenline.errors import GreenlineError, InputError, NoDataError, UsageError
from greenline.forge.github_api import GitHubApi, check_repository
from greenline.forge.github_auth import Credentials, api_url, credentials_from_env, mask_tokens
from greenline.forge.github_checks import planned_calls
from greenline.forge.github_webhooks import is_signed
from greenline.ids import is_object_id
from greenline.model import Run
from greenline.model.forge import (
    CheckConclusion,
    CheckReport,
    Delivery,
    DeliveryReceipt,
    DeliveryStatus,
    PublishedCheck,
    WebhookEvent,
)
from greenline.store import github as stored

WEBHOOK_SECRET_ENV = "GREENLINE_GITHUB_WEBHOOK_SECRET"
#: how long a claimed delivery is another process's (then it is taken up again)
LEASE_SECONDS = 300.0
#: tries of a delivery whose processing fails, and the wait before the next (times the try)
MAX_ATTEMPTS = 3
RETRY_SECONDS = 60.0
#: the longest a call waits out a rate limit (a longer limit fails the call)
MAX_RATE_WAIT = 120.0
DELIVERY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,99}$")


class GitHubService:
    """greenline on GitHub: checks published, webhooks received and processed."""

    def __init__(
        self,
        ws: Workspace,
        runs: RunService,
        selection: SelectionService,
        flaky: FlakyService,
        recovery: RecoveryService,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.ws, self.runs, self.selection = ws, runs, selection
        self.flaky, self.recovery = flaky, recovery
        self.env = os.environ if env is None else env
        #: each event's handler; later capabilities add theirs (the queue: check_suite, …)
        self.handlers: dict[str, Handler] = dict(HANDLERS)
        self._credentials: Credentials | None = None
        self._clients: dict[str, GitHubApi] = {}
        self._lock = threading.Lock()

    # -- clients -----------------------------------------------------------------------------
    def client(self, repository: str) -> GitHubApi:
        """The API of ``repository`` (OWNER/REPO), authorized from the environment."""
        check_repository(repository)
        with self._lock:
            key = repository.lower()
            if key not in self._clients:
                if self._credentials is None:
                    self._credentials = credentials_from_env(self.env)
                self._clients[key] = GitHubApi(
                    repository,
                    self._credentials,
                    base_url=api_url(self.env),
                    max_wait=MAX_RATE_WAIT,
                )
            return self._clients[key]

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()

    @property
    def webhook_secret(self) -> str | None:
        """The webhooks' shared secret (``GREENLINE_GITHUB_WEBHOOK_SECRET``), if set."""
        return (self.env.get(WEBHOOK_SECRET_ENV) or "").strip() or None

    def is_signed(self, body: bytes, signature: str | None) -> bool:
        """True when ``signature`` (``X-Hub-Signature-256``) is the webhook secret's HMAC of
        ``body``; False without a secret."""
        secret = self.webhook_secret
        return secret is not None and is_signed(secret, body, signature)

    def mask(self, text: str) -> str:
        secrets = [*(self._credentials.secrets() if self._credentials else [])]
        return mask_tokens(text, [*secrets, *(s for s in [self.webhook_secret] if s)])

    # -- repositories ------------------------------------------------------------------------
    def known_repositories(self) -> set[str]:
        """The repositories whose webhooks this server acts on (lower case): those the
        settings name, else this checkout's and those of the runs in the store."""
        named = self.ws.settings.github_repositories
        if named:
            return {n.lower() for n in named}
        with self.ws.store.read() as conn:
            names = stored.repository_names(conn)
        return {self.ws.repository.lower(), *(n.lower() for n in names)}

    def is_known(self, repository: str) -> bool:
        return repository.lower() in self.known_repositories()

    # -- checks ------------------------------------------------------------------------------
    def selection_check(self, sha: str, *, base: str | None = None) -> CheckReport:
        """The selection of commit ``sha``: in a CI job's checkout of it, the working tree's
        change since the baseline (``base``: the baseline's commit); else the commit's."""
        full = vcs.resolve_revision(self.ws.root, sha)
        if vcs.read_commit(self.ws.root).sha == full:
            plan = self.selection.plan(base)
        elif base is not None:
            raise UsageError(
                f"--base works in a checkout of the commit; {sha} is not checked out here",
                hint=f"git checkout {sha}, or leave --base out (the baseline is found in history)",
            )
        else:
            plan = self.selection.plan_change(full)
        return selection_report(plan, full)

    def run_at(self, sha: str, run_id: int | None = None) -> Run:
        """Run ``run_id``, or the newest recorded run of commit ``sha``."""
        if run_id is not None:
            return self.runs.get_run(run_id)
        full = _full_sha(self.ws, sha)
        found = [r for r in self.runs.list_runs(limit=500) if r.commit.sha == full]
        if not found:
            raise NoDataError(
                f"no recorded run of commit {sha[:12]}",
                hint="record the job's tests first (pytest --greenline-record, or greenline "
                "import junit), or pass --run ID",
            )
        return found[0]

    def flaky_check(self, sha: str, run_id: int | None = None) -> CheckReport:
        """The flaky verdicts of the failing tests of the run (of ``sha``)."""
        run = self.run_at(sha, run_id)
        full = run.commit.sha or _full_sha(self.ws, sha)
        verdicts = {v.test_id: v for v in self.flaky.verdicts()}
        return flaky_report(
            full,
            run.id,
            self.runs.run_results(run.id),
            verdicts,
            self.flaky.active_quarantine(),
            self._locator(full),
        )

    def triage_check(self, sha: str, run_id: int | None = None) -> CheckReport:
        """The triage of the run (of ``sha``): why each of its failing tests failed."""
        run = self.run_at(sha, run_id)
        full = run.commit.sha or _full_sha(self.ws, sha)
        try:
            report = self.recovery.triage(run.id)
        except NoDataError:
            summary = f"Run {run.id} has no failing tests: nothing to triage."
            return CheckReport(
                "greenline/triage", full, CheckConclusion.SUCCESS, "No failing tests", summary
            )
        paths = {r.test_id: r.path for r in self.runs.run_results(run.id)}
        return triage_report(report, paths, self._locator(full))

    def _locator(self, sha: str) -> Locate:
        def locate(test_id: str, path: str | None) -> tuple[str, int] | None:
            head = test_id.split("::", 1)[0]
            path = path or (head if head.endswith(".py") else None)
            text = vcs.read_file_at(self.ws.root, sha, path) if path else None
            if path is None or text is None:
                return None
            return path, find_definition(text, test_id) or 1

        return locate

    def publish(self, repository: str, report: CheckReport) -> PublishedCheck:
        """``report`` as a new check run on its commit."""
        return self.client(repository).publish_check(report)

    def planned_calls(self, repository: str, report: CheckReport) -> list[dict[str, Any]]:
        """What ``publish`` would send (nothing is sent)."""
        return planned_calls(check_repository(repository), report)

    def repository_for(self, given: str | None = None) -> str:
        """The repository a check goes to: ``given``, else ``GITHUB_REPOSITORY`` (set in
        GitHub Actions), else this checkout's (its origin remote's OWNER/REPO)."""
        name = given or (self.env.get("GITHUB_REPOSITORY") or "").strip() or self.ws.repository
        if given is None and "/" not in name:
            raise UsageError(
                f"this checkout's name {name!r} is not OWNER/REPO (it has no GitHub origin)",
                hint="pass --repository OWNER/REPO",
            )
        return check_repository(name)

    def publish_selection(
        self, repository: str, sha: str, what: str, *, group_base: str | None = None
    ) -> str:
        """Publish the selection of ``sha`` (a pull request's or merge group's head), when
        this server can compute it; what was done. ``group_base``: a merge group's base, whose
        diff to the head (the group's pull requests) is what the selection judges."""
        if repository.lower() != self.ws.repository.lower():
            return f"{what}: no selection: this server's checkout is {self.ws.repository}"
        if not is_object_id(sha) or not vcs.fetch_commit(self.ws.root, sha):
            return f"{what}: no selection: commit {sha[:12]} could not be fetched"
        try:
            if group_base and is_object_id(group_base):
                plan = self.selection.plan_merge_group(group_base, sha)
                report = selection_report(plan, vcs.resolve_revision(self.ws.root, sha))
            else:
                report = self.selection_check(sha)
        except NoDataError as exc:
            return f"{what}: no selection: {exc.message}"
        published = self.publish(repository, report)
        return f"{what}: selection check {published.id} on {sha[:12]}: {report.title}"

    def publish_review(self, repository: str, number: int, sha: str, base_sha: str) -> str:
        """Write (or bring up to date) the review digest of pull request ``number`` as its
        greenline comment: the change from the merge-base of ``base_sha`` and ``sha`` to
        ``sha``, read in a detached work tree of the head (the server's own stays as it is)."""
        from greenline.api import Greenline  # the services again, on the head's work tree
        from greenline.api.review_markdown import MARKER

        what = f"pull request #{number}"
        if repository.lower() != self.ws.repository.lower():
            return f"{what}: no review: this server's checkout is {self.ws.repository}"
        root = self.ws.root
        if not (is_object_id(base_sha) and vcs.fetch_commit(root, base_sha)):
            return f"{what}: no review: base commit {base_sha[:12]} could not be fetched"
        base = vcs.merge_base(root, base_sha, sha) or base_sha
        trees = self.ws.greenline_dir / "review-trees"
        trees.mkdir(parents=True, exist_ok=True)
        tree = trees / sha[:12]
        vcs.add_worktree(root, tree, sha)
        try:
            head = Greenline(replace(self.ws, root=tree, workdir=tree))
            body = head.review.comment(base)
        finally:
            vcs.remove_worktree(root, tree)
        body = body.removeprefix(MARKER).lstrip("\n")
        self.client(repository).upsert_comment(number, "review", body)
        return f"{what}: review comment written for {sha[:12]}"

    # -- webhooks ----------------------------------------------------------------------------
    def receive(
        self, delivery_id: str, event: str, body: bytes, now: datetime | None = None
    ) -> DeliveryReceipt:
        """Record a verified delivery to be processed (or say why it is not): an event no
        handler takes and a repository this server does not know are acknowledged, ignored,
        and not stored; a delivery id seen before is a replay."""
        if not DELIVERY_ID.match(delivery_id):
            raise UsageError(
                f"X-GitHub-Delivery {delivery_id[:40]!r} is not a delivery id",
                hint="GitHub sends a GUID in X-GitHub-Delivery",
            )
        if event not in self.handlers:
            why = "the webhook is set up" if event == "ping" else f"{event} events are not used"
            return DeliveryReceipt(delivery_id, event, DeliveryStatus.IGNORED, why)
        payload = _parse(body)
        repository = (payload.get("repository") or {}).get("full_name")
        if not isinstance(repository, str) or not self.is_known(repository):
            why = f"{repository or 'no repository'} is not a repository this server knows"
            return DeliveryReceipt(delivery_id, event, DeliveryStatus.IGNORED, why)
        action = payload.get("action")
        delivery = Delivery(
            delivery_id,
            event,
            action if isinstance(action, str) else None,
            repository,
            now or datetime.now(UTC),
        )
        with self.ws.store.write() as conn:
            new = stored.record_delivery(conn, delivery, body.decode("utf-8"))
        if not new:
            why = "this delivery id was received before"
            return DeliveryReceipt(delivery_id, event, DeliveryStatus.DUPLICATE, why)
        return DeliveryReceipt(delivery_id, event, DeliveryStatus.QUEUED)

    def process_next(self, now: datetime | None = None) -> str | None:
        """Claim and process the oldest delivery waiting; its id, or None when none waits."""
        now = now or datetime.now(UTC)
        with self.ws.store.read() as conn:  # most looks find nothing: they take no write lock
            waiting = stored.claimable_deliveries(conn, now)
        if not waiting:
            return None
        with self.ws.store.write() as conn:
            delivery_id = stored.claim_delivery(conn, now, LEASE_SECONDS, waiting)
        if delivery_id is not None:
            self.process(delivery_id, now)
        return delivery_id

    def process(self, delivery_id: str, now: datetime | None = None) -> str | None:
        """Run the handler of a claimed delivery; its outcome (None: to be tried again)."""
        with self.ws.store.read() as conn:
            loaded = stored.load_delivery(conn, delivery_id)
        if loaded is None:
            raise NoDataError(f"no delivery {delivery_id}", hint="GitHub resends it on request")
        delivery, body = loaded
        if delivery.processed_at is not None or body is None:
            return delivery.outcome
        payload = _parse(body.encode())
        event = WebhookEvent(
            delivery_id, delivery.event, delivery.action, delivery.repository or "", payload
        )
        try:
            outcome = self.handlers[event.event](self, event)
        except Exception as exc:  # one delivery's failure must not stop the others
            return self._failed(delivery, exc, now or datetime.now(UTC))
        with self.ws.store.write() as conn:
            stored.finish_delivery(conn, delivery_id, self.mask(outcome), datetime.now(UTC))
        return outcome

    def _failed(self, delivery: Delivery, exc: Exception, now: datetime) -> str | None:
        said = exc.message if isinstance(exc, GreenlineError) else f"{type(exc).__name__}: {exc}"
        said = self.mask(said)
        with self.ws.store.write() as conn:
            if delivery.attempts >= MAX_ATTEMPTS:
                outcome = f"failed after {delivery.attempts} attempts: {said}"
                stored.finish_delivery(conn, delivery.delivery_id, outcome, now)
                return outcome
            later = now + timedelta(seconds=RETRY_SECONDS * max(1, delivery.attempts))
            stored.postpone_delivery(
                conn, delivery.delivery_id, f"attempt {delivery.attempts} failed: {said}", later
            )
        return None

    def deliveries(self, limit: int = 50) -> list[Delivery]:
        """The newest deliveries received, with what processing did."""
        with self.ws.store.read() as conn:
            return stored.recent_deliveries(conn, limit)

    def pending(self) -> int:
        with self.ws.store.read() as conn:
            return stored.pending_count(conn)


def _parse(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InputError(
            "the webhook's body is not JSON", hint="set the webhook's content type to JSON"
        ) from None
    if not isinstance(payload, dict):
        raise InputError("the webhook's body is not a JSON object", hint="GitHub sends one")
    return payload


def _full_sha(ws: Workspace, sha: str) -> str:
    """``sha`` in full when this checkout has it (a short sha, a ref), else as given."""
    try:
        return vcs.resolve_revision(ws.root, sha)
    except GreenlineError:
        return sha
