"""The searches a flaky scan runs for one test: the experiments that attribute a cause (hash
seed, random seed, frozen clock, blocked network) and the delta-debugging search for the
polluter (or state-setter) of an order-dependent test, with the tests that clean up after it.
The engines (``flaky.experiments``, ``flaky.polluters``) decide what to run next; this module
runs it through the scan's trial runner and feeds the outcome back."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from greenline.api.flaky_trials import TrialRunner, is_failed
from greenline.flaky.active import Trial, TrialKind
from greenline.flaky.causes import guess_category, with_observations
from greenline.flaky.experiments import CAUSE, CLOCK_INSTANTS, Condition, Experiment
from greenline.flaky.fixes import Leak
from greenline.flaky.polluters import DeltaSearch
from greenline.model import Evidence, EvidenceKind, FlakyVerdict, Outcome

#: Uncontrolled runs alone before experiments, to know how often the test fails by itself.
EXPERIMENT_BASELINE = 6
MAX_CLEANER_CANDIDATES = 10
#: cleaners enough to borrow from: the search stops there
ENOUGH_CLEANERS = 3
Tick = Callable[[str], None]


def _short(test_id: str) -> str:
    return test_id.rsplit("::", 1)[-1]


class _Alone:
    """Runs of one test by itself, uncontrolled or under an experiment's condition."""

    def __init__(self, test_id: str, trials: list[Trial], runner: TrialRunner, tick: Tick):
        self.test_id, self.trials, self.runner, self.tick = test_id, trials, runner, tick

    def uncontrolled(self) -> list[bool]:
        return [
            is_failed(t.outcomes.get(self.test_id))
            for t in self.trials
            if t.kind is TrialKind.ISOLATED and t.order == (self.test_id,) and not t.condition
        ]

    def run(self, condition: Condition | None = None, setting: int = 0) -> bool:
        """One run alone; True when the test failed."""
        extra: list[str] = []
        env: dict[str, str] = {}
        if condition is Condition.HASH_SEED:
            env = {"PYTHONHASHSEED": str(setting)}
        elif condition is Condition.RANDOM_SEED:
            extra = [f"--greenline-seed={setting}"]
        elif condition is Condition.FROZEN_CLOCK:
            extra = [f"--greenline-clock={CLOCK_INSTANTS[setting]}"]
        elif condition is Condition.NO_NETWORK:
            extra = ["--greenline-offline"]
        trial = self.runner.run(TrialKind.ISOLATED, (self.test_id,), extra=extra, env=env)
        label = f"{condition.value} {setting}" if condition else ""
        self.trials.append(replace(trial, condition=label))
        self.tick(f"experiments on {_short(self.test_id)}")
        return is_failed(trial.outcomes.get(self.test_id))


def experiment(
    verdict: FlakyVerdict, trials: list[Trial], runner: TrialRunner, tick: Tick
) -> FlakyVerdict:
    """Alone, what does the test touch, and does a fixed hash seed, a seeded ``random``, a
    frozen clock or a blocked network make it agree with itself?"""
    alone = _Alone(verdict.test_id, trials, runner, tick)
    touched = runner.probe(verdict.test_id)
    tick(f"experiments on {_short(verdict.test_id)}")
    category, seen = with_observations(verdict.category, touched)
    if seen:
        note = Evidence(EvidenceKind.OBSERVED, seen)
        verdict = replace(verdict, category=category, evidence=(*verdict.evidence, note))
    judged = len(alone.uncontrolled())  # runs alone that the verdict already counted
    for _ in range(EXPERIMENT_BASELINE - judged):
        alone.run()
    free = alone.uncontrolled()
    # how often it fails by itself: every uncontrolled run of it (the scan's and these)
    runs = verdict.runs + len(free) - judged
    failures = verdict.failures + sum(free[judged:])
    if not 0 < failures < runs:
        return verdict
    for condition in _conditions(touched):
        trial = Experiment(condition, failures, runs)
        while (setting := trial.next_setting()) is not None:
            trial.record(setting, alone.run(condition, setting))
        if trial.attributed:
            note = Evidence(
                EvidenceKind.EXPERIMENT,
                f"by itself it failed {failures} of {runs} "
                f"runs; with a {condition.value}: {trial.describe()}",
            )
            return replace(verdict, category=CAUSE[condition], evidence=(*verdict.evidence, note))
    return verdict


def _conditions(touched: dict[str, list[str]]) -> list[Condition]:
    """What the probe saw it touch first; the clock and the network only if it touched them."""
    conditions = [
        condition
        for condition, key in (
            (Condition.FROZEN_CLOCK, "clock"),
            (Condition.RANDOM_SEED, "random"),
            (Condition.NO_NETWORK, "network"),
        )
        if touched.get(key)
    ]
    return conditions + [
        c for c in (Condition.HASH_SEED, Condition.RANDOM_SEED) if c not in conditions
    ]


