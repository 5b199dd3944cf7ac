"""The patches a flaky test's fixer tries, for its root cause, smallest and most likely first:
the engines synthesise them (``greenline.flaky``); this module gathers what they need from the
project (sources, the modules a test imports, what a probe or state run sees) through the
scan's trial runner. ``flaky_fix`` verifies each before any is offered."""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from greenline import vcs
from greenline.api.flaky_search import leaks
from greenline.api.flaky_trials import ScanReport, TrialRunner
from greenline.api.workspace import Workspace
from greenline.flaky.borrow import borrow_reset
from greenline.flaky.experiments import CLOCK_INSTANTS, FIX_INSTANTS
from greenline.flaky.fixes import Leak, Patch, find_function, restore_state, seed_random
from greenline.flaky.process_fix import is_process_leak
from greenline.flaky.rewrites import approx_floats, freeze_clock
from greenline.flaky.set_order import sort_unordered, sort_unordered_in_code
from greenline.flaky.timer_fix import fake_timer
from greenline.model import FlakyCategory, FlakyVerdict
from greenline.selection.imports import dotted_names, imported_names

#: seeds a randomness fix tries (the first under which the test passes wins)
SEEDS = (0, 1, 2, 3, 4)
#: restorations of one leak at a time tried before all of them together
MAX_SINGLE_LEAKS = 8
Makers = list[tuple[str, Callable[[], Patch]]]


def fails_alone(verdict: FlakyVerdict) -> bool:
    return any("fails alone" in e.detail for e in verdict.evidence)


def is_test_file(path: str) -> bool:
    name = Path(path).name
    return name == "conftest.py" or name.startswith("test_") or name.endswith("_test.py")


def _given(patch: Patch) -> Patch:
    return patch


