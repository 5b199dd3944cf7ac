"""greenline insights on the command line: ingest saved responses, metrics as text and JSON,
the HTML report, and clear errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import Cli

GITHUB = Path(__file__).parent.parent / "data" / "github"
PAGES = [str(GITHUB / "runs-page-1.json"), str(GITHUB / "runs-page-2.json")]


def test_ingest_then_metrics_and_report(cli: Cli, tmp_path: Path) -> None:
    first = cli("insights", "ingest", "github", *PAGES, str(GITHUB / "jobs-9003.json"))
    assert first.code == 0, first.err
    assert "github runs: 5 new, 0 updated, 0 unchanged" in first.out
    assert "github jobs: 2 new" in first.out
    again = cli("insights", "ingest", "github", *PAGES, "-f", "json").json()
    assert again["runs"] == {"added": 0, "replaced": 0, "unchanged": 5}

    text = cli("insights", "metrics", "--days", "2")
    assert text.code == 0, text.err
    assert "default branch" in text.out and "66.7%" in text.out
    assert "The default branch succeeds in 66.7% of runs (2 of 3" in text.out

    doc = cli("insights", "metrics", "--since", "2026-03-02", "--until", "2026-03-03", "-f", "json")
    data = doc.json()
    assert data["schema"] == "greenline.delivery-metrics/1"
    assert data["window"]["since"] == "2026-03-02T00:00:00+00:00"
    main = data["overall"]["default"]
    assert (main["runs"], main["successes"], main["failures"]) == (4, 2, 1)
    assert main["recovery_mean_s"] == 80 * 60  # failed 11:20, rerun succeeded 12:40
    assert data["slowest_jobs"][0]["job"] == "test"

    out = tmp_path / "report.html"
    report = cli("insights", "report", "--days", "2", "--out", str(out))
    assert report.code == 0, report.err
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and "Plotly.newPlot" in page
    assert "https://" not in page.split("<script>", 1)[0], "no network needed to open it"


def test_bad_input_gets_one_line_and_a_hint(cli: Cli, tmp_path: Path) -> None:
    empty = cli("insights", "metrics")
    assert empty.code == 5 and "no workflow runs ingested yet" in empty.err
    assert "Hint: greenline insights ingest github" in empty.err
    missing = cli("insights", "ingest", "github", str(tmp_path / "nope.json"))
    assert missing.code == 4 and "nope.json: no such file" in missing.err
    cli("insights", "ingest", "github", *PAGES)
    wrong = cli("insights", "metrics", "--since", "last tuesday")
    assert wrong.code == 4 and "--since 'last tuesday': not a date" in wrong.err
    backwards = cli("insights", "metrics", "--since", "2026-03-03", "--until", "2026-03-01")
    assert backwards.code == 4 and "is not before --until" in backwards.err
    nothing = cli("insights", "metrics", "--repository", "acme/none")
    assert nothing.code == 5 and "no workflow runs match" in nothing.err
    folder = cli("insights", "report", "--out", str(tmp_path))
    assert folder.code == 4 and "is a folder" in folder.err


def test_names_are_text_and_the_report_definitions_are_an_option(cli: Cli, tmp_path: Path) -> None:
    runs = []
    for n, (conclusion, hour) in enumerate([("success", 1), ("failure", 2), ("skipped", 3)]):
        at = f"2026-03-02T{hour:02d}:00:00Z"
        runs.append(
            {
                "id": n + 1,
                "name": "Build [/bold] [red]<b>x</b>",
                "path": ".github/workflows/build.yml",
                "head_branch": "[bold]main",
                "status": "completed",
                "conclusion": conclusion,
                "created_at": at,
                "run_started_at": at,
                "updated_at": f"2026-03-02T{hour:02d}:10:00Z",
                "repository": {"full_name": "acme/[i]shop", "default_branch": "[bold]main"},
            }
        )
    page = tmp_path / "runs.json"
    page.write_text(json.dumps({"workflow_runs": runs}))
    assert cli("insights", "ingest", "github", str(page)).code == 0
    text = cli("insights", "metrics", "--days", "2")
    assert text.code == 0, text.err
    assert "Build [/bold] [red]<b>x</b>" in text.out and "acme/[i]shop" in text.out
    assert "greenline definitions" in text.out
    ours = cli("insights", "metrics", "--days", "2", "-f", "json").json()
    theirs = cli("insights", "metrics", "--days", "2", "--definitions", "report", "-f", "json")
    report = theirs.json()
    assert (ours["definitions"]["name"], report["definitions"]["name"]) == ("greenline", "report")
    assert ours["overall"]["default"]["success_rate"] == 0.5  # the skipped run aside
    assert report["overall"]["default"]["success_rate"] == 1 / 3  # the skipped run counted
    bad = cli("insights", "metrics", "--definitions", "dora")
    assert bad.code != 0 and "dora" in bad.err
    out = tmp_path / "report.html"
    html = cli("insights", "report", "--days", "2", "--definitions", "report", "--out", str(out))
    assert html.code == 0, html.err
    page_text = out.read_text()
    assert "<b>x</b>" not in page_text and "Build [/bold] [red]&lt;b&gt;x&lt;/b&gt;" in page_text
    assert "report definitions: success rate = successful / (completed - cancelled)" in page_text
