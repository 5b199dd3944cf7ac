"""The merge queue on pull requests: the same engine and the same stored document as the local
queue (``api.queue``), with a code host in place of the local repository and its CI in place
of local checks.

A pull request enters with ``greenline queue add --pr N`` or the ``greenline:queue`` label; the
engine's check runs become branches ``greenline/queue/<run>`` pushed to the host, each holding
the exact tree that would land; CI runs on them as on any push, and its results (``check_suite``
or ``workflow_run`` completed, by webhook, or ``sync`` asking the host) step the engine. A tree
that passed lands by fast-forwarding the base branch (the host marks its pull requests merged);
an ejected pull request gets a comment with the reason and the failed tests. Every decision is
in the store before anything happens on the host (``api.pr_queue_work``): a restart loses
nothing, and only a tree whose own CI passed ever lands.

    gl.pull_queue.add(12)                                  # or: label it greenline:queue
    gl.pull_queue.handle("workflow_run", payload)          # the webhook's event and body
    gl.pull_queue.sync()                                   # catch up with the host
"""

from __future__ import annotations

import time
from typing import Any

from greenline import vcs
from greenline.api.flaky import FlakyService
from greenline.api.pr_queue_hosts import HostOpener, new_forge_doc
from greenline.api.pr_queue_work import (
    LOCAL_REFS,
    Counts,
    QueueWork,
    landed_commits,
    main_moved,
    step_pulls,
)
from greenline.api.queue_runner import QueueDoc, QueueDocuments, claim_mode
from greenline.api.runs import RunService
from greenline.api.selection import SelectionService
from greenline.api.workspace import Workspace
from greenline.errors import GreenlineError, NoDataError, UsageError
from greenline.forge.pull_events import (
    read_ci_result,
    read_pull_event,
    read_push,
    repository_of,
)
from greenline.forge.pulls import PullHost
from greenline.mergequeue.engine import initial_state
from greenline.model.flaky import EvidenceKind, Verdict
from greenline.model.forge import WebhookEvent
from greenline.model.pulls import (
    QUEUE_LABEL,
    BranchMoved,
    CiResult,
    PullEvent,
    PullRequest,
    change_id_of,
    queue_branch,
    run_of_branch,
)
from greenline.model.queue import (
    Added,
    Event,
    FlakyTestsKnown,
    QueueConfig,
    QueueEntry,
    Removed,
    RunFinished,
)

CI_EVENTS = ("check_suite", "workflow_run")


