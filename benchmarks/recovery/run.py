"""Recovery benchmark: greenline's culprit search against ``git bisect run`` (one run per probe,
and three), and "revert the newest commit", on seeded breakages in replayed release histories.

Per project, the diff between two consecutive releases (PyPI sdists) is replayed as a series
of ~32 commits that each keep the suite green (``replay.py``). Each trial (``trials.py``) builds
a repository of that history with one mutant commit at a random position (40% of trials at a
flake rate > 0 have none, 1 in 3 with 3 trials: their red run is a flaky test's doing) and one
test failing at a known rate all along; records runs at the good commit and the red run at the
tip; then every strategy answers on the same trial (``strategies.py``), and ``greenline triage``
judges the red run.

    python benchmarks/recovery/run.py                       # report projects, 3 trials per rate
    python benchmarks/recovery/run.py --projects cachetools --trials 2
    python benchmarks/recovery/run.py --smoke               # generated project, no network (CI)

The full run sets up its own virtual environment (greenline from this checkout, pytest, the
projects' test dependencies) under benchmarks/recovery/work and re-runs itself there: the probes
run with greenline's interpreter, so the projects' test dependencies must be importable there.
Results: benchmarks/recovery/results/recovery.json (recovery-smoke.json for --smoke).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

import summary  # noqa: E402
import synthetic  # noqa: E402
from replay import load_series  # noqa: E402
from strategies import run_all  # noqa: E402
from trials import TrialSpec, build_trial, triage  # noqa: E402

RATES = (0.0, 0.05, 0.2, 0.5)


@dataclass(frozen=True)
class Release:
    """Two consecutive releases of a project; ``role`` says whether it was used to develop
    the benchmark or only to report on."""

    name: str
    old: str
    new: str
    source: str
    role: str
    test_deps: tuple[str, ...] = ()


RELEASES = {
    r.name: r
    for r in (
        Release("cachetools", "8.0.1", "8.0.2", "src/cachetools", "develop"),
        Release("marshmallow", "4.3.1", "4.4.0", "src/marshmallow", "report", ("simplejson",)),
        Release("boltons", "26.1.0", "26.2.0", "boltons", "report"),
        Release("python-slugify", "9.1.3", "9.2.0", "slugify", "report", ("text-unidecode",)),
    )
}
REPORTED = ("marshmallow", "boltons")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- environment and projects -------------------------------------------------------------------


def ensure_venv(releases: list[Release]) -> Path:
    """work/venv with greenline (editable, this checkout), pytest and the test dependencies."""
    venv = WORK / "venv"
    wanted = " ".join(sorted({d for r in releases for d in r.test_deps}))
    stamp = venv / ".ready"
    if stamp.exists() and stamp.read_text() == wanted:
        return venv
    log(f"setting up {venv}")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    pip = [
        str(venv / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "-q",
        "--disable-pip-version-check",
    ]
    subprocess.run([*pip, "-e", str(REPO), "pytest", *wanted.split()], check=True)
    stamp.write_text(wanted)
    return venv


def fetch_release(name: str, version: str) -> Path:
    """The release's sdist, unpacked under work/src (downloaded once)."""
    target = WORK / "src" / f"{name}-{version}"
    if target.exists():
        return target
    sdists = WORK / "sdists"
    sdists.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", name]
    subprocess.run([*pip, "-d", str(sdists), f"{name}=={version}"], check=True)
    stem = name.replace("-", "_").lower()
    archive = next(
        p
        for p in sdists.glob("*.tar.gz")
        if p.name.lower().startswith((stem + "-", name.lower() + "-")) and f"-{version}." in p.name
    )
    with tarfile.open(archive) as tar:
        top = tar.getnames()[0].split("/")[0]
        tar.extractall(WORK / "src", filter="data")
    (WORK / "src" / top).rename(target)
    return target


def series_of(release: Release, commits: int, timeout: float) -> dict:
    old, new = fetch_release(release.name, release.old), fetch_release(release.name, release.new)
    cache = WORK / f"series-{release.name}-{release.old}-{release.new}-{commits}.json"
    if not cache.exists():
        log(f"{release.name}: replaying {release.old} -> {release.new} as ~{commits} commits")
    return load_series(cache, old, new, commits, timeout)


def smoke_series(root: Path, commits: int) -> dict:
    old = synthetic.write_release(root, newer=False)
    new = synthetic.write_release(root, newer=True)
    return load_series(root / "series.json", old, new, commits, timeout=60)


# --- trials ----------------------------------------------------------------------------------


def specs(
    project: str, source: str, trials: int, seed: int, rates: tuple[float, ...]
) -> list[TrialSpec]:
    """``trials`` per rate; at a rate > 0, trials 1 and 3 of every 5 have no culprit (40%)."""
    return [
        TrialSpec(project, source, rate, i, has_culprit=rate == 0 or i % 5 not in (1, 3), seed=seed)
        for rate in rates
        for i in range(trials)
    ]


