"""What the merge queue on pull requests does on the code host, made crash-safe: every decision
is written to the queue's document first (with the engine's state, in one store transaction),
and carried out afterwards, each piece marked done when it is.

What is left to do is read off the document: a landing written down but not done yet (the base
branch fast-forwarded to the tested tree), a check run the engine started whose tree is not
pushed yet (built here, pushed as ``greenline/queue/<run>``), and the outbox (branches to
delete, comments on ejected pull requests, queue labels to take off). Whoever finds work takes
a lease on it in the document, so two processes never do it at once; a process that died
holding one leaves it to the next after ``LEASE_SECONDS``. Each piece can be done twice
without harm: a tree is built deterministically (the same commit every time), a landing
already done is recognised, a comment is found again by its key.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from greenline import vcs
from greenline.api.github_checks import code, plain
from greenline.api.queue_runner import QueueDoc, QueueDocuments
from greenline.errors import ForgeError, VcsError
from greenline.forge.pulls import PullHost
from greenline.mergequeue.codec import load_entry
from greenline.model.pulls import QUEUE_LABEL, number_of, queue_branch
from greenline.model.queue import (
    Action,
    Added,
    Eject,
    Event,
    MainMoved,
    QueueRun,
    RunFinished,
)

LEASE_SECONDS = 300.0
#: refusals of one outbox item by the host before it is given up
SEND_TRIES = 3
#: the comment greenline keeps on a pull request the queue ejected (one, updated)
COMMENT_KEY = "queue"
#: local refs keeping the commits fetched from the host reachable
LOCAL_REFS = "refs/greenline/pr-queue"


@dataclass
class Counts:
    """What one process did on the host (for the benchmark and ``queue sync``)."""

    pushed: int = 0
    landed: int = 0
    deleted: int = 0
    commented: int = 0


def step_pulls(doc: QueueDoc, events: list[Event]) -> list[Action]:
    """Feed the engine (as ``QueueDoc.step`` does) and put what follows on the host in the
    outbox: an ejected pull request's comment and label, and the branch of every run that is
    no longer running."""
    forge = doc.forge
    assert forge is not None
    actions = doc.step(events)
    for action in actions:
        if isinstance(action, Eject) and (number := number_of(action.change_id)) is not None:
            body = eject_comment(doc, action)
            forge["outbox"] += [
                {"do": "comment", "number": number, "body": body},
                {"do": "unlabel", "number": number},
            ]
    running = {r.run_id for r in doc.state.runs if r.passed is None}
    for run_id, branch in list(forge["pushed"].items()):
        if run_id not in running:
            forge["outbox"].append({"do": "delete", "branch": branch})
            del forge["pushed"][run_id]
    keep = {r.run_id for r in doc.state.runs} | {p["run_id"] for p in doc.pending}
    doc.commits = {k: v for k, v in doc.commits.items() if k in keep}
    live = {e.change_id for e in doc.state.entries}
    live |= {e["change_id"] for p in doc.pending for e in p["entries"]}
    forge["pulls"] = {k: v for k, v in forge["pulls"].items() if k in live}
    return actions


def main_moved(doc: QueueDoc, moved: str, why: str) -> None:
    """The base branch is at ``moved`` by someone else's hand: landings not done yet are
    queued again (their trees are stale), and every tree starts again on the new commit."""
    requeue = [load_entry(e) for p in doc.pending for e in p["entries"]]
    doc.pending.clear()
    doc.main = moved
    step_pulls(doc, [MainMoved(moved), *(Added(e) for e in requeue)])
    doc.log("main-moved", (), f"{doc.branch} moved to {moved[:10]} {why}", None)
    if requeue:
        names = tuple(e.change_id for e in requeue)
        doc.log("requeued", names, "their landing found the branch moved", None)


def landed_commits(doc: QueueDoc) -> set[str]:
    """The commits the queue moved the base branch to (as far as its journal remembers)."""
    return {item["commit"] for item in doc.journal if item["kind"] == "landed" and item["commit"]}


# -- the comment on an ejected pull request -------------------------------------------------
def eject_comment(doc: QueueDoc, action: Eject) -> str:
    lines = ["**greenline's merge queue took this pull request out.**", "", plain(action.reason)]
    if action.failed_tests:
        lines += ["", "Failed:"]
        lines += [f"- {code(t)}" for t in action.failed_tests[:50]]
        if len(action.failed_tests) > 50:
            lines.append(f"- … and {len(action.failed_tests) - 50} more")
    sha = doc.commits.get(action.run_id or "")
    if action.run_id and sha:
        branch = queue_branch(action.run_id)
        lines += ["", f"The tree tested: {code(sha[:12])} (branch {code(branch)})."]
    lines += ["", f"Push a fix and label it {code(QUEUE_LABEL)} again to queue it anew."]
    return "\n".join(lines)


# -- doing it -------------------------------------------------------------------------------
class QueueWork:
    """Carries out what the document says is left to do on ``host``, from checkout ``root``."""

    def __init__(self, docs: QueueDocuments, host: PullHost, root: Path) -> None:
        self.docs, self.host, self.root = docs, host, root
        self.me = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.counts = Counts()

    def run(self) -> Counts:
        """Do everything there is to do (or leave it to the process holding the lease)."""
        _, found = self.docs.read()
        if found is None or next_work(found) is None:
            return self.counts  # most calls find nothing: no write
        doc = self.docs.change(self._claim)
        try:
            while doc is not None:
                self.do_next(doc)
                doc = self.docs.change(self._renew_or_release)
        except BaseException:
            self.docs.change(self._release)
            raise
        return self.counts

    # -- the lease -------------------------------------------------------------------------
    def _claim(self, doc: QueueDoc) -> QueueDoc | None:
        """The document, the lease taken, when there is work and nobody else holds it."""
        if doc.forge is None or next_work(doc) is None:
            return None
        lease = doc.forge.get("lease")
        if lease and lease["by"] != self.me and lease["until"] > time.time():
            return None
        doc.forge["lease"] = {"by": self.me, "until": time.time() + LEASE_SECONDS}
        return doc

    def _renew_or_release(self, doc: QueueDoc) -> QueueDoc | None:
        """The document with the lease renewed while work is left, else None (released)."""
        if doc.forge is None:
            return None
        if next_work(doc) is None:
            doc.forge["lease"] = None
            return None
        doc.forge["lease"] = {"by": self.me, "until": time.time() + LEASE_SECONDS}
        return doc

    def _release(self, doc: QueueDoc) -> None:
        if doc.forge is not None and (doc.forge.get("lease") or {}).get("by") == self.me:
            doc.forge["lease"] = None

    # -- the pieces ------------------------------------------------------------------------
    def do_next(self, doc: QueueDoc) -> None:
        work = next_work(doc)
        if work is None:
            return
        kind, item = work
        if kind == "land":
            self.land(doc, item)
        elif kind == "start":
            self.start(doc, item)
        else:
            assert doc.forge is not None
            self.send(list(doc.forge["outbox"]))

    def land(self, doc: QueueDoc, landing: dict[str, Any]) -> None:
        """Fast-forward the base branch to the tested tree; a branch that moved on meanwhile
        queues the landing's pull requests again."""
        sha = landing["sha"]
        if self.host.fast_forward(doc.branch, sha):
            self.counts.landed += 1

            def done(d: QueueDoc) -> None:
                d.pending = [p for p in d.pending if p["sha"] != sha]

            self.docs.change(done)
            return
        current = self.host.branch_sha(doc.branch) or landing["old"]

        def moved(d: QueueDoc) -> None:
            if any(p["sha"] == sha for p in d.pending):
                main_moved(d, current, "by someone else before the landing of " + sha[:10])

        self.docs.change(moved)

    def start(self, doc: QueueDoc, run: QueueRun) -> None:
        """Build the run's tree here and push it as its branch (CI runs on it as on any push);
        a pull request that does not merge cleanly fails the run at once."""
        remote = self.host.remote()
        env = dict(remote.env)
        landed = doc.state.landed
        sha = doc.main if run.changes[: len(landed)] == landed else doc.state.base
        if not self.ensure(sha, [f"+refs/heads/{doc.branch}:{LOCAL_REFS}/base"], remote.url, env):
            raise VcsError(
                f"commit {sha[:12]} (the queue's {doc.branch}) is in neither this checkout nor "
                f"{self.host.repository}",
                hint="run the queue from the checkout that built its trees (the team server's)",
            )
        pulls = (doc.forge or {})["pulls"]
        done = len(landed) if sha == doc.main else 0
        for change in run.changes[done:]:
            entry = doc.state.entry(change)
            info = pulls.get(change)
            if entry is None or info is None:
                return self._finish(run, f"{change} left the queue while its tree was built")
            number = info["number"]
            ref = f"+{self.host.pull_ref(number)}:{LOCAL_REFS}/pull/{number}"
            if not self.ensure(entry.head, [ref], remote.url, env):
                gone = f"{change}'s head {entry.head[:10]} is no longer on {self.host.repository}"
                return self._finish(run, gone)
            merged = vcs.merge_tree_commit(self.root, sha, entry.head, _message(info))
            if merged is None:
                return self._finish(run, f"merge conflict: {change} does not merge cleanly")
            sha = merged
        branch = queue_branch(run.run_id)
        vcs.push_commit(self.root, remote.url, sha, f"refs/heads/{branch}", env)
        self.counts.pushed += 1

        def record(d: QueueDoc) -> None:
            assert d.forge is not None
            still = next((r for r in d.state.runs if r.run_id == run.run_id), None)
            if still is not None and still.passed is None and run.run_id not in d.commits:
                d.commits[run.run_id] = sha
                d.forge["pushed"][run.run_id] = branch
            elif d.commits.get(run.run_id) != sha:  # it ended while its tree was pushed
                d.forge["outbox"].append({"do": "delete", "branch": branch})

        self.docs.change(record)
        return None

    def _finish(self, run: QueueRun, why: str) -> None:
        def change(d: QueueDoc) -> None:
            if any(r.run_id == run.run_id and r.passed is None for r in d.state.runs):
                step_pulls(d, [RunFinished(run.run_id, False, (why,))])

        self.docs.change(change)

    def ensure(self, sha: str, refspecs: list[str], url: str, env: dict[str, str]) -> bool:
        """True once commit ``sha`` is in the checkout (fetched from the host when it is not
        here yet); False when the host does not have it either."""
        if vcs.has_commit(self.root, sha):
            return True
        vcs.fetch_refs(self.root, url, refspecs, env)
        return vcs.has_commit(self.root, sha)

    def send(self, items: list[dict[str, Any]]) -> None:
        """The outbox's items, then one note of what became of them. One the host refuses
        goes to the back of the outbox, and after ``SEND_TRIES`` refusals it is dropped with a
        note in the journal: a comment on a pull request deleted meanwhile must not hold up
        the queue. (Doing one twice after a crash is harmless: a deleted branch is gone, a
        comment is found again by its key.)"""
        refusals: list[str | None] = []
        for item in items:
            try:
                if item["do"] == "delete":
                    self.host.delete_branch(item["branch"])
                    self.counts.deleted += 1
                elif item["do"] == "comment":
                    self.host.upsert_comment(item["number"], COMMENT_KEY, item["body"])
                    self.counts.commented += 1
                elif item["do"] == "unlabel":
                    self.host.remove_label(item["number"], QUEUE_LABEL)
                refusals.append(None)
            except ForgeError as exc:
                refusals.append(exc.message)

        def done(d: QueueDoc) -> None:
            assert d.forge is not None
            outbox = d.forge["outbox"]
            for item, refusal in zip(items, refusals, strict=True):
                if item not in outbox:
                    continue  # someone else did it meanwhile
                outbox.remove(item)
                if refusal is None:
                    continue
                tries = int(item.get("tries", 0)) + 1
                if tries < SEND_TRIES:
                    outbox.append({**item, "tries": tries})
                else:
                    d.log("host-refused", (), f"{item['do']} given up: {refusal}", None)

        self.docs.change(done)


def next_work(doc: QueueDoc) -> tuple[str, Any] | None:
    """The next piece of work the document holds, landings first."""
    if doc.forge is None:
        return None
    if doc.pending:
        return "land", doc.pending[0]
    for run in doc.state.runs:
        if run.passed is None and run.run_id not in doc.commits:
            return "start", run
    if doc.forge["outbox"]:
        return "send", doc.forge["outbox"][0]
    return None


def _message(info: dict[str, Any]) -> str:
    head = info.get("head_ref") or "its branch"
    return f"Merge pull request #{info['number']} from {head}\n\n{info.get('title', '')}\n"