class PullQueueService:
    """greenline's merge queue on a code host's pull requests."""

    def __init__(
        self,
        ws: Workspace,
        runs: RunService,
        selection: SelectionService,
        flaky: FlakyService,
        hosts: HostOpener,
    ) -> None:
        self.ws, self.runs, self.selection, self.flaky = ws, runs, selection, flaky
        self.docs = QueueDocuments(ws)
        self.hosts = hosts
        self._host: PullHost | None = None
        self.counts = Counts()

    # -- the host --------------------------------------------------------------------------
    def host(self) -> PullHost:
        """The code host the queue works on (the one its document names, once it has one)."""
        if self._host is None:
            _, doc = self.docs.read()
            where = (doc.forge or {}).get("where") if doc is not None else None
            self._host = self.hosts(where)
        return self._host

    def close(self) -> None:
        if self._host is not None:
            self._host.close()
            self._host = None

    # -- commands --------------------------------------------------------------------------
    def add(self, number: int, priority: int = 0) -> QueueEntry:
        """Queue pull request ``number`` at its current head (again at a new head: the old one
        leaves the queue)."""
        pull = self.host().read_pull(number)
        entry = self._enqueue(pull, priority, "added by hand")
        self.work()
        return entry

    def remove(self, number: int, reason: str = "removed by hand") -> None:
        change = change_id_of(number)

        def remove(doc: QueueDoc) -> None:
            if doc.forge is None or doc.state.entry(change) is None:
                raise UsageError(
                    f"pull request {change} is not queued", hint="greenline queue status"
                )
            step_pulls(doc, [Removed(change, reason)])
            doc.log("removed", (change,), reason, None)

        if not self._has_queue():
            raise UsageError(f"pull request {change} is not queued", hint="greenline queue status")
        self.docs.change(remove)
        self.work()

    def work(self) -> Counts:
        """Carry out what the queue decided and has not done on the host yet."""
        done = QueueWork(self.docs, self.host(), self.ws.root).run()
        for key, value in vars(done).items():
            setattr(self.counts, key, getattr(self.counts, key) + value)
        return done

    def sync(self) -> dict[str, Any]:
        """Catch up with the host without webhooks: its base branch moved by someone else,
        CI results on the queue's trees, branches the queue no longer needs; then do what is
        left to do. After a restart or a missed delivery nothing waits for ever."""
        _, doc = self.docs.read()
        if doc is None or doc.forge is None:
            return {"schema": "greenline.queue-sync/1", "results": 0, **vars(Counts())}
        host = self.host()
        current = host.branch_sha(doc.branch)
        if current is not None:
            self.branch_moved(BranchMoved(doc.branch, None, current))
        results = 0
        for run_id, sha in dict(doc.commits).items():
            for result in host.ci_results(queue_branch(run_id), sha):
                if self.ci_finished(result, work=False).startswith("run "):
                    results += 1
        self._forget_strays(host)
        return {"schema": "greenline.queue-sync/1", "results": results, **vars(self.work())}

    def _forget_strays(self, host: PullHost) -> None:
        """Queue branches on the host no running check needs (left by a crash) go."""
        _, doc = self.docs.read()
        if doc is None or doc.forge is None:
            return
        needed = set(doc.forge["pushed"].values()) | {
            queue_branch(p["run_id"]) for p in doc.pending
        }
        queued = {i.get("branch") for i in doc.forge["outbox"]}
        strays = sorted(set(host.queue_branches()) - needed - queued)
        if strays:

            def forget(d: QueueDoc) -> None:
                assert d.forge is not None
                d.forge["outbox"] += [{"do": "delete", "branch": b} for b in strays]

            self.docs.change(forget)

    # -- what the host tells ---------------------------------------------------------------
    def handle(self, event: str, payload: dict[str, Any]) -> str:
        """A webhook's event and body (GitHub's shapes): what the queue did, in one line."""
        repository = repository_of(payload)
        if repository.lower() != self.host().repository.lower():
            return f"{event}: not the queue's repository ({repository or 'none'})"
        if event == "pull_request":
            pulled = read_pull_event(payload)
            return self.pull_changed(pulled) if pulled else "pull_request: unreadable, ignored"
        if event in CI_EVENTS:
            result = read_ci_result(event, payload)
            return self.ci_finished(result) if result else f"{event}: no verdict on a tree"
        if event == "push":
            moved = read_push(payload)
            return self.branch_moved(moved) if moved else "push: not a branch"
        return f"{event}: not the queue's"

    def wants(self, event: WebhookEvent) -> bool:
        """Whether a webhook is the queue's business: anything while the queue runs on pull
        requests, else a pull request's queue label (the queue starts with it)."""
        _, doc = self.docs.read()
        if doc is not None and doc.forge is not None:
            return True
        pulled = read_pull_event(event.payload) if event.event == "pull_request" else None
        return pulled is not None and (
            pulled.label == QUEUE_LABEL or pulled.pull.is_queued_by_label
        )

    def pull_changed(self, event: PullEvent) -> str:
        pull, action = event.pull, event.action
        what = f"pull request {pull.change_id} {action}"
        queued = self._is_queued(pull.change_id)
        if action == "labeled" and event.label == QUEUE_LABEL and pull.open:
            return self._add_from_host(pull, what)
        if action in ("opened", "reopened", "ready_for_review") and pull.is_queued_by_label:
            return self._add_from_host(pull, what)
        if action == "synchronize" and queued:
            return self._add_from_host(pull, what + ": queued again at its new head")
        if action == "unlabeled" and event.label == QUEUE_LABEL and queued:
            self.remove(pull.number, "its greenline:queue label was taken off")
            return f"{what}: removed from the queue"
        if action == "closed" and queued:
            self.remove(pull.number, "merged" if pull.merged else "closed")
            return f"{what}: removed from the queue"
        return f"{what}: nothing for the queue"

    def _add_from_host(self, pull: PullRequest, what: str) -> str:
        try:
            entry = self._enqueue(pull, 0, what)
        except UsageError as exc:  # a pull request for another base, say: said, not failed
            return f"{what}: not queued: {exc.message}"
        self.work()
        return f"{what}: queued at {entry.head[:10]}"

    def ci_finished(self, result: CiResult, *, work: bool = True) -> str:
        """CI's verdict on a pushed tree steps the engine, if it is the verdict on the tree
        the run is waiting for (its branch, at the commit pushed for it)."""
        run_id = run_of_branch(result.branch)
        if run_id is None:
            return f"{result.name} {result.conclusion} on {result.branch}: not a queue branch"
        failed = () if result.passed else self._failed_tests(result)

        def finish(doc: QueueDoc) -> str:
            run = next((r for r in doc.state.runs if r.run_id == run_id), None)
            if doc.forge is None or run is None or run.passed is not None:
                return f"{result.name} on {result.branch}: {run_id} is not running (ignored)"
            if doc.commits.get(run_id) != result.sha:
                return f"{result.name} on {result.sha[:10]}: not the tree {run_id} tests (ignored)"
            doc.log("ci", run.changes, f"{result.name}: {result.conclusion}", run_id, result.sha)
            step_pulls(doc, [RunFinished(run_id, result.passed, failed)])
            return f"run {run_id} {'passed' if result.passed else 'failed'} ({result.name})"

        said = self.docs.change(finish) if self._has_queue() else "no merge queue"
        if work and said.startswith("run "):
            self.work()
        return said

    def branch_moved(self, moved: BranchMoved) -> str:
        """The base branch moved: by the queue's own landing (nothing to do), or by someone
        else (every tree starts again on the new commit)."""

        def change(doc: QueueDoc) -> str:
            if doc.forge is None or moved.branch != doc.branch or moved.after is None:
                return f"push to {moved.branch}: nothing for the queue"
            if moved.after == doc.main or moved.after in landed_commits(doc):
                return f"{moved.branch} at {moved.after[:10]}: the queue's own landing"
            if doc.pending:  # the landing's fast-forward finds out whether it moved
                return f"{moved.branch}: a landing is under way"
            main_moved(doc, moved.after, "by someone else")
            return f"{moved.branch} moved to {moved.after[:10]} by someone else: trees restart"

        said = self.docs.change(change) if self._has_queue() else "no merge queue"
        if "trees restart" in said:
            self.work()
        return said

    # -- inside ----------------------------------------------------------------------------
    def _has_queue(self) -> bool:
        return self.docs.read()[1] is not None

    def _is_queued(self, change: str) -> bool:
        _, doc = self.docs.read()
        return doc is not None and doc.forge is not None and doc.state.entry(change) is not None

    def _enqueue(self, pull: PullRequest, priority: int, why: str) -> QueueEntry:
        host = self.host()
        if not pull.open:
            state = "merged" if pull.merged else "closed"
            raise UsageError(f"pull request #{pull.number} is {state}", hint="reopen it first")
        _, existing = self.docs.read()
        branch = existing.branch if existing and existing.forge else host.default_branch()
        if pull.base_ref != branch:
            raise UsageError(
                f"pull request #{pull.number} is to land on {pull.base_ref}; the queue lands "
                f"on {branch}",
                hint=f"change its base branch to {branch}, or merge it by hand",
            )
        remote = host.remote()
        refs = [
            f"+refs/heads/{branch}:{LOCAL_REFS}/base",
            f"+{host.pull_ref(pull.number)}:{LOCAL_REFS}/pull/{pull.number}",
        ]
        vcs.fetch_refs(self.ws.root, remote.url, refs, dict(remote.env))
        base = vcs.resolve_revision(self.ws.root, f"{LOCAL_REFS}/base")
        lane = self._lane(base, pull.head_sha)
        entry = QueueEntry(pull.change_id, pull.head_sha, time.time(), priority, lane)
        flaky = self._known_flaky()

        def change(doc: QueueDoc) -> QueueEntry:
            claim_mode(doc, pulls=True)
            if doc.forge is None:  # an idle queue of local branches becomes this one
                doc.branch, doc.main = branch, base
                doc.state = initial_state(doc.state.config, base)
                doc.forge = new_forge_doc(host)
            old = doc.state.entry(entry.change_id)
            if old is not None and old.head == entry.head:
                return old
            # the flaky capability's verdicts, as they are now: a failure only in these is run
            # again rather than blamed
            events: list[Event] = [FlakyTestsKnown(flaky)]
            if old is not None:
                events.append(
                    Removed(entry.change_id, f"replaced by its new head {pull.head_sha[:10]}")
                )
            doc.forge["pulls"][entry.change_id] = {
                "number": pull.number,
                "title": pull.title,
                "head_ref": pull.head_ref,
            }
            events.append(Added(entry))
            doc.log("queued", (entry.change_id,), f"at {pull.head_sha[:10]}: {why}", None)
            step_pulls(doc, events)
            return entry

        def new() -> QueueDoc:
            doc = QueueDoc(branch, base, initial_state(QueueConfig(), base))
            doc.forge = new_forge_doc(host)
            return doc

        return self.docs.change(change, create=True, new=new)

    def _known_flaky(self) -> frozenset[str]:
        """The tests the flaky capability calls flaky on evidence stronger than flips (what
        failures say aside): the queue's own trees make a test pass on one and fail on the next
        for real."""
        try:
            verdicts = self.flaky.verdicts()
        except NoDataError:
            return frozenset()
        return frozenset(
            v.test_id
            for v in verdicts
            if v.verdict is Verdict.FLAKY
            and any(e.kind is not EvidenceKind.FLIPS for e in v.evidence)
        )

    def _lane(self, base: str, head: str) -> frozenset[str]:
        """The tests the pull request can break (the engine blames a failure in them on it
        first): its selection against the newest baseline, else the files it changes."""
        try:
            plan = self.selection.plan_change(head)
        except GreenlineError:
            plan = None
        if plan is not None and plan.full_suite is None:
            return frozenset(t.test_id for t in plan.selected)
        return frozenset(vcs.changed_files(self.ws.root, base, head))

    def _failed_tests(self, result: CiResult) -> tuple[str, ...]:
        """The tests that failed in the tree's CI, from the results its job uploaded (the
        newest run of the commit in the store), else what the host said."""
        found = [r for r in self.runs.list_runs(limit=200) if r.commit.sha == result.sha]
        if found:
            failed = sorted(
                {t.test_id for t in self.runs.run_results(found[0].id) if t.outcome.is_failure}
            )
            if failed:
                return tuple(failed)
        return (f"{result.name}: {result.conclusion} (no test results uploaded for the tree)",)
