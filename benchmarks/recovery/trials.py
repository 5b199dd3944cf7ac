"""One trial of the recovery benchmark: a generated repository whose history is a replayed
release diff, with (or, in a no-culprit trial, without) one breaking commit at a random
position and one test failing at a known rate all along; the recorded history at the good
commit, the recorded red run at the bad one, and the ground truth.

The repository is built in the order a CI would see it: the base commit (the old release and
the harness), ``history`` recorded full runs there, then the series (the mutant among it), then
the red run at the tip. A culprit trial searches the mutant's failing tests (the flaky one is
among them: before the culprit the search sees it fail at its rate); a no-culprit trial searches
the one flaky test, which made the red run red by itself.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness import FLAKES_FILE, GITIGNORE, bench_env, failed, git, record_run, run_pytest
from mutants import Mutant, draw_mutants
from replay import materialize

MAX_FAILING = 30  # a mutant breaking more tests is redrawn (keeps probes comparable and cheap)
MUTANT_TRIES = 12


@dataclass(frozen=True)
class TrialSpec:
    project: str
    source: str  # the package folder mutants are drawn from
    rate: float
    index: int
    has_culprit: bool
    seed: int

    def rng(self) -> random.Random:
        return random.Random(f"{self.seed}/{self.project}/{self.rate}/{self.index}")


@dataclass
class Trial:
    spec: TrialSpec
    repo: Path
    good: str
    bad: str
    tests: list[str]
    flaky_test: str | None
    culprit: str | None = None  # the inserted commit's sha
    position: int | None = None  # how many series commits come before it
    mutant: str | None = None
    commits: int = 0
    info: dict[str, object] = field(default_factory=dict)


def states(series: dict) -> list[dict[str, str]]:
    """The tree after 0, 1, ..., N commits of the series."""
    tree = dict(series["base"])
    out = [dict(tree)]
    for commit in series["commits"]:
        for path, text in commit["files"].items():
            if text is None:
                tree.pop(path, None)
            else:
                tree[path] = text
        out.append(dict(tree))
    return out


def find_mutant(
    spec: TrialSpec, series: dict, scratch: Path, timeout: float
) -> tuple[int, Mutant, list[str]] | None:
    """A position and a mutant there whose failing tests (stable ones, flakes off) fail at the
    mutant's own commit and still at the tip; None if no draw works."""
    rng = spec.rng()
    trees = states(series)
    stable = set(series["stable_tests"])
    for _ in range(MUTANT_TRIES):
        position = rng.randint(0, len(trees) - 1)
        later = {p for c in series["commits"][position:] for p in c["files"]}
        files = {
            p: t
            for p, t in trees[position].items()
            if p.startswith(spec.source) and p.endswith(".py") and p not in later
        }
        mutant = next(draw_mutants(files, rng), None)
        if mutant is None:
            continue
        broken = _failing_with(mutant, trees[position], scratch, timeout, stable)
        if broken and len(broken) <= MAX_FAILING:
            still = _failing_with(mutant, trees[-1], scratch, timeout, set(broken))
            if still:
                return position, mutant, sorted(still)
    return None


def _failing_with(
    mutant: Mutant, tree: dict[str, str], scratch: Path, timeout: float, among: set[str]
) -> set[str]:
    mutated = dict(tree)
    mutated[mutant.path] = mutant.apply(tree[mutant.path])
    materialize(mutated, scratch)
    tests = tuple(sorted(among)) if len(among) <= MAX_FAILING else ()
    outcomes = run_pytest(scratch, tests, timeout=timeout, RECOVERY_NO_FLAKE="1")
    return failed(outcomes) & among if outcomes else set()


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def write_files(repo: Path, files: dict[str, str | None]) -> None:
    for path, text in files.items():
        target = repo / path
        if text is None:
            target.unlink(missing_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")


def build_trial(
    spec: TrialSpec, series: dict, where: Path, history: int, timeout: float
) -> Trial | None:
    """The trial's repository with its recorded history and red run (None: no usable mutant)."""
    rng = spec.rng()
    found = (
        find_mutant(spec, series, where.with_suffix(".scratch"), timeout)
        if spec.has_culprit
        else None
    )
    shutil.rmtree(where.with_suffix(".scratch"), ignore_errors=True)
    if spec.has_culprit and found is None:
        return None
    if found:
        position, mutant, tests = found
        flaky = rng.choice(tests) if spec.rate > 0 else None
    else:
        position, mutant = None, None
        flaky = rng.choice(series["stable_tests"])
        tests = [flaky]
    repo = _base_repo(where, series, {flaky: spec.rate} if flaky else {})
    good = git(repo, "rev-parse", "HEAD")
    for _ in range(history):
        record_run(repo)
    culprit = None
    for i, commit in enumerate(series["commits"]):
        if mutant is not None and i == position:
            culprit = _commit_mutant(repo, mutant)
        write_files(repo, commit["files"])
        commit_all(repo, commit["subject"])
    if mutant is not None and position == len(series["commits"]):
        culprit = _commit_mutant(repo, mutant)
    bad = git(repo, "rev-parse", "HEAD")
    record_run(repo, **({} if spec.has_culprit else {"RECOVERY_FORCE_FLAKE": "1"}))
    commits = len(series["commits"]) + (1 if mutant else 0)
    trial = Trial(spec, repo, good, bad, tests, flaky, culprit, position, None, commits)
    trial.mutant = mutant.describe() if mutant else None
    return trial


def _base_repo(where: Path, series: dict, flakes: dict[str, float]) -> Path:
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    git(where, "init", "-q", "-b", "main")
    write_files(where, series["base"])
    (where / ".gitignore").write_text(GITIGNORE)
    (where / FLAKES_FILE).write_text(json.dumps(flakes, indent=1) + "\n")
    commit_all(where, "the previous release, with the benchmark's conftest")
    return where


def _commit_mutant(repo: Path, mutant: Mutant) -> str:
    path = repo / mutant.path
    path.write_text(mutant.apply(path.read_text(encoding="utf-8")), encoding="utf-8")
    return commit_all(repo, f"{mutant.path}: simplify a condition")


def triage(trial: Trial) -> dict[str, object]:
    """``greenline triage RUN -f json`` on the red run (the newest recorded), timed as a
    command, with its verdicts judged against the truth."""
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "greenline", "triage", "-f", "json"],
        cwd=trial.repo,
        env=bench_env(),
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        return {"seconds": round(seconds, 3), "error": proc.stderr.strip()[-300:]}
    verdicts = {v["test_id"]: v["verdict"] for v in json.loads(proc.stdout)["verdicts"]}
    if trial.culprit:
        mine = {t: verdicts.get(t, "missing") for t in trial.tests}
        correct = all(v == "regression" for v in mine.values())
        missed = any(v in ("flaky", "infra", "already-failing") for v in mine.values())
    else:
        mine = {trial.flaky_test: verdicts.get(trial.flaky_test, "missing")}
        correct, missed = mine[trial.flaky_test] == "flaky", False
    return {
        "seconds": round(seconds, 3),
        "verdicts": mine,
        "correct": correct,
        "regression_called_flaky": missed,
    }
