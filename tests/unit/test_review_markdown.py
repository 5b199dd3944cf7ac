"""The review digest's markdown: outside text stays text, and the comment fits GitHub's limit."""

from __future__ import annotations

import re

from markdown_it import MarkdownIt

from greenline.api.review_markdown import MARKER, code, prose, render_markdown
from greenline.model import Change, FileChange, FileStatus, SelectedTest
from greenline.model.review import BlockChange, ChangedFunction, CodeFinding, ReviewDigest

PAGE = MarkdownIt("commonmark", {"html": True}).enable("table")


def digest(functions: int, tests: int, findings: int = 0) -> ReviewDigest:
    long = "pkg/" + "deep/" * 50
    return ReviewDigest(
        base="a" * 40,
        change=Change("a" * 40, (FileChange(f"{long}m.py", FileStatus.MODIFIED),)),
        baseline_run_id=1,
        baseline_sha="a" * 40,
        functions=tuple(
            ChangedFunction(
                f"{long}m.py",
                f"function_{i}",
                BlockChange.MODIFIED if i % 2 else BlockChange.ADDED,
                tuple(f"tests/test_m.py::test_{i}_{j}" for j in range(tests if i % 2 else 0)),
            )
            for i in range(functions)
        ),
        likely=tuple(SelectedTest(f"tests/test_m.py::test_{i}", (), 0.1, 0.5) for i in range(50)),
        selected_tests=50,
        baseline_tests=9000,
        full_suite=None,
        ranker="heuristic",
        flaky=(),
        findings=tuple(
            CodeFinding(
                "github-code-quality",
                "o/r",
                i,
                "open",
                "py/x",
                "X",
                "note",
                "none",
                f"{long}m.py",
                i,
                i,
                "m" * 2000,
                None,
                None,
            )
            for i in range(findings)
        ),
    )


def test_a_huge_digest_fits_a_comment_and_says_what_it_left_out() -> None:
    body = render_markdown(digest(functions=20_000, tests=40, findings=5_000))
    assert len(body) <= 60_000
    assert body.startswith(MARKER + "\n")
    assert "20000 changed functions" in body and "**10000 that no test runs**" in body
    assert "more functions (`greenline review` lists all)" in body
    assert "more findings" in body
    assert re.search(r": 40 tests: `[^`]+`(, `[^`]+`)* and \d+ more\n", body)  # one's tests, cut
    small = render_markdown(digest(functions=3, tests=2))
    assert "more" not in small and len(small) < 3_000
    tiny = render_markdown(digest(functions=20_000, tests=40), max_chars=2_000)
    assert len(tiny) <= 2_000 and tiny.startswith(MARKER)


def test_code_spans_hold_any_text() -> None:
    assert code("a`b") == "``a`b``"
    assert code("`edge`") == "`` `edge` ``"
    assert code("") == "` `"
    assert code("x" * 400).endswith("…`") and len(code("x" * 400)) == 302
    assert "\n" not in code("line one\nline two\r\n# heading")
    assert code("<!-- greenline:review -->") != "`<!-- greenline:review -->`"
    assert code("\x1b[31mred\u202e") == "`\\u001b[31mred\\u202e`"
    for hostile in ("`` <b>x</b> ``", "[a](javascript:alert(1))", "![i](x)", "| a | b |"):
        page = PAGE.render(f"- {code(hostile)}\n")
        assert "<b>" not in page and "<a " not in page and "<img" not in page
        assert page.count("<code>") == 1


def test_prose_is_escaped() -> None:
    page = PAGE.render(prose("*bold* <script>x</script> [l](u) # h @team #12"))
    assert "<em>" not in page and "<script>" not in page and "<a " not in page
    assert "@\u2060team" in page