class Candidates:
    """What to try for one flaky test (``makers``: a description and a thunk per patch)."""

    def __init__(self, ws: Workspace, verdict: FlakyVerdict, report: ScanReport) -> None:
        self.ws, self.verdict, self.report = ws, verdict, report
        self.workdir = ws.workdir
        self.path, _, self.name = verdict.test_id.partition("::")
        self.source = self.read(self.path)
        self.runner = TrialRunner(ws.executor, self.workdir, (), timeout=120)

    def read(self, relative: str) -> str:
        return (self.workdir / relative).read_text(encoding="utf-8")

    def makers(self, tried: list[str]) -> Makers:
        category = self.verdict.category
        if category is FlakyCategory.ORDER_DEPENDENT:
            return self._order(tried)
        if category is FlakyCategory.RANDOMNESS:
            return self._randomness()
        if category is FlakyCategory.UNORDERED_COLLECTION:
            return self._set_order()
        if category is FlakyCategory.FLOATING_POINT:
            messages = list(self.report.messages.get(self.verdict.test_id, ()))
            return [("approx", partial(approx_floats, self.path, self.source, self.name, messages))]
        if category is FlakyCategory.TIME:
            return [
                (f"clock at {at}", partial(freeze_clock, self.path, self.source, self.name, at))
                for at in CLOCK_INSTANTS[:FIX_INSTANTS]
            ]
        if category is FlakyCategory.TIMING:
            return self._timing(tried)
        tried.append(
            f"no fix is synthesised for {category.value} flakiness: it needs a change to "
            "the code under test or its environment (see greenline flaky explain)"
        )
        return []

    # -- what the project holds ---------------------------------------------------------------
    def modules(self) -> dict[str, str]:
        """The project's Python files by every dotted name they can be imported as."""
        out: dict[str, str] = {}
        for relative in vcs.list_python_files(self.ws.root):
            for name in dotted_names(relative):
                out.setdefault(name, relative)
        return out

    def imported_modules(self) -> list[str]:
        """The project's Python files the test file imports (directly), tests aside."""
        wanted = imported_names(self.source, self.path)
        return [
            relative
            for relative in vcs.list_python_files(self.ws.root)
            if not is_test_file(relative)
            and relative != self.path
            and any(name in wanted for name in dotted_names(relative))
        ]

    def called_names(self) -> set[str]:
        """The names the test's own body calls or reads (``inv.report()`` gives ``report``)."""
        func = find_function(ast.parse(self.source), self.name)
        names = {n.attr for n in ast.walk(func) if isinstance(n, ast.Attribute)}
        return names | {n.id for n in ast.walk(func) if isinstance(n, ast.Name)}

    # -- per cause ------------------------------------------------------------------------------
    def _randomness(self) -> Makers:
        generators = self.runner.probe(self.verdict.test_id).get("generators", [])
        return [
            (
                f"seed {s}",
                partial(seed_random, self.path, self.source, self.name, s, tuple(generators)),
            )
            for s in SEEDS
        ]

    def _set_order(self) -> Makers:
        """The test's own iteration first; then where the order shows through the code under
        test: the functions of the project modules the test imports, those it calls first."""
        own: Makers = [("sorted sets", partial(sort_unordered, self.path, self.source, self.name))]
        called = self.called_names()
        code = [
            patch
            for module in self.imported_modules()
            for patch in sort_unordered_in_code(module, self.read(module))
        ]
        code.sort(key=lambda p: not any(f" {n} in " in p.description for n in called))
        return own + [(p.description, partial(_given, p)) for p in code]

    def _timing(self, tried: list[str]) -> Makers:
        """A fake clock for the code under test; none when the test measures the time itself
        (then the threshold is the contract)."""
        seen = self.runner.probe(self.verdict.test_id)
        timers = {f"time.{t.split('.')[-1]}" for t in seen.get("timer", [])}
        modules = self.modules()
        readers = [modules.get(m) for m in seen.get("timer_in", [])]
        if not timers or any(r is not None and is_test_file(r) for r in readers):
            tried.append(
                "a timing threshold: the test asserts how long something took, and the "
                "machine's load decides that. greenline never widens a threshold; make it "
                "deterministic by measuring with a fake clock (inject the timer the code reads), "
                "or, when the threshold is the contract, move it to a benchmark"
            )
            return []
        code = {m: self.read(modules[m]) for m in seen.get("timer_in", []) if modules.get(m)}
        return [
            (
                "a fake clock for the code under test",
                partial(fake_timer, self.path, self.source, self.name, code, timers),
            )
        ]

    def _order(self, tried: list[str]) -> Makers:
        """Borrow a cleaner's (or a state-setter's) statements; else restore what the
        polluter leaves changed, one thing at a time first, then everything."""
        verdict = self.verdict
        alone = fails_alone(verdict)
        makers: Makers = [
            (f"borrowing from {donor}", self._borrow(donor, role))
            for donor, role in self._donors(alone)
        ]
        if alone and len(verdict.polluters) == 1:
            setter = verdict.polluters[0]
            left = leaks(self.runner, [setter], verdict.test_id)
            if left:
                makers.append(
                    (
                        f"borrowing from {setter} after restoring what it sets",
                        partial(self._borrow_restored, setter, left),
                    )
                )
        if verdict.polluters and not alone:
            left = leaks(self.runner, verdict.polluters, verdict.test_id)
            if not left:
                tried.append("the state probe saw nothing the polluter leaves changed")
            # a literal written back as the test's first statements runs after its fixtures
            # set anything up: the module's fixture first when the test takes fixtures
            styles = (True, False) if self._takes_fixtures() else (False, True)
            for group in self._restorations(left):
                names = ", ".join(leak.shown for leak in group)
                literal = any(leak.has_literal for leak in group)
                for in_fixture in styles if literal else (True,):
                    restore = partial(
                        restore_state, self.path, self.source, self.name, group, in_fixture
                    )
                    makers.append((f"restoring {names}", restore))
        if not makers:
            tried.append("no polluter or state-setter was found to learn the state from")
        return makers

    def _takes_fixtures(self) -> bool:
        func = find_function(ast.parse(self.source), self.name)
        arguments = [a.arg for a in (*func.args.posonlyargs, *func.args.args)]
        return bool([a for a in arguments if a not in ("self", "cls")])

    def _donors(self, alone: bool) -> list[tuple[str, str]]:
        donors = [(c, "cleaner") for c in self.verdict.cleaners]
        if alone and len(self.verdict.polluters) == 1:
            donors.append((self.verdict.polluters[0], "state-setter"))
        return donors[:5]

    def _borrow(self, donor: str, role: str) -> Callable[[], Patch]:
        donor_source = self.read(donor.split("::", 1)[0])
        return partial(borrow_reset, self.path, self.source, self.name, donor_source, donor, role)

    def _borrow_restored(self, setter: str, left: list[Leak]) -> Patch:
        """The setter's statements, run on the state as it was before any test (so that doing
        it again after the setter itself ran cannot collide)."""
        borrowed = self._borrow(setter, "state-setter")()
        restored = restore_state(self.path, borrowed.after, self.name, left, in_fixture=True)
        return Patch(
            self.path,
            self.source,
            restored.after,
            f"{borrowed.description}, on the state as it was before any test",
        )

    def _restorations(self, left: Sequence[Leak]) -> list[list[Leak]]:
        """Each leak alone (those in modules the test imports first), then all of them."""
        if len(left) <= 1:
            return [list(left)] if left else []
        wanted = imported_names(self.source, self.path)

        def rank(leak: Leak) -> int:
            if leak.module in wanted or leak.file == self.path:
                return 0
            logger = leak.name.removeprefix("logging.getLogger('").removesuffix("')")
            if is_process_leak(leak) and logger != leak.name and logger in wanted:
                return 0  # the logger of a module the test imports
            return 1 if is_process_leak(leak) or leak.file else 2

        singles = sorted(left, key=rank)[:MAX_SINGLE_LEAKS]
        return [[leak] for leak in singles] + [list(left)]
