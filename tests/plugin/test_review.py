"""``greenline review`` and the MCP tool ``review_change`` on a real git repository with recorded
runs: a change that edits a covered function and adds one no test runs, a flaky test in its
path and code-quality findings in its files."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from greenline import views
from greenline.api import Greenline
from greenline.api.review_markdown import MARKER
from greenline.model.review import BlockChange
from tests.conftest import git, init_repo

pytestmark = pytest.mark.usefixtures("without_plugin_autoload")

RECORD = ("-p", "greenline", "--greenline-record", "-p", "no:cacheprovider")
FINDINGS = Path(__file__).parent.parent / "data" / "github" / "code_quality_findings.json"
CART = """\
def total(prices):
    return sum(prices)


def count(items):
    return len(items)
"""
#: a test id made to break out of any markdown it is put in
HOSTILE = (
    "<img src=x onerror=alert(1)> [win](https://evil.example) @octo-org/admins `x` | "
    "<!-- greenline:review -->"
)
TESTS = f"""\
import os

import pytest

from shop.cart import count, total


def test_total():
    assert total([1, 2]) == 3


def test_count():
    assert os.environ.get("FLIP") != "1", "the coin came up tails"
    assert count([1]) == 1


@pytest.mark.parametrize("items", [[]], ids=[{HOSTILE!r}])
def test_count_empty(items):
    assert count(items) == 0
