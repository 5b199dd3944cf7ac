"""The dashboard in a real browser (Debian's chromium, driven by Playwright) against the real
server over a store filled by recorded runs: every page renders with no console error and no
request leaving the server, the login cookie is HttpOnly and SameSite=Strict, a hostile test id
and workflow name stay text, the quarantine button works for a write token and is absent (and
refused) for a read token, the merge queue page refreshes itself, and a screenshot of the
overview is kept."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from greenline.api import Greenline
from tests.conftest import git
from tests.integration.dashboard_store import (
    HOSTILE_ID,
    HOSTILE_WORKFLOW,
    ROOT,
    TOGGLE_ID,
    build_store,
    make_token,
    serving,
)

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium here (Debian: apt-get install chromium)"
)
PAGES = {  # path: text the page shows
    "/": "Flaky tests costing the most CI time",
    "/runs": "Runs",
    "/runs/3": "Failures",
    "/runs/2": "No failed test in this run.",
    f"/test?id={TOGGLE_ID}": "History",
    "/flaky": "Flaky tests",
    "/flaky?sort=runs": "runs affected",
    "/queue": "Merge queue",
    "/insights": "Headline figures",
}


@dataclass
class Site:
    base: str
    repo: Path
    read: str
    write: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    repo = tmp_path_factory.mktemp("dashboard") / "repo"
    build_store(repo)
    git(repo, "branch", "feature")  # for the merge queue page
    tokens = {scope: make_token(repo, f"browser-{scope}", scope) for scope in ("read", "write")}
    with serving(repo) as base:
        yield Site(base, repo, tokens["read"], tokens["write"])


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Watched:
    """A page with what it logged, threw, asked and fetched."""

    page: Any
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


def open_page(browser: Any, site: Site, token: str) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    seen = Watched(page)
    page.on("console", lambda m: seen.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen.errors.append(str(e)))
    page.on("dialog", lambda d: (seen.dialogs.append(d.message), d.dismiss()))
    page.on("request", lambda r: seen.requests.append(r.url))
    page.goto(f"{site.base}/")
    assert page.url.startswith(f"{site.base}/login"), "signing in comes first"
    page.fill("#token", token)
    page.click("form.login button")
    page.wait_for_url(f"{site.base}/")
    try:
        yield seen
    finally:
        context.close()


@pytest.fixture
def reader(browser: Any, site: Site) -> Iterator[Watched]:
    yield from open_page(browser, site, site.read)


@pytest.fixture
def writer(browser: Any, site: Site) -> Iterator[Watched]:
    yield from open_page(browser, site, site.write)


def artifact_dir(tmp_path: Path) -> list[Path]:
    """Where the screenshot goes: the test's folder, and ``.artifacts/`` under CI (or
    ``$GREENLINE_ARTIFACTS``), which git ignores."""
    where = [tmp_path]
    chosen = os.environ.get("GREENLINE_ARTIFACTS")
    if chosen or os.environ.get("CI"):
        where.append(Path(chosen) if chosen else ROOT / ".artifacts")
    return where


def test_every_page_renders_without_console_errors(
    reader: Watched, site: Site, tmp_path: Path
) -> None:
    page = reader.page
    cookie = next(c for c in page.context.cookies() if c["name"] == "greenline_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == "", "scripts cannot read the token"
    for path, text in PAGES.items():
        reply = page.goto(site.base + path)
        assert reply is not None and reply.status == 200, path
        assert text in page.inner_text("main"), path
        twin = page.get_attribute("a.twin", "href")
        assert twin and "format=json" in twin, f"{path} links its JSON twin"
    page.goto(f"{site.base}/")
    assert "red for 1 run" in page.inner_text("#streak")
    assert page.locator("#costliest svg.meter").count() == 2
    shots = artifact_dir(tmp_path)
    for where in shots:
        where.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(where / "dashboard-overview.png"), full_page=True)
    print(f"overview screenshot: {', '.join(str(w / 'dashboard-overview.png') for w in shots)}")
    assert (tmp_path / "dashboard-overview.png").stat().st_size > 20_000
    page.goto(f"{site.base}/insights/report?days=70")
    page.wait_for_selector(".main-svg")
    assert reader.errors == [], "no console errors, no CSP violation, nothing thrown"
    outside = [u for u in reader.requests if not u.startswith((site.base, "data:"))]
    assert outside == [], "every asset is served by the app"


def test_a_hostile_test_id_and_workflow_name_stay_text(reader: Watched, site: Site) -> None:
    page = reader.page
    page.goto(f"{site.base}/flaky")
    link = page.get_by_role("link", name=HOSTILE_ID, exact=True)
    assert link.count() == 1, "the id is shown as the text it is"
    link.click()
    page.wait_for_load_state()
    assert page.inner_text("h1.test-id") == HOSTILE_ID, "its link leads to its own page"
    assert "flaky" in page.inner_text("#verdict")
    page.goto(f"{site.base}/runs/3")
    assert HOSTILE_ID in page.inner_text("#failures")
    page.goto(f"{site.base}/insights?days=70")
    assert page.get_by_role("cell", name=HOSTILE_WORKFLOW, exact=True).count() >= 1
    assert page.locator("img").count() == 0
    assert reader.dialogs == [] and reader.errors == [], "no script of the store's ran"


def test_the_quarantine_button_works_for_a_write_token(writer: Watched, site: Site) -> None:
    page = writer.page
    page.goto(f"{site.base}/test?id={TOGGLE_ID}")
    assert page.inner_text("#quarantine .big") == "no"
    page.fill("#quarantine-form input[name=reason]", "flaky: toggles every run")
    page.click("#quarantine-button")
    page.wait_for_selector("#release")
    assert "quarantined" in page.inner_text("#quarantine")
    assert "flaky: toggles every run" in page.inner_text("#quarantine")
    with Greenline.open(site.repo) as gl:
        assert TOGGLE_ID in gl.flaky.active_quarantine()
    page.goto(f"{site.base}/flaky")
    assert "since" in page.locator("#board tr", has_text=TOGGLE_ID).inner_text()
    page.goto(f"{site.base}/test?id={TOGGLE_ID}")
    page.click("#release")
    page.wait_for_selector("#quarantine-button")
    with Greenline.open(site.repo) as gl:
        assert TOGGLE_ID not in gl.flaky.active_quarantine()
    assert writer.errors == []


def test_a_read_token_has_no_button_and_its_posts_are_refused(reader: Watched, site: Site) -> None:
    page = reader.page
    page.goto(f"{site.base}/test?id={TOGGLE_ID}")
    assert page.locator("#quarantine-button").count() == 0
    assert "write token" in page.inner_text("#quarantine")
    csrf = page.locator("input[name=csrf]").first.input_value()  # the sign-out form's
    form = {"test_id": TOGGLE_ID, "reason": "no", "csrf": csrf}
    refused = page.request.post(f"{site.base}/quarantine", form=form, max_redirects=0)
    assert refused.status == 403 and "needs write" in refused.text()
    with Greenline.open(site.repo) as gl:
        assert TOGGLE_ID not in gl.flaky.active_quarantine(), "nothing changed"


def test_the_merge_queue_page_refreshes_itself(reader: Watched, site: Site) -> None:
    page = reader.page
    page.goto(f"{site.base}/queue")
    assert "No merge queue" in page.inner_text("#queue-live")
    with Greenline.open(site.repo) as gl:
        gl.queue.add("feature")
    try:
        page.wait_for_selector("#entries >> text=feature", timeout=15_000)
    finally:
        with Greenline.open(site.repo) as gl:
            gl.queue.remove("feature")
    page.wait_for_selector("#queue-live >> text=Nothing queued", timeout=15_000)
    assert reader.errors == []


def test_signing_out_ends_the_session(reader: Watched, site: Site) -> None:
    page = reader.page
    page.click("header .who button")
    page.wait_for_url(f"{site.base}/login")
    assert [c for c in page.context.cookies() if c["name"] == "greenline_session"] == []
    page.goto(f"{site.base}/runs")
    assert page.url.startswith(f"{site.base}/login?next=%2Fruns")
    page.fill("#token", site.read + "x")
    page.click("form.login button")
    assert "not a live greenline token" in page.inner_text("main")
