"""The GitHub client against the fake GitHub on loopback: the App's JWT exchanged for an
installation token (verified with the app's public key, cached until shortly before it
expires), check runs published 50 annotations a request with texts cut to GitHub's limits,
refs that move the bare repository's refs (fast-forward only unless forced), comments found
again by their marker, labels, pull requests and their files, GraphQL, rate limits, and
tokens kept out of every error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from greenline.errors import ForgeConflictError, ForgeError
from greenline.forge.github import read_run
from greenline.forge.github_checks import MAX_OUTPUT_CHARS
from greenline.model.delivery import Conclusion
from greenline.model.forge import Annotation, AnnotationLevel, CheckConclusion, CheckReport
from tests.conftest import git
from tests.fakegithub import FakeGitHub
from tests.fakegithub.events import workflow_run_event
from tests.integration.github_setup import REPO, Clients, commit_change, make_project


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    make_project(path)
    commit_change(path, "feature", "app.py", "def add(a, b):\n    return b + a\n")
    return path


@pytest.fixture
def github(tmp_path: Path, project: Path) -> Iterator[FakeGitHub]:
    with FakeGitHub(tmp_path / "github").serving() as fake:
        fake.add_repository(REPO, source=project)
        yield fake


@pytest.fixture
def make(github: FakeGitHub) -> Iterator[Clients]:
    clients = Clients(github)
    yield clients
    clients.close()


def head(project: Path, ref: str = "main") -> str:
    return git(project, "rev-parse", ref)


def report(sha: str, annotations: int = 0, summary: str = "all good") -> CheckReport:
    notes = tuple(
        Annotation("app.py", n + 1, n + 1, AnnotationLevel.WARNING, f"note {n}")
        for n in range(annotations)
    )
    return CheckReport(
        "greenline/test", sha, CheckConclusion.SUCCESS, "A title", summary, annotations=notes
    )


def test_the_app_jwt_becomes_an_installation_token_kept_until_it_nears_expiry(
    github: FakeGitHub,
    make: Clients,
) -> None:
    client = make.app()
    assert client.get_repository()["full_name"] == REPO
    assert client.get_repository()["default_branch"] == "main"
    calls = [(c.method, c.path, c.auth) for c in github.calls()]
    installation = github.repository(REPO).installation_id
    assert calls == [
        ("GET", f"/repos/{REPO}/installation", "jwt"),
        ("POST", f"/app/installations/{installation}/access_tokens", "jwt"),
        ("GET", f"/repos/{REPO}", "installation"),
        ("GET", f"/repos/{REPO}", "installation"),
    ]
    assert github.state.tokens_issued == 1 and github.state.jwts_verified == 2
    github.state.token_seconds = 240  # tokens now expire within the five minutes' margin
    soon = make.app()
    soon.get_repository()
    soon.get_repository()  # its token expires in four minutes: replaced before use
    assert github.state.tokens_issued == 3
    lookups = github.calls("GET", f"/repos/{REPO}/installation")
    assert len(lookups) == 2  # once per client: the installation is kept


def test_a_jwt_the_app_did_not_sign_is_refused(github: FakeGitHub, make: Clients) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    client = make.app(pem)
    with pytest.raises(ForgeError) as caught:
        client.get_repository()
    assert "refused the request (401)" in caught.value.message
    assert "private key" in (caught.value.hint or "")
    assert "eyJ" not in str(caught.value)
    assert github.calls()[-1].auth == "none" and github.state.tokens_issued == 0


def test_annotations_go_fifty_a_request_and_the_run_completes_last(
    github: FakeGitHub, make: Clients, project: Path
) -> None:
    client = make.app()
    sha = head(project, "feature")
    published = client.publish_check(report(sha, annotations=120))
    writes = [(c.method, c.path.rsplit("/", 1)[-1]) for c in github.calls() if c.method != "GET"]
    assert writes[1:] == [
        ("POST", "check-runs"),
        ("PATCH", str(published.id)),
        ("PATCH", str(published.id)),
    ]
    bodies = [r["body"] for r in published.requests]
    assert [len(b["output"]["annotations"]) for b in bodies] == [50, 50, 20]
    assert [b.get("status") for b in bodies] == ["in_progress", None, "completed"]
    (run,) = github.check_runs(REPO, sha)
    assert run.status == "completed" and run.conclusion == "success"
    assert [a["message"] for a in run.annotations] == [f"note {n}" for n in range(120)]
    shown = client.check_runs_for_ref(sha, name="greenline/test")
    assert [r["id"] for r in shown] == [published.id]
    assert shown[0]["output"]["annotations_count"] == 120
    suites = client.check_suites_for_ref(sha)
    assert [(s["app"]["slug"], s["conclusion"]) for s in suites] == [("greenline-test", "success")]


def test_a_summary_over_githubs_limit_is_cut_with_a_note(
    github: FakeGitHub, make: Clients, project: Path
) -> None:
    client = make.token()
    long = "é" * 70_000  # two bytes each: cut by bytes, it stays whole characters
    client.publish_check(report(head(project), summary=long))
    (run,) = github.check_runs(REPO)
    assert run.summary is not None and len(run.summary.encode()) <= MAX_OUTPUT_CHARS
    assert run.summary.startswith("é" * 1000)
    assert "greenline cut this at GitHub's limit of 65,535 characters" in run.summary


def test_the_fake_refuses_what_github_refuses(
    github: FakeGitHub, make: Clients, project: Path
) -> None:
    client = make.token()
    too_many = [
        {"path": "a", "start_line": 1, "end_line": 1, "annotation_level": "notice", "message": "m"}
    ] * 51
    body = {
        "name": "x",
        "head_sha": head(project),
        "output": {"title": "t", "summary": "s", "annotations": too_many},
    }
    with pytest.raises(ForgeError, match="Only 50 annotations"):
        client.create_check_run(body)
    with pytest.raises(ForgeError, match="No commit found"):
        client.create_check_run({**body, "head_sha": "f" * 40, "output": None})
    pat = make.token(github.add_token("pat"))
    with pytest.raises(ForgeError, match=r"refused the request \(403\)"):
        pat.create_check_run({"name": "x", "head_sha": head(project)})


def test_refs_move_in_the_bare_repository_and_only_forward_unless_forced(
    github: FakeGitHub, make: Clients, project: Path
) -> None:
    client = make.app()
    bare = github.repository(REPO).bare
    main, feature = head(project), head(project, "feature")
    client.create_ref("refs/heads/greenline/queue/1", main)
    assert git(bare, "rev-parse", "refs/heads/greenline/queue/1") == main
    with pytest.raises(ForgeConflictError, match="Reference already exists"):
        client.create_ref("heads/greenline/queue/1", feature)
    client.update_ref("greenline/queue/1", feature)  # main is feature's parent: forward
    assert client.get_ref("heads/greenline/queue/1") == feature
    with pytest.raises(ForgeConflictError, match="not a fast forward"):
        client.update_ref("greenline/queue/1", main)
    assert git(bare, "rev-parse", "refs/heads/greenline/queue/1") == feature
    client.update_ref("greenline/queue/1", main, force=True)
    assert git(bare, "rev-parse", "refs/heads/greenline/queue/1") == main
    assert client.matching_refs("heads/greenline/queue/") == {"refs/heads/greenline/queue/1": main}
    assert client.delete_ref("greenline/queue/1") is True
    assert client.delete_ref("greenline/queue/1") is False
    assert client.get_ref("greenline/queue/1") is None
    assert "refs/heads/greenline/queue/1" not in git(bare, "for-each-ref")


def test_pull_requests_files_comments_and_labels(
    github: FakeGitHub, make: Clients, project: Path
) -> None:
    client = make.app()
    pull = github.open_pull(REPO, "feature", title="Swap the operands")
    doc = client.get_pull(pull.number)
    assert (doc["head"]["sha"], doc["base"]["ref"], doc["state"]) == (
        head(project, "feature"),
        "main",
        "open",
    )
    files = client.pull_files(pull.number)
    assert [(f["filename"], f["status"], f["additions"]) for f in files] == [
        ("app.py", "modified", 1)
    ]
    first = client.upsert_comment(pull.number, "digest", "first words")
    second = client.upsert_comment(pull.number, "digest", "second words")
    assert first["id"] == second["id"]
    comments = github.repository(REPO).comments
    assert [c.body for c in comments.values()] == ["<!-- greenline:digest -->\nsecond words"]
    assert client.add_labels(pull.number, ["greenline:queue"]) == ["greenline:queue"]
    assert [p["number"] for p in client.open_pulls(label="greenline:queue")] == [pull.number]
    assert client.open_pulls(label="other") == []
    assert client.remove_label(pull.number, "greenline:queue") is True
    assert client.remove_label(pull.number, "greenline:queue") is False


def test_graphql_errors_are_forge_errors(github: FakeGitHub, make: Clients) -> None:
    client = make.token()
    with pytest.raises(ForgeError, match="GraphQL API refused the query"):
        client.graphql('query { repository(owner: "no", name: "such") { nameWithOwner } }')
    with pytest.raises(ForgeError, match="Cannot query field"):
        client.graphql("query { viewer { login } }")


def test_a_short_rate_limit_is_waited_out_and_a_long_one_reported(
    github: FakeGitHub, make: Clients
) -> None:
    waits: list[float] = []
    client = make.token()
    client.sleep = waits.append
    github.rate_limit_next(1, retry_after=3)
    assert client.get_repository()["full_name"] == REPO
    assert waits == [3.0]
    github.rate_limit_next(1, reset_in=7200, status=429)
    with pytest.raises(ForgeError, match="rate limit is spent for 120 more minutes") as caught:
        client.get_repository()
    assert "resets" in (caught.value.hint or "")


def test_tokens_never_appear_in_errors(github: FakeGitHub, make: Clients, project: Path) -> None:
    pat = github.add_token("pat")
    client = make.token(pat)
    with pytest.raises(ForgeError) as refused:
        client.create_check_run({"name": "x", "head_sha": head(project)})
    bad = make.token("ghp_" + "x" * 36)
    with pytest.raises(ForgeError) as unknown:
        bad.get_repository()
    gone = make.token(pat)
    gone.http.base_url = httpx.URL("http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(ForgeError) as unreachable:
        gone.get_repository()
    for caught in (refused, unknown, unreachable):
        text = str(caught.value)
        assert pat not in text and "ghp_" not in text, text


def test_statuses_and_ci_results_of_a_commit(
    github: FakeGitHub, make: Clients, project: Path
) -> None:
    client = make.token()
    sha = head(project, "feature")
    assert client.combined_status(sha)["state"] == "pending"  # nothing reported yet
    client.create_status(sha, "pending", "ci/lint", "running")
    client.create_status(sha, "success", "ci/lint", "x" * 200, "https://ci.example/1")
    client.create_status(sha, "failure", "ci/docs")
    status = client.combined_status("feature")  # a branch names its tip
    assert (status["state"], status["sha"], status["total_count"]) == ("failure", sha, 2)
    lint = next(s for s in status["statuses"] if s["context"] == "ci/lint")
    assert lint["state"] == "success" and len(lint["description"]) == 140
    github.report_ci(REPO, sha, "failure", workflow="CI")
    (suite,) = client.check_suites_for_ref(sha)
    assert (suite["app"]["slug"], suite["status"], suite["conclusion"]) == (
        "github-actions",
        "completed",
        "failure",
    )
    assert suite["head_branch"] == "feature"
    (run,) = client.check_runs_for_ref(sha)
    assert (run["name"], run["check_suite"]["id"]) == ("test", suite["id"])


def test_the_fakes_webhook_payloads_read_as_githubs(github: FakeGitHub, project: Path) -> None:
    """The fake's workflow_run body is what greenline's Actions reader takes from GitHub."""
    sha = head(project, "feature")
    suite = github.report_ci(REPO, sha, "failure", workflow="CI")
    repo = github.repository(REPO)
    with github.state.lock:
        body = workflow_run_event(github.state, repo, suite, workflow="CI")
    run = read_run(body["workflow_run"], None)
    assert (run.repository, run.commit, run.branch) == (REPO, sha, "feature")
    assert run.conclusion is Conclusion.FAILURE and run.workflow == "CI"
