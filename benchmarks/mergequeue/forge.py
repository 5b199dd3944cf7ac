"""The merge queue on pull requests through the fake GitHub on loopback (``tests/fakegithub``: a
local ASGI app in GitHub's documented shapes over a bare git repository): greenline's team server
on loopback (SQLite store) acts as the fake's GitHub App and gets its webhooks signed; pull
requests are labelled ``greenline:queue``; CI tests every queue branch pushed and completes its
check suite at the fake, whose webhooks step the engine.

Measured: the delivery of a webhook to the engine's step it causes (a CI verdict: from the fake
sending its ``check_run``/``check_suite``/``workflow_run`` deliveries to the queue's journal
entry of the step; a label: from the API call that adds it to the pull request's entry in the
queue), the server's answer to each delivery, greenline's API calls per landed pull request
(those authorized as the GitHub App; the trees travel by git, counted as pushes), CI runs per
landed pull request, and that the outcome is right: the good pull requests land, each breaking
one and one of each conflicting pair are ejected, main passes at every landed commit.

Full run: 20 pull requests (12 good, 4 that break a test alone, 2 pairs that pass alone and
fail together), CI runs pytest on each tree. ``--smoke``: 5 pull requests, CI checks the tree's
files by the same rules the tests assert (no pytest start-up), for CI's time budget.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the fake GitHub and the tests' CI live in tests/

from tests.conftest import git  # noqa: E402
from tests.fakegithub import FakeGitHub  # noqa: E402
from tests.integration.github_setup import REPO, SECRET, Clients, clone_of, github_env  # noqa: E402
from tests.integration.web import serve  # noqa: E402
from tests.scenarios.pr_queue_setup import (  # noqa: E402
    CI,
    first_parents,
    make_project,
    report_ci_at_fake,
    run_pytest,
)

from greenline.api import Greenline  # noqa: E402
from greenline.api.pr_queue_work import next_work  # noqa: E402
from greenline.model import CommitInfo  # noqa: E402
from greenline.model.pulls import QUEUE_BRANCH_PREFIX, QUEUE_LABEL  # noqa: E402
from greenline.web import create_app  # noqa: E402

INTEGRITY = (
    "from pathlib import Path\n\nROOT = Path(__file__).parent.parent\n\n\n"
    "def test_nothing_broken():\n    assert not list(ROOT.glob('broken-*.txt'))\n"
)
STOCK = (
    "from pathlib import Path\n\nSTOCK = Path(__file__).parent.parent / 'stock_{k}'\n\n\n"
    "def test_stock_{k}_holds_three():\n    assert len(list(STOCK.glob('*.txt'))) <= 3\n"
)


def project(good: int, broken: int, pairs: int, seed: int) -> tuple[dict[str, str], dict[str, Any]]:
    """The base files, and the pull requests (branch -> (files, title)) in the order they are
    opened, with what each should come to (``land``, ``eject``, or ``pair k``)."""
    files = {"tests/test_integrity.py": INTEGRITY, ".gitignore": ".greenline/\n__pycache__/\n"}
    pulls: list[tuple[str, dict[str, str], str, str]] = []
    for i in range(good):
        module = f"def value():\n    return {i}\n"
        test = (
            f"from feature_{i} import value\n\n\ndef test_value_{i}():\n    assert value() == {i}\n"
        )
        changes = {f"feature_{i}.py": module, f"tests/test_feature_{i}.py": test}
        pulls.append((f"feature-{i}", changes, f"Feature {i}", "land"))
    for j in range(broken):
        pulls.append((f"broken-{j}", {f"broken-{j}.txt": "x\n"}, f"Break {j}", "eject"))
    for k in range(pairs):
        files[f"tests/test_stock_{k}.py"] = STOCK.format(k=k)
        files[f"stock_{k}/a.txt"] = files[f"stock_{k}/b.txt"] = "item\n"
        for item in ("c", "d"):
            changes = {f"stock_{k}/{item}.txt": "item\n"}
            pulls.append((f"stock-{k}-{item}", changes, f"Stock {item} in {k}", f"pair {k}"))
    random.Random(seed).shuffle(pulls)
    expected = {branch: outcome for branch, _, _, outcome in pulls}
    return files, {"pulls": {b: (c, t) for b, c, t, _ in pulls}, "expected": expected}


def tree_check(tree: Path) -> dict[str, bool]:
    """The suite's verdicts, read off the tree's files (what its tests assert)."""
    verdicts = {"tests/test_integrity.py::test_nothing_broken": not list(tree.glob("broken-*.txt"))}
    for stock in sorted(tree.glob("stock_*")):
        k = stock.name.removeprefix("stock_")
        test = f"tests/test_stock_{k}.py::test_stock_{k}_holds_three"
        verdicts[test] = len(list(stock.glob("*.txt"))) <= 3
    for module in sorted(tree.glob("feature_*.py")):
        i = module.stem.removeprefix("feature_")
        verdicts[f"tests/test_feature_{i}.py::test_value_{i}"] = True
    return verdicts


def junit_of(verdicts: dict[str, bool], path: Path) -> None:
    cases = []
    for test_id, passed in verdicts.items():
        file, name = test_id.split("::")
        classname = file.removesuffix(".py").replace("/", ".")
        failure = "" if passed else '<failure message="assert">assertion failed</failure>'
        cases.append(
            f'<testcase classname="{classname}" name="{name}" file="{file}">{failure}</testcase>'
        )
    fails = sum(not v for v in verdicts.values())
    body = "".join(cases)
    path.write_text(
        f'<testsuites><testsuite name="pytest" tests="{len(cases)}" failures="{fails}">'
        f"{body}</testsuite></testsuites>"
    )


class CheckedCI(CI):
    """CI that judges a tree by its files (the smoke run's: no pytest start-up per tree)."""

    def test(self, branch: str, sha: str) -> bool:
        git(self.clone, "fetch", "-q", "origin", f"+refs/heads/{branch}:refs/ci/{branch}")
        git(self.clone, "checkout", "-q", "--force", "--detach", sha)
        git(self.clone, "clean", "-q", "-fdx")
        verdicts = tree_check(self.clone)
        junit = self.clone.parent / f"{self.clone.name}-{len(self.runs)}.xml"
        junit_of(verdicts, junit)
        passed = all(verdicts.values())
        self.upload(junit, sha, branch)
        (self.passed if passed else self.failed).add(sha)
        self.runs.append((branch, sha, passed))
        return passed


def _at(item: dict[str, Any]) -> float:
    return datetime.fromisoformat(item["at"]).timestamp()


def _summary(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50_ms": None, "p95_ms": None, "max_ms": None, "n": 0}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(p95 * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
        "n": len(ordered),
    }


def run_forge(work: Path, *, smoke: bool, seed: int = 1) -> dict[str, Any]:
    """The queue through the fake GitHub; its figures."""
    good, broken, pairs = (2, 1, 1) if smoke else (12, 4, 2)
    files, plan = project(good, broken, pairs, seed)
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    source = work / "project"
    make_project(source, files, plan["pulls"])
    with FakeGitHub(work / "github").serving() as github:
        github.add_repository(REPO, source=source)
        clone = clone_of(github, work / "server")
        os.environ.update(github_env(github))
        db = f"sqlite:///{work / 'store.db'}"
        store = Greenline.open(clone, db=db)

        def upload(junit: Path, sha: str, branch: str) -> None:
            store.runs.import_junit([junit], commit=CommitInfo(sha=sha, branch=branch))

        kind = CheckedCI if smoke else CI
        ci = kind(str(github.repository(REPO).bare), work / "ci", upload)
        try:
            figures = _drive(github, clone, db, store, ci, plan)
        finally:
            store.close()
        history = first_parents(github.repository(REPO).bare)
        figures["main_green_at_every_landing"] = _green(github, history, work, smoke)
    figures["seconds"] = round(time.perf_counter() - started, 1)
    figures["through"] = "fake GitHub on loopback (tests/fakegithub), greenline serve on loopback"
    figures["ci"] = "tree checks by the suite's rules (smoke)" if smoke else "pytest on each tree"
    figures["pull_requests"] = good + broken + 2 * pairs
    return figures


def _drive(
    github: FakeGitHub, clone: Path, db: str, store: Greenline, ci: CI, plan: dict[str, Any]
) -> dict[str, Any]:
    numbers: dict[str, int] = {}
    sent: dict[str, float] = {}  # run id -> when CI's webhooks went
    labelled: dict[str, float] = {}  # change id -> when its label was added
    with serve(create_app(lambda: Greenline.open(clone, db=db))) as url:
        github.webhook_url, github.webhook_secret = f"{url}/webhooks/github", SECRET
        for branch, (_, title) in plan["pulls"].items():
            numbers[branch] = github.open_pull(REPO, branch, title=title).number
        clients = Clients(github)
        author = clients.token(github.add_token("pat"))
        before = len(github.calls())
        # each notice reaches a quiet server, as when CI takes minutes: the figures are one
        # delivery's way to the engine, not a queue of deliveries behind each other
        for number in numbers.values():
            _wait_quiet(github, store)
            labelled[f"#{number}"] = time.time()
            author.add_labels(number, [QUEUE_LABEL])
        while (fresh := _next_branch(github, store, ci)) is not None:
            branch, sha = fresh
            passed = ci.test(branch, sha)
            _wait_quiet(github, store)
            sent[branch.removeprefix(QUEUE_BRANCH_PREFIX)] = time.time()
            report_ci_at_fake(github, REPO, branch, sha, "success" if passed else "failure")
            github.flush()
        github.flush()
        clients.close()
    _, doc = store.queue.docs.read()
    assert doc is not None
    calls = [c for c in github.calls()[before:] if c.auth in ("installation", "jwt")]
    journal = doc.journal
    ci_steps = [_at(i) - sent[i["run"]] for i in journal if i["kind"] == "ci" and i["run"] in sent]
    queued = [
        _at(i) - labelled[i["changes"][0]]
        for i in journal
        if i["kind"] == "queued" and i["changes"][0] in labelled
    ]
    landed = [c for i in journal if i["kind"] == "landed" for c in i["changes"]]
    ejected = [c for i in journal if i["kind"] == "ejected" for c in i["changes"]]
    by_change = {f"#{n}": b for b, n in numbers.items()}
    per_call: dict[str, int] = {}
    for call in calls:
        key = f"{call.method} {_shape(call.path)}"
        per_call[key] = per_call.get(key, 0) + 1
    return {
        "landed": len(landed),
        "ejected": len(ejected),
        "outcome_right": _is_right(
            plan["expected"], {by_change[c] for c in landed}, ejected, by_change
        ),
        "ci_runs": len(ci.runs),
        "ci_runs_per_landed_pr": round(len(ci.runs) / max(1, len(landed)), 2),
        "api_calls": len(calls),
        "api_calls_per_landed_pr": round(len(calls) / max(1, len(landed)), 2),
        "api_calls_by_kind": dict(sorted(per_call.items(), key=lambda kv: -kv[1])),
        "git_pushes": doc.state.next_run - 1,
        "webhook_to_engine_step": {"ci_verdict": _summary(ci_steps), "label": _summary(queued)},
        "webhook_answer": _summary([d.seconds for d in github.deliveries if d.status]),
        "deliveries": len(github.deliveries),
    }


def _shape(path: str) -> str:
    """An API path with its numbers and names taken out (``/repos/o/r/pulls/3`` → ``pulls/N``)."""
    parts = path.split("/")[4:] if path.startswith("/repos/") else path.split("/")[1:]
    kept = []
    for part in parts:
        kept.append("N" if part.isdigit() else part)
        if part in ("ref", "refs", "matching-refs"):
            break
    return "/".join(kept) or "repository"


def _is_right(
    expected: dict[str, str], landed: set[str], ejected: list[str], names: dict[str, str]
) -> bool:
    out = {names[c] for c in ejected}
    for branch, outcome in expected.items():
        if outcome == "land" and branch not in landed:
            return False
        if outcome == "eject" and branch not in out:
            return False
    pairs = {o for o in expected.values() if o.startswith("pair")}
    for pair in pairs:
        members = {b for b, o in expected.items() if o == pair}
        if len(members & landed) != 1 or len(members & out) != 1:
            return False
    return not landed & out


def _next_branch(github: FakeGitHub, store: Greenline, ci: CI) -> tuple[str, str] | None:
    """The next queue branch CI has not tested, waiting for the queue to push one; None once
    the queue is done."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        tested = {(b, s) for b, s, _ in ci.runs}
        refs = github.repository(REPO).refs(f"refs/heads/{QUEUE_BRANCH_PREFIX}")
        fresh = sorted(
            ((r.removeprefix("refs/heads/"), s) for r, s in refs.items()),
            key=lambda f: int(f[0].rsplit("/r", 1)[1]),
        )
        fresh = [f for f in fresh if f not in tested]
        if fresh:
            return fresh[0]
        _, doc = store.queue.docs.read()
        if doc is not None and not doc.state.entries and not doc.pending:
            return None
        time.sleep(0.02)
    raise TimeoutError("the queue pushed nothing for 120 s")


def _wait_quiet(github: FakeGitHub, store: Greenline) -> None:
    """Until every delivery sent was processed and the queue has nothing left to do."""
    github.flush()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        _, doc = store.queue.docs.read()
        busy = (
            doc is not None
            and doc.forge is not None
            and (doc.forge.get("lease") is not None or next_work(doc) is not None)
        )
        if not busy and store.github.pending() == 0:
            return
        time.sleep(0.01)
    raise TimeoutError("the server did not settle in 120 s")


def _green(github: FakeGitHub, history: list[str], work: Path, smoke: bool) -> bool:
    tree = work / "green"
    git(work, "clone", "-q", "--no-checkout", str(github.repository(REPO).bare), str(tree))
    for sha in history:
        git(tree, "checkout", "-q", "--force", "--detach", sha)
        git(tree, "clean", "-q", "-fdx")
        passed = all(tree_check(tree).values()) if smoke else run_pytest(tree) == 0
        if not passed:
            return False
    return True