def run_trial(spec: TrialSpec, series: dict, where: Path, args: argparse.Namespace) -> dict | None:
    started = time.perf_counter()
    timeout = series.get("suite_timeout", args.timeout)
    trial = build_trial(spec, series, where, args.history, timeout)
    if trial is None:
        log(f"  {spec.project} rate {spec.rate} #{spec.index}: no mutant the suite detects")
        return None
    built = time.perf_counter() - started
    answers = run_all(trial, args.runners, args.confidence)
    doc = {
        **asdict(spec),
        "commits": trial.commits,
        "position": trial.position,
        "mutant": trial.mutant,
        "culprit": trial.culprit,
        "tests": trial.tests,
        "flaky_test": trial.flaky_test,
        "strategies": answers,
        "triage": triage(trial),
        "build_seconds": round(built, 1),
    }
    g, judged = answers["greenline"], {s: summary.judge(doc, a) for s, a in answers.items()}
    log(
        f"  {spec.project} rate {spec.rate} #{spec.index} "
        f"{'culprit' if trial.culprit else 'no-culprit'}: greenline {g['status']} "
        f"({judged['greenline']}, {g['executions']} runs, {g['seconds']} s); bisect "
        f"{judged['bisect']}, bisect-3 {judged['bisect-3']}; triage {doc['triage'].get('correct')}"
    )
    shutil.rmtree(where, ignore_errors=True)
    return doc


def run_project(
    name: str, series: dict, source: str, args: argparse.Namespace, rates: tuple[float, ...]
) -> list[dict]:
    done = []
    with tempfile.TemporaryDirectory(prefix=f"recovery-{name}-") as scratch:
        for spec in specs(name, source, args.trials, args.seed, rates):
            doc = run_trial(spec, series, Path(scratch) / f"trial-{spec.rate}-{spec.index}", args)
            if doc is not None:
                done.append(doc)
    return done


def describe_series(series: dict) -> dict:
    return {
        "commits": len(series["commits"]),
        "dropped_units": series["dropped"],
        "suite_tests": series["suite_tests"],
        "stable_tests": len(series["stable_tests"]),
    }


# --- main ----------------------------------------------------------------------------------------


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="generated project, 2 trials (one with a culprit, one without)",
    )
    parser.add_argument("--projects", nargs="+", default=list(REPORTED), choices=sorted(RELEASES))
    parser.add_argument("--trials", type=int, default=3, help="trials per project and flake rate")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--commits", type=int, default=32, help="commits the release diff becomes")
    parser.add_argument("--history", type=int, default=4, help="recorded runs at the good commit")
    parser.add_argument("--runners", type=int, default=2)
    parser.add_argument("--confidence", type=float, default=0.99)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per full-suite run")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    for key in [k for k in os.environ if k.startswith(("GREENLINE_", "PYTEST_"))]:
        del os.environ[key]
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # the probes inherit it: greenline's -p
    started, commit = time.perf_counter(), _greenline_commit()
    if args.smoke:
        trials, projects = run_smoke(args)
    else:
        venv = ensure_venv([RELEASES[p] for p in args.projects])
        if Path(sys.prefix).resolve() != venv.resolve():
            python = str(venv / "bin" / "python")
            os.execv(python, [python, __file__, *(argv if argv is not None else sys.argv[1:])])
        trials, projects = run_full(args)
    doc = {
        "greenline_commit": {"start": commit, "end": _greenline_commit()},
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "settings": dict(vars(args)),
        "projects": projects,
        "trials": trials,
        "summary": summary.summarize(trials),
        "targets": summary.targets(trials),
        "seconds": round(time.perf_counter() - started, 1),
    }
    out = HERE / "results" / ("recovery-smoke.json" if args.smoke else "recovery.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    print(summary.markdown(doc))
    print(f"results: {out} ({doc['seconds']:.0f} s)")
    return 0


def _greenline_commit() -> str:
    """The greenline commit measured (other work lands on main meanwhile)."""
    proc = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return proc.stdout.strip()


def run_smoke(args: argparse.Namespace) -> tuple[list[dict], dict]:
    args.trials, args.history = 2, 3  # trial 0 has a culprit, trial 1 none (``specs``)
    with tempfile.TemporaryDirectory(prefix="recovery-smoke-") as scratch:
        series = smoke_series(Path(scratch), min(args.commits, 16))
        trials = run_project("tinycalc", series, "tinycalc", args, rates=(0.2,))
    return trials, {"tinycalc": {"role": "smoke", **describe_series(series)}}


def run_full(args: argparse.Namespace) -> tuple[list[dict], dict]:
    trials, projects = [], {}
    for name in args.projects:
        release = RELEASES[name]
        series = series_of(release, args.commits, args.timeout)
        projects[name] = {
            "role": release.role,
            "releases": [release.old, release.new],
            **describe_series(series),
        }
        log(f"{name}: {len(series['commits'])} commits, {len(series['stable_tests'])} stable tests")
        trials += run_project(name, series, release.source, args, RATES)
    return trials, projects


if __name__ == "__main__":
    raise SystemExit(main())
