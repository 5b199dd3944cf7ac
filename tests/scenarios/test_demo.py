"""``make demo`` end to end: the bundled example is copied, recorded and summarised."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_demo_records_the_example_project(tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path), "COLUMNS": "160"}
    env.pop("GREENLINE_DATABASE_URL", None)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "greenline: recorded run 1: 41 results" in out
    assert "39 passed, 1 skipped, 1 xfailed" in out
    assert "function-level, per test" in out
    assert "the 5 slowest tests" in out
    assert "10 of 41 tests selected" in out  # a skipped test in an untouched file is not
    assert "changed-block: shop/money.py::percent_of" in out
    assert "greenline: 10 of 41 tests can be affected by the change" in out
    assert "2 failed, 7 passed, 31 deselected, 1 xfailed" in out
    assert "1 flaky of 3 tests" in out
    assert "tests/test_modes.py::test_mode_starts_as_default: flaky (order-dependent)" in out
    assert "polluter: running tests/test_switching.py::test_switch_to_fast first" in out
    assert "+    settings.MODE = 'default'" in out
    assert "verified over 60 runs and the whole suite" in proc.stderr.replace("\n", " ")
    assert out.rstrip().count("2 passed") >= 1
    # a coverage row per test and run, naming its set of blocks; the sets' blocks are many
    rows = re.search(r"rows: coverage\s+(\d+)", out)
    blocks = re.search(r"coverage_set_blocks\s+(\d+)", out)
    assert rows and int(rows.group(1)) >= 40
    assert blocks and int(blocks.group(1)) > 100
    assert "github runs: 1361 new" in out
    assert "The default branch succeeds in" in out and "90% benchmark" in out
    demo_repo = next(tmp_path.glob("greenline-demo-*/shop"))
    report = demo_repo / "delivery-report.html"
    assert f"The delivery report: {report}" in out.replace("\n", "")
    assert report.read_text().count("Plotly.newPlot") == 1
    assert (demo_repo / ".greenline" / "greenline.db").exists()
    # the merge queue: two good branches land, the one that breaks rounding does not
    flat = " ".join(out.split())
    assert "ejected rounding-shortcut: fails alone on main" in flat
    assert "2 landed, 1 ejected" in flat
    assert "greenline" in flat and "merges per CI duration" in flat
    queue_repo = demo_repo.parent / "queue-shop"
    log = subprocess.run(
        ["git", "log", "--format=%s", "--first-parent", "main"],
        cwd=queue_repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "rounding-shortcut" not in log and log.count("greenline queue") == 2
    # main goes red: the regression told from the flaky test, the culprit, its revert
    triage = flat[flat.index("$ greenline triage") :]
    assert triage.index("regression (2)") < triage.index("flaky (1)")
    assert "since then the change touches shop/money.py" in triage
    assert "culprit " in triage and "money: a faster rounding" in triage and "confirmed" in triage
    recovery_repo = demo_repo.parent / "recovery-shop"
    branches = subprocess.run(
        ["git", "branch", "--list", "greenline/revert-*"],
        cwd=recovery_repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert branches.strip().startswith("greenline/revert-")
    # the team server over that store: its address, a read token, the overview; then stopped
    served = re.search(r"the dashboard: (http://127\.0\.0\.1:\d+)/", out)
    assert served, out[-2000:]
    assert re.search(r"read token \(paste it into the sign-in form\): glt_\S+", out)
    assert "overview of main: red for 1 run(s)" in flat and "flaky test(s)" in flat
    assert "the server stopped" in out
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{served.group(1)}/healthz", timeout=2)
