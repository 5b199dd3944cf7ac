"""The HTML delivery report in a real browser (Debian's chromium, headless): it opens offline
without console errors, every chart renders, and a screenshot is taken."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from greenline.api import Greenline
from greenline.insights.report import charts, render_report

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "insights" / "github-runs.json"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium here (Debian: apt-get install chromium)"
)
HEADLESS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=15000"]


def browse(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, *HEADLESS, *args, url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_report_renders_its_charts_without_console_errors(
    git_repo: Path, tmp_path: Path
) -> None:
    with Greenline.open(git_repo) as gl:
        gl.insights.ingest_files("github", [SAMPLE])
        doc = gl.insights.metrics(days=70)
    # a hostile workflow name must stay text
    for key in ("workflow", "workflow_label"):  # the label is what the report shows
        doc["workflows"][0][key] = "</script><script>alert(1)</script>"
        doc["most_failing_workflows"][0][key] = "</script><img src=x onerror=alert(2)>"
    page = tmp_path / "report.html"
    page.write_text(render_report(doc, datetime(2026, 11, 30, tzinfo=UTC)))
    assert "<img src=x" not in page.read_text()

    dom = browse(page.as_uri(), "--enable-logging=stderr", "--v=0", "--dump-dom")
    assert dom.returncode == 0, dom.stderr
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], "the page logs nothing and throws nothing"
    rendered = dom.stdout
    for i in range(len(charts(doc))):
        chart = rendered.split(f'id="chart-{i}"', 1)[1].split("</section>", 1)[0]
        assert 'class="main-svg"' in chart, f"chart {i} was drawn"
    assert "Delivery report" in rendered and "90% benchmark" in rendered

    shot = tmp_path / "report.png"
    taken = browse(
        page.as_uri(), "--hide-scrollbars", "--window-size=1280,2400", f"--screenshot={shot}"
    )
    assert taken.returncode == 0, taken.stderr
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
