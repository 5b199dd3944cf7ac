"""MCP answers within their bound: a page of the main list, the rest cut largest first, every
cut named; on documents far over the bound, of every shape the tools answer with."""

from __future__ import annotations

import json
from typing import Any

from greenline import views
from greenline.mcp.bounds import BUDGET, SHORTEST_TEXT, answer, fit
from greenline.model.recovery import RevertReport


def loaded(doc: dict[str, Any], **kw: Any) -> dict[str, Any]:
    result = answer(doc, **kw)
    text = result.content[0].text  # type: ignore[union-attr]
    assert len(text.encode()) <= kw.get("budget", BUDGET)
    assert json.loads(text) == result.structured_content
    out: dict[str, Any] = json.loads(text)
    return out


def test_a_document_that_fits_is_left_as_it_is() -> None:
    doc = {"schema": "greenline.x/1", "tests": ["a", "b"], "message": "m" * 500}
    assert loaded(dict(doc)) == doc
    page = loaded(dict(doc), main="tests", offset=0, limit=10)
    assert page == {**doc, **views.page_fields(2, 2, 0)}
    assert page["truncated"] is False and page["next_offset"] is None


def test_the_main_list_is_paged_and_the_others_cut_to_fit() -> None:
    doc = {
        "selected": [
            {"test_id": f"tests/test_x.py::test_{i}", "why": "x" * 80} for i in range(900)
        ],
        "over_budget": [f"tests/test_y.py::test_{i}" for i in range(20_000)],
    }
    page = loaded(doc, main="selected", offset=100, limit=200)
    assert page["total"] == 900 and page["offset"] == 100
    assert page["selected"][0]["test_id"] == "tests/test_x.py::test_100"
    assert page["next_offset"] == 100 + page["returned"]
    assert page["returned"] == len(page["selected"]) <= 200
    assert page["omitted"]["over_budget"] + len(page["over_budget"]) == 20_000
    assert page["truncated"] is True


def test_the_last_page_says_there_is_no_next() -> None:
    page = loaded({"runs": list(range(30))}, main="runs", offset=25, limit=10)
    assert (page["runs"], page["returned"], page["next_offset"]) == ([25, 26, 27, 28, 29], 5, None)
    beyond = loaded({"runs": list(range(30))}, main="runs", offset=99, limit=10)
    assert (beyond["runs"], beyond["returned"], beyond["total"]) == ([], 0, 30)


def test_a_long_text_is_cut_and_says_how_much() -> None:
    diff = "+" + "line of a patch\n" * 10_000
    page = loaded({"patch": {"path": "a.py", "diff": diff}, "fixed": True})
    kept = page["patch"]["diff"]
    assert kept.endswith("…") and diff.startswith(kept[:-1])
    assert page["omitted"] == {"patch.diff": len(diff) - (len(kept) - 1)}


def test_nested_lists_are_cut_where_they_weigh() -> None:
    evidence = [{"detail": "e" * 100, "run_ids": [1, 2]}] * 400
    page = loaded({"tests": [{"test_id": "t", "evidence": evidence}]}, main="tests", limit=50)
    assert page["total"] == page["returned"] == 1
    left = page["omitted"]["tests[0].evidence"]
    assert 0 < left < 400 and len(page["tests"][0]["evidence"]) == 400 - left


def test_a_revert_of_many_tests_fits() -> None:
    report = RevertReport(
        commit="a" * 40,
        branch="greenline/revert-aaaaaaaaaa",
        revert_sha="b" * 40,
        tests=tuple(f"tests/test_m{i}.py::test_case[{i}]" for i in range(5000)),
        verified_runs=3,
        checked=tuple(f"tests/test_c{i}.py::test_other" for i in range(5000)),
    )
    page = loaded(views.revert_document(report))
    assert page["revert_commit"] == "b" * 40 and page["truncated"] is True
    assert page["omitted"]["tests"] + len(page["tests"]) == 5000
    assert page["omitted"]["checked_tests"] + len(page["checked_tests"]) == 5000
    assert len(page["tests"]) > 100 and len(page["checked_tests"]) > 100, "both lists kept alike"


def test_what_cannot_be_cut_is_left_and_the_loop_ends() -> None:
    many = {f"key{i}": i for i in range(5000)}  # no list, no long text: nothing to cut
    assert fit(dict(many), 1000) == many
    short = {"texts": ["s" * SHORTEST_TEXT]}
    assert fit(short, 10) == short


def test_non_finite_numbers_answer_as_null() -> None:
    page = loaded({"duration": float("inf"), "results": [{"d": float("nan")}]})
    assert page == {"duration": None, "results": [{"d": None}]}
