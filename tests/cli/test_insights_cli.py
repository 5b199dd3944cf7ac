"""greenline insights on the command line: ingest saved responses, metrics as text and JSON,
the HTML report, and clear errors for bad input."""

from __future__ import annotations

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
