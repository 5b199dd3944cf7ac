"""Values of failure recovery: triage verdicts on a red run's failing tests, and the outcome of
a culprit search over a range of commits."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class TriageKind(enum.StrEnum):
    INFRA = "infra"
    SETUP = "setup"
    QUARANTINED = "quarantined"
    FLAKY = "flaky"
    ALREADY_FAILING = "already-failing"
    REGRESSION = "regression"
    SUSPECT_FLAKY = "suspect-flaky"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class TriageVerdict:
    """Why one test failed in a run, with the evidence that says so."""

    test_id: str
    kind: TriageKind
    signature: str
    reason: str
    evidence: tuple[str, ...] = ()
    #: files of the change that connect the failure to it (regressions)
    touched: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CandidateCommit:
    """One first-parent commit of a culprit search, oldest first."""

    sha: str
    subject: str = ""
    author: str = ""
    #: did it touch anything the failing tests ran (coverage's prior)?
    touches_tests: bool = True


class ProbeResult(enum.StrEnum):
    FAILED = "failed"
    PASSED = "passed"
    UNTESTABLE = "untestable"  # like git bisect's 125: it could not be judged


@dataclass(frozen=True, slots=True)
class Probe:
    """One run of the failing tests at one commit (index into the candidates; -1: the good)."""

    index: int
    result: ProbeResult


class CulpritStatus(enum.StrEnum):
    FOUND = "found"
    NO_CULPRIT = "no-culprit"  # the failures are flaky
    AMBIGUOUS = "ambiguous"  # untestable commits hide the boundary
    UNDECIDED = "undecided"  # the probe budget ran out before the confidence was reached


@dataclass(frozen=True, slots=True)
class CulpritAnswer:
    status: CulpritStatus
    reason: str
    #: candidate indices the answer names (one when found; several when ambiguous)
    commits: tuple[int, ...] = ()
    posterior: float = 0.0
    no_culprit_posterior: float = 0.0
    probes: int = 0
    confirmed: bool = False
    evidence: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class TriageReport:
    run_id: int
    commit: str | None
    branch: str | None
    verdicts: tuple[TriageVerdict, ...]
    last_green: int | None = None  # the run the change is measured from
    before: int | None = None  # the run "already failing" compares with


@dataclass(frozen=True, slots=True)
class CulpritReport:
    good: str
    bad: str
    tests: tuple[str, ...]
    candidates: tuple[CandidateCommit, ...]
    answer: CulpritAnswer
    test_runs: int
    seconds: float
    #: the branch head passes the failing tests again: a later commit fixed it
    fixed_later: bool | None = None
    #: the failing tests the probes ran (a few of ``tests``)
    probed: tuple[str, ...] = ()

    @property
    def culprit(self) -> CandidateCommit | None:
        found = self.answer.status is CulpritStatus.FOUND and self.answer.commits
        return self.candidates[self.answer.commits[0]] if found else None


@dataclass(frozen=True, slots=True)
class RevertReport:
    commit: str
    branch: str
    revert_sha: str
    tests: tuple[str, ...]
    verified_runs: int
    checked: tuple[str, ...]  # the other tests run on the revert (the selection of its files)
    queued: bool = False


@dataclass(frozen=True, slots=True)
class RecoveryPath:
    """``greenline triage --fix``: each step's answer, and why the path stopped where it did."""

    triage: TriageReport
    culprit: CulpritReport | None = None
    revert: RevertReport | None = None
    stopped: str = ""


@dataclass(frozen=True, slots=True)
class MainHealth:
    """Why main is red (or that it is not): the red streak, the triage of its newest run and
    what a culprit search of it found."""

    branch: str
    newest_run: int | None
    green: bool
    red_runs: int = 0
    red_since: str | None = None  # when the streak's first red run started (ISO)
    last_green_run: int | None = None
    triage: TriageReport | None = None
    culprit: str | None = None  # the culprit a search of the newest red run named
    culprit_status: str | None = None  # that search's answer, None before any
