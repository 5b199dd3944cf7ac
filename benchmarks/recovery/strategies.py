"""The four ways to name a culprit, run on the same trial: greenline's flake-aware search
(``gl.recovery.culprit``), plain ``git bisect run`` (one run per probe), ``git bisect run`` with
three runs per probe (bad if any of the three fails; the runs stop at the first failure), and
"revert the newest commit". Each answer: the named commit (or none), greenline's status, the
test executions it spent and its wall time."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import bench_env, git
from trials import Trial

#: the probe ``git bisect run`` calls: exit 0 good, 1 bad, 125 skip (the tests cannot run)
BISECT_PROBE = """import subprocess, sys
runs, log, tests = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
for _ in range(runs):
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests]
    code = subprocess.run(argv, capture_output=True).returncode
    with open(log, "a") as out:
        out.write(f"{code}\\n")
    if code in (1, 2):  # failed, or its modules no longer import
        sys.exit(1)
    if code != 0:
        sys.exit(125)
sys.exit(0)
"""
STRATEGIES = ("greenline", "bisect", "bisect-3", "newest")


def run_greenline(trial: Trial, runners: int, confidence: float) -> dict[str, object]:
    """greenline's answer; a search that crashes is counted and run once more (the answer is
    the second attempt's; a second crash is the answer "error")."""
    crashes: list[str] = []
    for _ in range(2):
        try:
            answer = _greenline_once(trial, runners, confidence)
        except Exception as exc:  # a crash is a measured outcome
            crashes.append(f"{type(exc).__name__}: {exc}"[:300])
            shutil.rmtree(trial.repo / ".greenline" / "recovery", ignore_errors=True)
            git(trial.repo, "worktree", "prune")
            continue
        return {**answer, "crashes": crashes}
    return {
        "named": None,
        "status": "error",
        "confirmed": False,
        "probes": 0,
        "executions": 0,
        "seconds": 0.0,
        "crashes": crashes,
    }


#: one search through greenline's API, in a fresh process: a long benchmark must not keep an
#: old import of greenline while the checkout (installed editable) moves on
GREENLINE_SEARCH = """import json, sys
from pathlib import Path
from greenline.api import Greenline

repo, good, bad, runners, confidence, *tests = sys.argv[1:]
with Greenline.open(Path(repo)) as gl:
    report = gl.recovery.culprit(good, bad, tests, runners=int(runners),
                                 confidence=float(confidence))
answer = report.answer
print(json.dumps({
    "named": report.culprit.sha if report.culprit else None,
    "status": answer.status.value,
    "confirmed": answer.confirmed,
    "probes": answer.probes,
    "executions": report.test_runs,
    "seconds": round(report.seconds, 2),
    "reason": answer.reason,
}))
"""


def _greenline_once(trial: Trial, runners: int, confidence: float) -> dict[str, object]:
    argv = [sys.executable, "-c", GREENLINE_SEARCH, str(trial.repo), trial.good, trial.bad]
    argv += [str(runners), str(confidence), *trial.tests]
    started = time.perf_counter()
    proc = subprocess.run(argv, cwd=trial.repo, env=bench_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip()[-300:] or f"exit {proc.returncode}")
    return {**json.loads(proc.stdout), "wall": round(time.perf_counter() - started, 2)}


def run_bisect(trial: Trial, runs: int) -> dict[str, object]:
    repo = trial.repo
    with tempfile.TemporaryDirectory() as scratch:
        probe, log = Path(scratch) / "probe.py", Path(scratch) / "runs.log"
        probe.write_text(BISECT_PROBE)
        log.write_text("")
        started = time.perf_counter()
        git(repo, "bisect", "start", trial.bad, trial.good)
        command = [sys.executable, str(probe), str(runs), str(log), *trial.tests]
        subprocess.run(
            ["git", "bisect", "run", *command],
            cwd=repo,
            env=bench_env(),
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - started
        named = git(repo, "rev-parse", "--verify", "-q", "refs/bisect/bad")
        git(repo, "bisect", "reset")
        pytest_runs = len(log.read_text().split())
    return {
        "named": named or None,
        "status": "found",
        "probes": pytest_runs,
        "executions": pytest_runs * len(trial.tests),
        "seconds": round(seconds, 2),
    }


def run_newest(trial: Trial) -> dict[str, object]:
    return {"named": trial.bad, "status": "found", "probes": 0, "executions": 0, "seconds": 0.0}


def run_all(trial: Trial, runners: int, confidence: float) -> dict[str, dict[str, object]]:
    return {
        "greenline": run_greenline(trial, runners, confidence),
        "bisect": run_bisect(trial, 1),
        "bisect-3": run_bisect(trial, 3),
        "newest": run_newest(trial),
    }
