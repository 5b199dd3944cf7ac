"""``greenline github check``: a CI job's checkout of a pull request's head publishes the
selection, the flaky verdicts of its run's failures and their triage as check runs at the
fake GitHub on loopback, with annotations on the failing tests' definitions; ``--format json``
prints the requests sent, ``--dry-run`` sends none; the token never shows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from greenline.api import Greenline
from greenline.model import Outcome, TestResult
from tests.cli.conftest import Cli
from tests.conftest import git
from tests.fakegithub import FakeGitHub
from tests.integration.github_setup import APP, REPO, make_project
from tests.integration.web import TEST_ADD, TEST_MUL, record_baseline


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A CI job's checkout of a pull request's head (mul changed) with a baseline at main."""
    path = tmp_path / "checkout"
    make_project(path)
    with Greenline.open(path) as gl:
        record_baseline(gl, path)
    git(path, "checkout", "-q", "-b", "feature")
    (path / "app.py").write_text(APP.replace("a * b", "b * a"))
    git(path, "commit", "-q", "-am", "swap mul's operands")
    return path


@pytest.fixture
def github(
    tmp_path: Path, checkout: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[FakeGitHub, str]]:
    with FakeGitHub(tmp_path / "github").serving() as fake:
        fake.add_repository(REPO, source=checkout)
        token = fake.add_token("actions")
        for name in ("GREENLINE_GITHUB_APP_ID", "GITHUB_TOKEN"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("GREENLINE_GITHUB_API_URL", fake.url)
        monkeypatch.setenv("GREENLINE_GITHUB_TOKEN", token)
        monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
        yield fake, token


def record_failures(checkout: Path, *failing: str) -> int:
    """A run of the checkout's commit in which ``failing`` failed."""
    with Greenline.open(checkout) as gl:
        run_id = gl.runs.start_run("pytest")
        results = [
            TestResult(
                t,
                Outcome.FAILED if t in failing else Outcome.PASSED,
                0.1,
                message="assert 6 == 5" if t in failing else None,
                path="tests/test_app.py",
            )
            for t in (TEST_ADD, TEST_MUL)
        ]
        gl.runs.add_results(run_id, results, {})
        gl.runs.finish_run(run_id, 1, complete=True)
    return run_id


def test_selection_check_from_a_ci_checkout(
    cli: Cli, checkout: Path, github: tuple[FakeGitHub, str]
) -> None:
    fake, token = github
    sha = git(checkout, "rev-parse", "HEAD")
    done = cli("--repo", str(checkout), "github", "check", "selection", "--format", "json")
    assert done.code == 0, done.err
    doc = done.json()
    (run,) = fake.check_runs(REPO, sha)
    assert doc["schema"] == "greenline.github-check/1" and doc["repository"] == REPO
    assert doc["check_run"]["id"] == run.id
    assert doc["check_run"]["html_url"] == f"https://github.com/{REPO}/runs/{run.id}"
    (sent,) = doc["requests"]
    assert (sent["method"], sent["path"]) == ("POST", f"/repos/{REPO}/check-runs")
    assert sent["body"]["head_sha"] == sha and sent["body"]["conclusion"] == "success"
    assert sent["body"]["output"]["title"] == run.title
    assert run.title == "1 of 2 tests selected; 33% of the suite's time saved"
    assert token not in done.out + done.err
    text = cli("--repo", str(checkout), "github", "check", "selection")
    assert text.code == 0, text.err
    assert f"published greenline/selection on {REPO} at {sha[:12]}: check run" in text.out
    assert token not in text.out + text.err


def test_flaky_and_triage_checks_annotate_the_failing_tests(
    cli: Cli, checkout: Path, github: tuple[FakeGitHub, str]
) -> None:
    fake, token = github
    sha = git(checkout, "rev-parse", "HEAD")
    record_failures(checkout, TEST_ADD, TEST_MUL)
    quarantined = cli(
        "--repo", str(checkout), "flaky", "quarantine", TEST_MUL, "--reason", "flakes <b>a lot</b>"
    )
    assert quarantined.code == 0, quarantined.err
    flaky = cli("--repo", str(checkout), "github", "check", "flaky", "--sha", sha[:10])
    assert flaky.code == 0, flaky.err
    triage = cli("--repo", str(checkout), "github", "check", "triage", "--format", "json")
    assert triage.code == 0, triage.err
    by_name = {r.name: r for r in fake.check_runs(REPO, sha)}
    flaky_run, triage_run = by_name["greenline/flaky"], by_name["greenline/triage"]
    assert flaky_run.conclusion == "failure"  # test_add is no known flake
    assert flaky_run.title == "2 failing test(s): 1 not a known flake"
    notes = {(a["path"], a["start_line"], a["annotation_level"]) for a in flaky_run.annotations}
    assert notes == {("tests/test_app.py", 4, "failure"), ("tests/test_app.py", 8, "notice")}
    assert flaky_run.summary is not None and r"flakes \<b\>a lot\</b\>" in flaky_run.summary
    assert [a["start_line"] for a in triage_run.annotations] == [4, 8]
    assert triage_run.summary is not None and "quarantined" in triage_run.summary
    assert token not in flaky.out + flaky.err + triage.out + triage.err


def test_dry_run_sends_nothing_and_needs_no_token(
    cli: Cli, checkout: Path, github: tuple[FakeGitHub, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, _ = github
    monkeypatch.delenv("GREENLINE_GITHUB_TOKEN")
    done = cli("--repo", str(checkout), "github", "check", "selection", "--dry-run", "-f", "json")
    assert done.code == 0, done.err
    doc = done.json()
    assert doc["check_run"] is None
    assert [(r["method"], r["path"]) for r in doc["requests"]] == [
        ("POST", f"/repos/{REPO}/check-runs")
    ]
    assert fake.calls() == []


def test_missing_credentials_and_refusals_are_one_clear_error(
    cli: Cli, checkout: Path, github: tuple[FakeGitHub, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, _ = github
    monkeypatch.delenv("GREENLINE_GITHUB_TOKEN")
    none = cli("--repo", str(checkout), "github", "check", "selection")
    assert none.code == 4
    assert "no GitHub credentials in the environment" in none.err
    assert "Hint: set GREENLINE_GITHUB_TOKEN" in none.err
    pat = fake.add_token("pat")  # a personal token cannot create check runs: GitHub says 403
    monkeypatch.setenv("GREENLINE_GITHUB_TOKEN", pat)
    refused = cli("--repo", str(checkout), "github", "check", "selection")
    assert refused.code == 4
    assert "GitHub refused the request (403): POST /repos/octo-org/octo-repo/check-runs" in (
        refused.err
    )
    assert "Hint:" in refused.err and pat not in refused.out + refused.err
    bad = cli("--repo", str(checkout), "github", "check", "selection", "--repository", "nope")
    assert bad.code == 4 and "'nope' is not OWNER/REPO" in bad.err
