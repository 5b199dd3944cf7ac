"""Writes github-runs.json: ten weeks of GitHub Actions runs of a small team's repository
(acme/shop), in the shape of GET /repos/OWNER/REPO/actions/runs, for greenline's demo.

Pushes through the working day, a third on main; workflows CI, Lint and (main only) Deploy;
red streaks that last a few runs; cancellations, start-up failures and reruns; a suite that
grows slower week by week. Seeded: the same file every time.

    python examples/insights/make_sample.py
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

WORKFLOWS = {"CI": 9 * 60, "Lint": 90, "Deploy": 14 * 60}
FEATURES = ["cart", "search", "checkout", "billing", "auth", "ui"]


def iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def make_runs(seed: int = 2026) -> list[dict[str, object]]:
    rng = random.Random(seed)
    start = datetime(2026, 8, 24, tzinfo=UTC)  # a Monday; ten weeks
    end = start + timedelta(weeks=10)
    runs: list[dict[str, object]] = []
    red: dict[tuple[str, str], int] = {}
    run_id, t = 7_000_000, start
    while t < end:
        t += timedelta(minutes=rng.expovariate(1 / (70 if t.weekday() < 5 else 600)))
        if not 7 <= t.hour <= 20:
            continue
        on_main = rng.random() < 0.3
        branch = "main" if on_main else f"feature/{rng.choice(FEATURES)}-{rng.randint(1, 30)}"
        for workflow, typical in WORKFLOWS.items():
            if workflow == "Deploy" and not on_main:
                continue
            run_id += 1
            key = (workflow, branch)
            if red.get(key, 0) > 0:
                failed, red[key] = True, red[key] - 1
            else:
                failed = rng.random() < (0.08 if on_main else 0.12)
                if failed:
                    red[key] = rng.choice([0, 0, 1, 2, 3])
            slower = 1 + 0.05 * ((t - start).days // 7)
            duration = typical * slower * rng.lognormvariate(0, 0.25)
            conclusion = "failure" if failed else "success"
            luck = rng.random()
            if luck < 0.04:
                conclusion, duration = "cancelled", duration * 0.3
            elif failed and luck > 0.98:
                conclusion = "startup_failure"
            started = t + timedelta(seconds=rng.randint(3, 40))
            run = {
                "id": run_id,
                "name": workflow,
                "head_branch": branch,
                "head_sha": f"{run_id:040x}",
                "path": f".github/workflows/{workflow.lower()}.yml",
                "event": "push" if on_main else "pull_request",
                "status": "completed",
                "conclusion": conclusion,
                "created_at": iso(t),
                "run_started_at": iso(started),
                "updated_at": iso(started + timedelta(seconds=duration)),
                "run_attempt": 1,
                "repository": {"full_name": "acme/shop", "default_branch": "main"},
            }
            runs.append(run)
            if conclusion == "failure" and rng.random() < 0.3:  # someone presses "re-run"
                again = started + timedelta(seconds=duration + rng.randint(300, 1800))
                passed = rng.random() < 0.7
                runs.append(
                    {
                        **run,
                        "run_attempt": 2,
                        "conclusion": "success" if passed else "failure",
                        "run_started_at": iso(again),
                        "updated_at": iso(again + timedelta(seconds=duration)),
                    }
                )
                if passed:
                    red[key] = 0
    runs.reverse()  # the API lists the newest first
    return runs


def main() -> None:
    runs = make_runs()
    out = Path(__file__).with_name("github-runs.json")
    out.write_text(
        json.dumps({"total_count": len(runs), "workflow_runs": runs}, indent=0) + "\n",
        encoding="utf-8",
    )
    print(f"wrote {out} ({len(runs)} runs)")


if __name__ == "__main__":
    main()
