"""Selection under pytest: deselect, reorder or shadow the collected tests by the plan.

Fails open: without a store or a baseline, or on any trouble of greenline's own, every test runs
and one ``greenline:`` line says why; a mistake of the user's (an unknown --greenline-base) is a
usage error. A test the baseline never saw (new, or renamed) always runs.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from greenline.errors import GreenlineError, UsageError
from greenline.model import SelectionPlan
from greenline.selection import make_budget

#: how long a plan is asked of the team server before every test runs instead
PLAN_RETRY_SECONDS = 10.0


def _controls_xdist(config: pytest.Config) -> bool:
    """This process is the controller of an xdist session (its workers run the tests)."""
    if hasattr(config, "workerinput"):
        return False
    workers = getattr(config.option, "numprocesses", None)
    dist = getattr(config.option, "dist", "no")
    return bool(workers) or (dist not in (None, "no"))


class SelectPlugin:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.mode: str = config.getoption("greenline_select")
        self.base: str | None = config.getoption("greenline_base")
        try:
            self.budget = make_budget(
                config.getoption("greenline_budget"),
                config.getoption("greenline_confidence"),
                prefix="--greenline-",
            )
        except GreenlineError as exc:
            raise pytest.UsageError(f"greenline: {exc}") from None
        self.plan: SelectionPlan | None = None
        #: likely-first or keep: the flag, else the setting (read with the plan)
        self.order: str | None = config.getoption("greenline_select_order")
        self.note = ""
        self.skipped_by_selection: set[str] = set()
        self.missed: list[str] = []
        self.xdist_controller = False

    def _make_plan(self) -> SelectionPlan | None:
        try:
            server = self.config.getoption("greenline_server")
            if server:
                return self._plan_on_server(server)
            # imported here: a broken dependency of greenline's (the store's, say) fails open
            from greenline.api import Greenline

            with Greenline.open(
                self.config.rootpath, db=self.config.getoption("greenline_db"), create=False
            ) as gl:
                self.order = self.order or gl.settings.selection_order
                return gl.selection.plan(self.base, self.budget)
        except UsageError as exc:  # the user's to fix (an unknown --greenline-base, say)
            raise pytest.UsageError(f"greenline: {exc}") from None
        except GreenlineError as exc:  # no store or no baseline yet: run everything
            self.note = f"greenline: running every test: {exc.message}"
        except Exception as exc:  # our own trouble must never cost the user a test
            self.note = f"greenline: running every test: selection failed ({exc!r})"
        return None

    def _plan_on_server(self, url: str) -> SelectionPlan:
        """The team server's plan for this checkout's change (its baseline, this diff)."""
        from greenline.api.teamserver import plan_on_server
        from greenline.config import load_settings
        from greenline.remote import TOKEN_ENV, ServerClient
        from greenline.vcs import find_root

        root = find_root(self.config.rootpath) or self.config.rootpath
        settings = load_settings(root, os.environ)
        self.order = self.order or settings.selection_order
        token = os.environ.get(TOKEN_ENV)
        if not token:
            raise UsageError(f"--greenline-server needs an API token in {TOKEN_ENV}")
        # the tests wait for the plan: a server that does not answer soon means running them all
        retry = min(settings.server_retry_seconds, PLAN_RETRY_SECONDS)
        with ServerClient(url, token, retry_seconds=retry) as client:
            _, plan = plan_on_server(
                client,
                root,
                base=self.base,
                budget=self.config.getoption("greenline_budget"),
                confidence=self.config.getoption("greenline_confidence"),
            )
        return plan

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        self.plan = self._make_plan()
        plan = self.plan
        if plan is None:
            return
        if plan.full_suite is not None:
            self.note = f"greenline: running every test: {plan.full_suite.detail}"
            return
        rank = {t.test_id: i for i, t in enumerate(plan.selected)}
        known = set(rank) | set(plan.unaffected) | set(plan.over_budget)

        def keep(item: pytest.Item) -> bool:
            marked = item.get_closest_marker("greenline_always") is not None
            return item.nodeid in rank or item.nodeid not in known or marked

        chosen: list[pytest.Item] = []
        rest: list[pytest.Item] = []
        for item in items:  # once per item: a marker lookup walks the item's parents
            (chosen if keep(item) else rest).append(item)
        if self.order != "keep":
            chosen.sort(key=lambda item: rank.get(item.nodeid, -1))  # unseen tests first
        self.note = (
            f"greenline: {len(chosen)} of {len(items)} tests can be affected by the change since "
            f"run {plan.baseline_run_id} at {(plan.base or '?')[:10]} ({self._how()})"
        )
        if plan.over_budget:
            self.note += f"; {len(plan.over_budget)} more did not fit the budget"
        if self.mode == "deselect":
            if rest:
                config.hook.pytest_deselected(items=rest)
            items[:] = chosen
        else:
            self.skipped_by_selection = {item.nodeid for item in rest}
            items[:] = chosen + rest if self.mode == "reorder" else items

    def _how(self) -> str:
        """The mode and, when the tests run in an order of greenline's, which order."""
        if self.mode == "shadow":
            return self.mode  # shadow runs everything in pytest's order
        order = "in pytest's order" if self.order == "keep" else "most likely to fail first"
        return f"{self.mode}, {order}"

    def pytest_report_collectionfinish(self) -> str | None:
        return self.note or None

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        # Under xdist the workers collect and select; the controller only sees their reports.
        # It makes the same plan, to say what was selected and (shadow) what selection missed.
        if not _controls_xdist(self.config):
            return
        self.xdist_controller = True
        self.plan = self._make_plan()
        if self.plan is not None and self.plan.full_suite is None:
            self.skipped_by_selection = set(self.plan.unaffected) | set(self.plan.over_budget)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.mode != "shadow" or not report.failed:
            return
        if report.nodeid in self.skipped_by_selection and "greenline_always" not in report.keywords:
            self.missed.append(report.nodeid)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.xdist_controller:
            terminalreporter.write_line(self._controller_note())
        if self.mode != "shadow" or self.plan is None or self.plan.full_suite is not None:
            return
        if self.missed:
            terminalreporter.write_line(
                f"greenline shadow: selection would have skipped {len(self.missed)} failing "
                f"test(s): {', '.join(sorted(set(self.missed)))}",
                red=True,
            )
        else:
            terminalreporter.write_line(
                "greenline shadow: every failing test was among the selected ones"
            )

    def _controller_note(self) -> str:
        plan = self.plan
        if plan is None:
            return self.note  # why selection could not run (it failed open)
        if plan.full_suite is not None:
            return f"greenline: running every test: {plan.full_suite.detail}"
        known = len(plan.selected) + len(plan.unaffected) + len(plan.over_budget)
        left = len(plan.unaffected) + len(plan.over_budget)
        what = {"deselect": "deselected", "reorder": "ran after them", "shadow": "ran too"}
        return (
            f"greenline: {len(plan.selected)} of the baseline's {known} tests can be affected by "
            f"the change since run {plan.baseline_run_id} at {(plan.base or '?')[:10]}; "
            f"the workers {what.get(self.mode, 'ran')} the other {left} ({self._how()})"
        )

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        # Deselecting everything is a success, not "no tests ran".
        trusted = self.plan is not None and self.plan.full_suite is None
        if self.mode == "deselect" and exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and trusted:
            session.exitstatus = pytest.ExitCode.OK
