"""Run inside the benchmark's environment: greenline's selection for the working tree of a
project, in safe mode and at each budget, and how long planning took in-process.

    python probe.py ROOT 0.05 0.10 0.20   ->  JSON on stdout
    python probe.py --heuristic ROOT ...  (rank with the heuristic even when a model is in use)
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from greenline.api import Greenline
from greenline.selection import Budget, limit_to_budget


def main() -> int:
    args = sys.argv[1:]
    learned = "--heuristic" not in args
    args = [a for a in args if a != "--heuristic"]
    root = Path(args[0])
    budgets = [float(x) for x in args[1:]]
    with Greenline.open(root, create=False) as gl:
        start = time.perf_counter()
        plan = gl.selection.plan(learned=learned)
        elapsed = time.perf_counter() - start
    doc = {
        "plan_ms": round(1000 * elapsed, 1),
        "full_suite": plan.full_suite.detail if plan.full_suite else "",
        "ranker": plan.ranker,
        "safe": [t.test_id for t in plan.selected],
        "budgets": {
            f"{b:.0%}": [t.test_id for t in limit_to_budget(plan, Budget(fraction=b)).selected]
            for b in budgets
        },
    }
    json.dump(doc, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
