"""Check runs as GitHub takes them: annotations 50 a request with the run completed by the last,
texts cut to 65,535 characters with a note, outside strings shown as plain markdown, test
definitions found for annotations, the selection's report, and webhook signatures."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from greenline.api.github_checks import code, find_definition, plain, selection_report
from greenline.forge.github_auth import mask_tokens
from greenline.forge.github_checks import (
    MAX_OUTPUT_CHARS,
    check_run_requests,
    planned_calls,
    trim,
)
from greenline.forge.github_webhooks import is_signed, sign_body
from greenline.model import Reason, ReasonKind, SelectedTest, SelectionPlan
from greenline.model.forge import Annotation, AnnotationLevel, CheckConclusion, CheckReport

SHA = "a" * 40


def report(count: int, **fields: object) -> CheckReport:
    notes = tuple(
        Annotation("src/x.py", n + 1, n + 1, AnnotationLevel.FAILURE, f"m{n}") for n in range(count)
    )
    base: dict[str, object] = {
        "name": "greenline/flaky",
        "head_sha": SHA,
        "conclusion": CheckConclusion.FAILURE,
        "title": "t",
        "summary": "s",
        "annotations": notes,
    }
    return CheckReport(**{**base, **fields})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("count", "chunks"), [(0, [0]), (1, [1]), (50, [50]), (51, [50, 1]), (120, [50, 50, 20])]
)
def test_annotations_go_at_most_fifty_a_request(count: int, chunks: list[int]) -> None:
    bodies = check_run_requests(report(count))
    assert [len(b["output"]["annotations"]) for b in bodies] == chunks
    assert bodies[0]["name"] == "greenline/flaky" and bodies[0]["head_sha"] == SHA
    assert all("name" not in b for b in bodies[1:])
    # the run stays in progress until its last request completes it
    assert [b.get("status") for b in bodies] == (
        ["completed"]
        if len(chunks) == 1
        else ["in_progress", *[None] * (len(chunks) - 2), "completed"]
    )
    assert bodies[-1]["conclusion"] == "failure"
    sent = [a["message"] for b in bodies for a in b["output"]["annotations"]]
    assert sent == [f"m{n}" for n in range(count)]
    assert all(b["output"]["title"] == "t" and b["output"]["summary"] == "s" for b in bodies)


def test_planned_calls_name_the_run_they_would_create() -> None:
    calls = planned_calls("o/r", report(60))
    assert [(c["method"], c["path"]) for c in calls] == [
        ("POST", "/repos/o/r/check-runs"),
        ("PATCH", "/repos/o/r/check-runs/{check_run_id}"),
    ]


@pytest.mark.parametrize("text", ["x" * 70_000, "é" * 40_000, "日本" * 20_000, "a" * 65_536])
def test_texts_over_the_limit_are_cut_with_a_note(text: str) -> None:
    cut = trim(text)
    assert len(cut.encode()) <= MAX_OUTPUT_CHARS
    head, _, note = cut.partition("\n\n*greenline cut this")
    assert text.startswith(head) and len(head) > 60_000 // len(text[0].encode())
    assert f"{len(text) - len(head):,} more were left out" in note


def test_texts_within_the_limit_and_annotation_fields_are_kept_or_bounded() -> None:
    assert trim("short") == "short"
    assert trim("x" * MAX_OUTPUT_CHARS) == "x" * MAX_OUTPUT_CHARS
    long_title = report(0, title="T" * 300, text="body")
    (body,) = check_run_requests(long_title)
    assert body["output"]["title"] == "T" * 255 and body["output"]["text"] == "body"
    odd = Annotation("a.py", 0, 0, AnnotationLevel.NOTICE, "", title="only a title")
    (body,) = check_run_requests(report(0, annotations=(odd,)))
    (sent,) = body["output"]["annotations"]
    assert (sent["start_line"], sent["end_line"], sent["message"]) == (1, 1, "only a title")


def test_outside_strings_are_plain_markdown() -> None:
    assert plain("<img src=x> *bold* [a](b) | pipe\nnext") == (
        r"\<img src=x\> \*bold\* \[a\]\(b\) \| pipe next"
    )
    assert code("tests/t.py::test[a`b]") == "``tests/t.py::test[a`b]``"
    assert code("`edge`") == "`` `edge` ``"
    assert code("t::a|b", cell=True) == r"`t::a\|b`"


@pytest.mark.parametrize(
    ("test_id", "line"),
    [
        ("tests/t.py::test_top", 1),
        ("tests/t.py::TestBox::test_in_box[1-2]", 5),
        ("tests/t.py::test_async", 8),
        ("tests/t.py::test_missing", None),
        ("tests/t.py", None),
    ],
)
def test_the_definition_of_a_test_is_found(test_id: str, line: int | None) -> None:
    source = (
        "def test_top():\n    pass\n\nclass TestBox:\n    def test_in_box(self, a):\n"
        "        pass\n\nasync def test_async():\n    pass\n"
    )
    assert find_definition(source, test_id) == line


def plan(**fields: object) -> SelectionPlan:
    reason = Reason(ReasonKind.CHANGED_BLOCK, "app.py: mul")
    selected = (SelectedTest("t::a|b", (reason,), 2.0, 0.4),)
    base: dict[str, object] = {
        "baseline_run_id": 7,
        "base": "b" * 40,
        "selected": selected,
        "unaffected": ("t::c", "t::d", "t::e"),
        "suite_duration": 10.0,
    }
    return SelectionPlan(**{**base, **fields})  # type: ignore[arg-type]


def test_the_selection_report_says_how_many_why_and_the_time_saved() -> None:
    made = selection_report(plan(), SHA)
    assert (made.name, made.conclusion) == ("greenline/selection", CheckConclusion.SUCCESS)
    assert made.title == "1 of 4 tests selected; 80% of the suite's time saved"
    assert "**8.0 s saved** (80%)" in made.summary
    assert "| changed-block | 1 |" in made.summary
    assert r"| `t::a\|b` | 40% | 2.0 s | changed\-block: app\.py: mul |" in made.text
    full = selection_report(plan(full_suite=Reason(ReasonKind.FULL_SUITE, "conftest.py <x>")), SHA)
    assert full.conclusion is CheckConclusion.NEUTRAL
    assert r"full-suite: conftest\.py \<x\>" in full.summary


def test_signatures_are_githubs_hmac_of_the_raw_body() -> None:
    body = b'{"zen": "Design for failure."}'
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert sign_body("s3cret", body) == expected
    assert is_signed("s3cret", body, expected)
    assert not is_signed("s3cret", body + b" ", expected)
    assert not is_signed("other", body, expected)
    assert not is_signed("s3cret", body, None)
    assert not is_signed("s3cret", body, expected.replace("sha256=", "sha1="))


def test_github_tokens_are_masked_wherever_they_appear() -> None:
    said = "token ghs_16C7e42F292c6912E7710c838347Ae178B4a and ghp_" + "A" * 36 + " and mine"
    assert mask_tokens(said, ["mine-secret", "mine"]) == "token *** and *** and mine"
    assert mask_tokens("x mine-secret y", ["mine-secret"]) == "x *** y"
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiI0MiJ9.c2lnbmF0dXJlLXBhcnQ"
    assert mask_tokens(f"Bearer {jwt}") == "Bearer ***"