def leaks(runner: TrialRunner, polluters: Sequence[str], victim: str) -> list[Leak]:
    """The project's module-level values the polluters leave changed when ``victim`` runs
    after them (one run with greenline's state probe)."""
    rows = runner.state(polluters, victim)
    last = next((r for r in reversed(rows) if r["test_id"] == polluters[-1]), None)
    if last is None:
        return []
    return [leak_of(c) for c in last["changed"]]


def leak_of(row: dict[str, Any]) -> Leak:
    """A leak from what the state probe wrote."""
    return Leak(
        row["module"],
        row.get("file"),
        row["name"],
        row.get("initial"),
        bool(row.get("rebound")),
        row.get("change", "rebound"),
        row.get("before"),
        row.get("after"),
        row.get("owner", "module"),
        row.get("container"),
        bool(row.get("deepcopy", True)),
    )


def _fails(trial: Trial, test_id: str) -> bool:
    return trial.outcomes.get(test_id) in (Outcome.FAILED, Outcome.ERROR)


def find_culprits(
    victim: FlakyVerdict, trials: list[Trial], runner: TrialRunner, tick: Tick
) -> FlakyVerdict:
    """The smallest set of earlier tests that makes an order-dependent test fail (a polluter)
    or, for one that fails alone, pass (a state-setter); then the tests that clean up."""
    test_id = victim.test_id
    fails_alone = any(t.kind is TrialKind.ISOLATED and _fails(t, test_id) for t in trials)
    want_failure = not fails_alone
    source = next(
        (
            t
            for t in trials
            if t.kind is not TrialKind.ISOLATED
            and _fails(t, test_id) == want_failure
            and test_id in t.order
        ),
        None,
    )
    if source is None:
        return victim

    def reproduces(prefix: Sequence[str]) -> bool:
        trial = runner.run(TrialKind.SHUFFLED, (*prefix, test_id))
        trials.append(trial)
        tick(f"searching what {_short(test_id)} depends on")
        return _fails(trial, test_id) == want_failure

    search = DeltaSearch(source.order[: source.order.index(test_id)])
    while (step := search.next_trial()) is not None:
        search.record(reproduces(step))
    if search.result is None:  # no order reproduces it: not order after all
        return _not_order(victim, trials)
    culprits = search.result
    found = Evidence(
        EvidenceKind.POLLUTER,
        ("" if want_failure else "state-setter: ")
        + f"running {', '.join(culprits)} first makes it "
        + ("fail" if want_failure else "pass")
        + f" ({search.trials} runs of delta debugging)",
    )
    evidence = [*victim.evidence, found]
    cleaners: list[str] = []
    if want_failure:
        evidence += _leak_evidence(runner, culprits, test_id, tick)
        cleaners = _find_cleaners(source, culprits, test_id, trials, runner, tick)
        if cleaners:
            evidence.append(
                Evidence(
                    EvidenceKind.CLEANER, f"run between them, {', '.join(cleaners)} makes it pass"
                )
            )
    return replace(
        victim, evidence=tuple(evidence), polluters=tuple(culprits), cleaners=tuple(cleaners)
    )


def _not_order(victim: FlakyVerdict, trials: list[Trial]) -> FlakyVerdict:
    """Rerunning the tests before it did not reproduce: judge by its failure messages."""
    test_id = victim.test_id
    notes = [Evidence(EvidenceKind.ORDER, "rerunning the tests before it did not reproduce")]
    messages = [t.messages[test_id] for t in trials if test_id in t.messages]
    category, matched = guess_category(messages)
    if matched:
        notes.append(
            Evidence(
                EvidenceKind.FAILURE_MESSAGE,
                f"{matched} of {len(messages)} failure messages point to {category.value}",
            )
        )
    return replace(victim, category=category, evidence=(*victim.evidence, *notes))


def _leak_evidence(
    runner: TrialRunner, culprits: Sequence[str], test_id: str, tick: Tick
) -> list[Evidence]:
    found = leaks(runner, culprits, test_id)
    tick(f"what {_short(culprits[0])} leaves behind")
    if not found:
        return []
    changed = ", ".join(f"{x.shown} (was {x.before}, now {x.after})" for x in found[:3])
    return [Evidence(EvidenceKind.POLLUTER, f"it leaves changed: {changed}")]


def _find_cleaners(
    source: Trial,
    culprits: Sequence[str],
    test_id: str,
    trials: list[Trial],
    runner: TrialRunner,
    tick: Tick,
) -> list[str]:
    """Tests that, run between the polluter and the victim, make it pass (same file first)."""
    others = [t for t in source.order if t not in culprits and t != test_id]
    same_file = [t for t in others if t.split("::")[0] == test_id.split("::")[0]]
    rest = [t for t in others if t not in same_file]
    cleaners = []
    for candidate in (same_file + rest)[:MAX_CLEANER_CANDIDATES]:
        trial = runner.run(TrialKind.SHUFFLED, (*culprits, candidate, test_id))
        trials.append(trial)
        tick(f"looking for tests that clean up after {_short(culprits[0])}")
        if trial.outcomes.get(test_id) is Outcome.PASSED:
            cleaners.append(candidate)
            if len(cleaners) >= ENOUGH_CLEANERS:
                break
    return cleaners
