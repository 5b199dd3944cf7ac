"""Failure signatures: a failure message with what differs between occurrences of one cause
masked (numbers, hex, paths, addresses, quoted values), so that one cause across many tests or
runs reads as one cluster."""

from __future__ import annotations

import re

MAX_SIGNATURE = 160

_MASKS = (
    (re.compile(r"0x[0-9a-fA-F]+"), "<addr>"),
    (re.compile(r"\b[0-9a-fA-F]{7,64}\b(?=[^0-9a-fA-F]|$)"), "<hex>"),
    (re.compile(r"(?:[A-Za-z]:)?(?:[\w.~-]*[/\\])+[\w.-]+"), "<path>"),
    (re.compile(r"\b\d+(?:\.\d+)?(?:e[-+]?\d+)?\b"), "<n>"),
    (re.compile(r"'[^']{0,80}'|\"[^\"]{0,80}\""), "<str>"),
    (re.compile(r"\s+"), " "),
)


def failure_signature(message: str | None) -> str:
    """The masked first meaningful line of a failure message ('' for none)."""
    if not message:
        return ""
    line = _first_line(message)
    for pattern, mask in _MASKS:
        line = pattern.sub(mask, line)
    return line.strip()[:MAX_SIGNATURE]


def _first_line(message: str) -> str:
    """The line that names the error: an ``E   `` line of pytest's report, an exception line,
    or else the first non-empty line."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("E "):
            return line[1:].strip()
    for line in lines:
        if re.match(r"^[\w.]*(Error|Exception|Failed|Interrupt)\b", line):
            return line
    return lines[0] if lines else ""
