"""Triage on literal inputs: every verdict, the order of the checks, and signatures that make
one cause across many tests read as one cluster."""

from __future__ import annotations

from greenline.model import Outcome, Phase, TestResult
from greenline.model.recovery import TriageKind
from greenline.recovery import TriageInput, failure_signature, triage_failures


def failed(test_id: str, message: str, phase: Phase = Phase.CALL) -> TestResult:
    return TestResult(test_id, Outcome.FAILED, 0.1, phase, message)


def kinds(data: TriageInput) -> dict[str, TriageKind]:
    return {v.test_id: v.kind for v in triage_failures(data)}


def test_signatures_mask_what_differs_between_occurrences() -> None:
    a = failure_signature("E   AssertionError: assert 41 == 42\nmore")
    b = failure_signature("E   AssertionError: assert 7 == 8")
    assert a == b == "AssertionError: assert <n> == <n>"
    paths = failure_signature("FileNotFoundError: /tmp/pytest-12/abc/data.json missing")
    assert paths == "FileNotFoundError: <path> missing"
    assert failure_signature("at 0x7f3a2b1c object deadbeefcafe") == "at <addr> object <hex>"
    assert failure_signature("KeyError: 'user-1234'") == "KeyError: <str>"
    assert failure_signature(None) == ""


def test_every_verdict_on_one_run() -> None:
    data = TriageInput(
        failures=[
            failed("t.py::quarantined", "AssertionError: x"),
            failed("t.py::oom", "worker 'gw1' crashed while running"),
            failed("t.py::collect", "ImportError: cannot import name 'x'", Phase.COLLECT),
            failed("t.py::flaky", "E   TimeoutError: waited 5.0 s"),
            failed("t.py::flaky_new_way", "E   KeyError: 'x'"),
            failed("t.py::old", "E   assert 1 == 2"),
            failed("t.py::retried", "E   assert 3 == 4"),
            failed("t.py::broken", "E   assert 5 == 6"),
            failed("t.py::untouched", "E   assert 5 == 6"),
            failed("t.py::new", "E   assert 5 == 6"),
        ],
        tests_in_run=100,
        quarantined={"t.py::quarantined": "flaky: #12"},
        flaky={
            "t.py::flaky": frozenset({"TimeoutError: waited <n> s"}),
            "t.py::flaky_new_way": frozenset({"TimeoutError: waited <n> s"}),
        },
        before={"t.py::old": "assert <n> == <n>"},
        passed_same_commit=frozenset({"t.py::retried"}),
        passed_last_green=frozenset(
            {"t.py::broken", "t.py::untouched", "t.py::flaky_new_way", "t.py::retried"}
        ),
        last_green_label="run 7 at abc",
        touched={"t.py::broken": ["src/calc.py"], "t.py::flaky_new_way": ["src/x.py"]},
    )
    assert kinds(data) == {
        "t.py::quarantined": TriageKind.QUARANTINED,
        "t.py::oom": TriageKind.INFRA,
        "t.py::collect": TriageKind.SETUP,
        "t.py::flaky": TriageKind.FLAKY,
        # a known flaky test failing another way is judged on its own: the change touched it
        "t.py::flaky_new_way": TriageKind.REGRESSION,
        "t.py::old": TriageKind.ALREADY_FAILING,
        "t.py::retried": TriageKind.SUSPECT_FLAKY,
        "t.py::broken": TriageKind.REGRESSION,
        "t.py::untouched": TriageKind.UNKNOWN,
        "t.py::new": TriageKind.UNKNOWN,
    }
    broken = next(v for v in triage_failures(data) if v.test_id == "t.py::broken")
    assert broken.touched == ("src/calc.py",) and "run 7 at abc" in broken.reason


def test_most_of_the_suite_failing_one_way_is_infra() -> None:
    message = "E   OSError: [Errno 28] out of room at /var/tmp/x"
    failures = [failed(f"t.py::t{i}", "E   sqlite3.OperationalError: locked") for i in range(8)]
    data = TriageInput(failures=failures, tests_in_run=10)
    assert set(kinds(data).values()) == {TriageKind.INFRA}
    assert kinds(TriageInput([failed("t.py::a", message)], 10)) == {"t.py::a": TriageKind.INFRA}
    few = TriageInput(failures=failures[:3], tests_in_run=10)
    assert set(kinds(few).values()) == {TriageKind.UNKNOWN}, "three tests are not the suite"


def test_verdicts_come_grouped_by_kind_then_signature() -> None:
    data = TriageInput(
        failures=[failed("t.py::b", "E   assert 1 == 2"), failed("t.py::a", "E   KeyError: 'k'")],
        tests_in_run=2,
        quarantined={"t.py::b": "known"},
    )
    assert [v.test_id for v in triage_failures(data)] == ["t.py::a", "t.py::b"]