"""
COUNT = "tests/test_cart.py::test_count"
HOSTILE_ID = f"tests/test_cart.py::test_count_empty[{HOSTILE}]"


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """shop/cart.py and its tests, recorded three times on main (test_count failed once), then
    a branch that edits count and adds discount, which no test runs."""
    monkeypatch.delenv("FLIP", raising=False)
    (pytester.path / "shop").mkdir()
    (pytester.path / "shop" / "__init__.py").write_text("")
    (pytester.path / "shop" / "cart.py").write_text(CART)
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "test_cart.py").write_text(TESTS)
    pytester.makeini("[pytest]\npythonpath = .\n")
    (pytester.path / ".gitignore").write_text("__pycache__/\n")
    init_repo(pytester.path)
    git(pytester.path, "remote", "add", "origin", "git@github.com:octo-org/octo-repo.git")
    for flip in ("0", "1", "0"):
        monkeypatch.setenv("FLIP", flip)
        pytester.runpytest_subprocess(*RECORD)
    monkeypatch.delenv("FLIP")
    git(pytester.path, "checkout", "-q", "-b", "feature")
    cart = pytester.path / "shop" / "cart.py"
    cart.write_text(
        CART.replace("return len(items)", "return len(list(items))")
        + "\n\ndef discount(prices, share):\n    return total(prices) * (1 - share)\n"
    )
    git(pytester.path, "commit", "-q", "-am", "count any iterable; discounts")
    return pytester


def greenline(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.run(sys.executable, "-m", "greenline", *args)


def ingest_findings(project: pytest.Pytester) -> None:
    # the saved findings are of app.py and lib/other.py: move one into the changed file
    doc = json.loads(FINDINGS.read_text())
    doc[0]["location"]["path"] = "shop/cart.py"
    saved = project.path.parent / "findings.json"
    saved.write_text(json.dumps(doc))
    done = greenline(
        project, "insights", "ingest", "github-code-quality", "octo-org/octo-repo",
        "--from-file", str(saved), "-f", "json",
    )  # fmt: skip
    assert done.ret == 0, done.stderr.str()
    assert json.loads(done.stdout.str())["findings"]["added"] == 3


def test_the_digest_names_each_section(project: pytest.Pytester) -> None:
    ingest_findings(project)
    main = git(project.path, "rev-parse", "main")
    with Greenline.open(project.path) as gl:
        digest = gl.review.digest()
    assert digest.base == main and digest.baseline_sha == main
    functions = {(f.path, f.name): f for f in digest.functions}
    count = functions[("shop/cart.py", "count")]
    assert count.status is BlockChange.MODIFIED
    assert count.tests == (COUNT, HOSTILE_ID)
    discount = functions[("shop/cart.py", "discount")]
    assert discount.status is BlockChange.ADDED and discount.tests == ()
    assert ("shop/cart.py", "total") not in functions  # unchanged
    assert [(f.path, f.name) for f in digest.untested] == [("shop/cart.py", "discount")]
    likely = {t.test_id: t.likelihood for t in digest.likely}
    # count's own tests first; test_total is selected too (the module code changed: discount's
    # signature), but less likely to fail
    assert [t.test_id for t in digest.likely][:2] == [COUNT, HOSTILE_ID]
    assert likely[COUNT] > likely["tests/test_cart.py::test_total"] > 0
    assert [f.verdict.test_id for f in digest.flaky] == [COUNT]
    assert digest.flaky[0].why == "it ran changed code in shop/cart.py"
    assert not digest.flaky[0].quarantined
    # open findings in the changed file only: not lib/other.py's, not the dismissed one
    assert [(f.path, f.number, f.state) for f in digest.findings] == [("shop/cart.py", 4, "open")]
    assert digest.notes == ()

    shown = greenline(project, "review", "-f", "json")
    assert shown.ret == 0, shown.stderr.str()
    doc = json.loads(shown.stdout.str())
    assert doc == views.review_document(digest)
    assert doc["schema"] == "greenline.review/1"
    assert doc["counts"] == {
        "changed_files": 1, "functions": 3, "untested": 1, "flaky": 1, "findings": 1,
    }  # fmt: skip
    text = greenline(project, "review", "--base", "main")
    assert text.ret == 0
    text.stdout.fnmatch_lines(
        [
            f"change since {main[:12]}: 1 files, 3 changed functions, 1 that no test runs*",
            "changed functions that no test runs:",
            "  shop/cart.py::discount (added)",
            "*shop/cart.py::count (modified): 2 tests",
            "most likely to fail (*",
            "flaky tests in the change's path:",
            f"  {COUNT} (unknown): it ran changed code in shop/cart.py",
            "open code-quality findings in the changed files:",
            "  shop/cart.py:2 py/unused-local-variable (note): Variable total is not used.",
        ]
    )


def test_markdown_is_safe_and_marked_for_a_pull_request_comment(
    project: pytest.Pytester,
) -> None:
    ingest_findings(project)
    shown = greenline(project, "review", "--format", "markdown")
    assert shown.ret == 0, shown.stderr.str()
    body = shown.stdout.str()
    assert body.splitlines()[0] == MARKER and body.count(MARKER) == 1
    for heading in (
        "### Changed functions that no test runs",
        "### Changed functions and the tests that ran them",
        "### Most likely to fail",
        "### Flaky tests in the change's path",
        "### Open code-quality findings in the changed files",
    ):
        assert heading in body
    assert "- `shop/cart.py` `discount` (added)" in body
    page = MarkdownIt("commonmark", {"html": True}).enable("table").render(body)
    # the hostile test id is text: no image, no link, no second marker, no mention
    assert "<img" not in page and "<a " not in page
    assert page.count("<!-- greenline:review -->") == 1
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    hostile_lines = [line for line in page.splitlines() if "onerror" in line]
    assert hostile_lines and all("<code>" in line for line in hostile_lines)
    assert all("@octo-org/admins" in line for line in hostile_lines)  # inside the code span


def test_without_a_baseline_the_digest_says_what_it_cannot_know(
    pytester: pytest.Pytester,
) -> None:
    (pytester.path / "app.py").write_text("def one():\n    return 1\n")
    init_repo(pytester.path)
    (pytester.path / "app.py").write_text(
        "def one():\n    return 2\n\n\ndef two():\n    return 2\n"
    )
    with Greenline.open(pytester.path) as gl:
        digest = gl.review.digest("HEAD")
    assert digest.baseline_run_id is None
    assert [(f.name, f.status) for f in digest.functions] == [
        ("<module>", BlockChange.MODIFIED),
        ("one", BlockChange.MODIFIED),
        ("two", BlockChange.ADDED),
    ]
    assert digest.untested == digest.functions  # nothing is known to run them
    assert digest.likely == () and "no recorded run with coverage" in digest.notes[0]
    bad = greenline(pytester, "review", "--base", "no-such-rev")
    assert bad.ret == 4 and "unknown revision 'no-such-rev'" in bad.stderr.str()


def test_review_change_through_an_mcp_client(project: pytest.Pytester) -> None:
    from tests.integration.test_mcp_server import call_server

    with Greenline.open(project.path) as gl:
        expected = views.review_document(gl.review.digest(), limit=1)
    answers = call_server(
        project.path,
        [("review_change", {"limit": 1}), ("review_change", {"base": "no-such-rev"})],
    )
    tool = next(t for t in answers["tools"] if t.name == "review_change")
    assert tool.annotations.read_only_hint is True
    done = answers['review_change{"limit": 1}']
    assert not done.is_error, done.content
    assert done.structured_content == expected
    assert expected["truncated"] is True and len(expected["functions"]) == 1
    assert expected["counts"]["functions"] == 3
    refused = answers['review_change{"base": "no-such-rev"}']
    assert refused.is_error and "unknown revision" in refused.content[0].text
