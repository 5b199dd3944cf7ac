"""A review digest as GitHub-flavoured markdown, for a pull-request comment or a job summary.

Everything from outside (test ids, paths, function names, rule ids, finding messages) is shown
as text: in a code span whose fence is longer than any run of backticks in it, on one line, so
it can open no link, image, mention, HTML or new block; prose around it is escaped. The comment
opens with a hidden marker line (``MARKER``) by which the server finds its own comment to
update; it appears nowhere else. The whole stays under GitHub's comment limit (65,536
characters): each section lists so many rows and says how many more there are.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from greenline.model.review import ChangedFunction, ReviewDigest

MARKER = "<!-- greenline:review -->"
#: GitHub refuses a comment body longer than 65,536 characters; some room is left for the
#: server's own lines
MAX_CHARS = 60_000
#: the longest piece of outside text shown (an id or a message); the rest is cut with "…"
MAX_TEXT = 300
_PROSE_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")
#: control characters and the bidirectional overrides that make text read otherwise than it is:
#: written out as escapes (as the CLI's consoles do), never sent as they are
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _one_line(value: str, limit: int) -> str:
    text = _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", " ".join(value.split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def code(value: str, limit: int = MAX_TEXT) -> str:
    """``value`` as an inline code span: one line, at most ``limit`` characters."""
    # "<!--" is broken up: the marker line stays the server's alone
    text = _one_line(value, limit).replace("<!--", "<!\u200b--")
    if not text:
        return "` `"
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith(("`", " ")) or text.endswith(("`", " ")) else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def prose(value: str, limit: int = MAX_TEXT) -> str:
    """Outside text in a sentence: no markup, no HTML, no mention or issue reference."""
    text = _PROSE_SPECIALS.sub(r"\\\1", html.escape(_one_line(value, limit), quote=False))
    return text.replace("@", "@\u2060")  # a word joiner: "@team" mentions nobody


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


@dataclass(frozen=True)
class _Caps:
    functions: int = 60
    tests_per_function: int = 5
    likely: int = 10
    flaky: int = 25
    findings: int = 40

    def scaled(self, share: float) -> _Caps:
        return _Caps(
            *(max(1, int(getattr(self, name) * share)) for name in self.__dataclass_fields__)
        )


def _more(shown: int, total: int, what: str) -> list[str]:
    return (
        [f"- … and {total - shown} more {what} (`greenline review` lists all)"]
        if total > shown
        else []
    )


def _function(f: ChangedFunction) -> str:
    return f"{code(f.path)} {code(f.name)} ({f.status.value})"


def _summary(d: ReviewDigest) -> list[str]:
    parts = [
        _plural(len(d.change.files), "changed file"),
        _plural(len(d.functions), "changed function"),
    ]
    if d.baseline_run_id is not None:
        parts.append(f"**{len(d.untested)} that no test runs**")
        if d.full_suite is None:
            parts.append(f"{d.selected_tests} of {d.baseline_tests} tests selected")
    parts.append(_plural(len(d.flaky), "flaky test") + " in its path")
    parts.append(_plural(len(d.findings), "open code-quality finding"))
    head = f"Change since {code(d.base[:12])}: " + ", ".join(parts) + "."
    lines = [head]
    if d.full_suite is not None:
        lines += ["", f"Every test should run: {prose(d.full_suite.detail)}."]
    lines += [f"> {prose(note, 600)}" for note in d.notes]
    return lines


def _sections(d: ReviewDigest, caps: _Caps) -> list[str]:
    out: list[str] = []
    if d.baseline_run_id is not None and d.untested:
        out += ["", "### Changed functions that no test runs", ""]
        out += [f"- {_function(f)}" for f in d.untested[: caps.functions]]
        out += _more(min(caps.functions, len(d.untested)), len(d.untested), "functions")
    tested = [f for f in d.functions if f.tests or f.ran_at_import]
    if tested:
        out += ["", "### Changed functions and the tests that ran them", ""]
        for f in tested[: caps.functions]:
            names = ", ".join(code(t) for t in f.tests[: caps.tests_per_function])
            more = len(f.tests) - caps.tests_per_function
            names += f" and {more} more" if more > 0 else ""
            if f.ran_at_import:
                names = "runs when the module is imported" + (f"; {names}" if f.tests else "")
            out.append(f"- {_function(f)}: {_plural(len(f.tests), 'test')}: {names}")
        out += _more(min(caps.functions, len(tested)), len(tested), "functions")
    if d.likely:
        out += ["", "### Most likely to fail", ""]
        out += [
            f"{i}. **{t.likelihood:.2f}** {code(t.test_id)}"
            for i, t in enumerate(d.likely[: caps.likely], 1)
        ]
    if d.flaky:
        out += ["", "### Flaky tests in the change's path", ""]
        for flaky in d.flaky[: caps.flaky]:
            v = flaky.verdict
            state = "; quarantined" if flaky.quarantined else ""
            out.append(
                f"- {code(v.test_id)}: flaky ({v.category.value}, confidence "
                f"{v.confidence:.2f}, failed {v.failures} of {v.runs} runs{state}): "
                + prose(flaky.why)
            )
        out += _more(min(caps.flaky, len(d.flaky)), len(d.flaky), "flaky tests")
    if d.findings:
        out += ["", "### Open code-quality findings in the changed files", ""]
        for c in d.findings[: caps.findings]:
            where = c.path + (f":{c.start_line}" if c.start_line else "")
            out.append(
                f"- {code(where)} {code(c.rule_id)} ({prose(c.severity, 40)}, "
                f"{prose(c.category, 40)}): {code(c.message or c.rule_title)}"
            )
        out += _more(min(caps.findings, len(d.findings)), len(d.findings), "findings")
    return out


def render_markdown(digest: ReviewDigest, *, max_chars: int = MAX_CHARS) -> str:
    """The digest as markdown of at most ``max_chars`` characters, opening with MARKER."""
    head = [MARKER, "### greenline review", "", *_summary(digest)]
    for share in (1.0, 0.5, 0.25, 0.1, 0.0):
        body = "\n".join([*head, *_sections(digest, _Caps().scaled(share))]) + "\n"
        if len(body) <= max_chars:
            return body
    note = "\n\n(cut to fit a comment: `greenline review` shows it all)\n"
    return body[: max_chars - len(note)].rsplit("\n", 1)[0] + note
