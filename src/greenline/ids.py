"""Test ids and commit ids as plain strings: pytest node ids, or ``classname::name`` from JUnit
XML; commits by their full git object id. Also the caps on what one test may bring in."""

from __future__ import annotations

import re

SEPARATOR = "::"
#: A test id longer than this is refused (import) or not recorded (pytest): real ids are far
#: shorter, and every listing, history and selection query carries each id around.
MAX_TEST_ID_CHARS = 4096
#: A stored failure message is cut to this many characters, with a marker saying so.
MAX_MESSAGE_CHARS = 4000
#: git names commits by SHA-1 (40 hex digits) or SHA-256 (64) object ids.
OBJECT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def make_junit_test_id(classname: str, name: str) -> str:
    """The test id of a JUnit ``<testcase>``: ``classname::name`` (``name`` without a class)."""
    classname = classname.strip()
    name = name.strip()
    return f"{classname}{SEPARATOR}{name}" if classname else name


def is_object_id(value: object) -> bool:
    """True for a full lowercase git object id; refs (``HEAD``, ``main``) and short shas are
    not commits until they are resolved, in the repository they belong to."""
    return isinstance(value, str) and OBJECT_ID.fullmatch(value) is not None


def test_id_problem(test_id: str) -> str | None:
    """Why ``test_id`` cannot be stored (None when it can)."""
    if len(test_id) > MAX_TEST_ID_CHARS:
        return (
            f"a test id of {len(test_id)} characters (starting {test_id[:60]!r}) is longer "
            f"than the cap of {MAX_TEST_ID_CHARS}"
        )
    return None


def clip_message(message: str | None, limit: int | None = None) -> str | None:
    """``message`` cut to at most ``limit`` characters (default MAX_MESSAGE_CHARS), ending in a
    marker that says it was cut and how long it was."""
    cap = MAX_MESSAGE_CHARS if limit is None else limit
    if message is None or len(message) <= cap:
        return message
    marker = f"… [cut: {len(message)} characters]"
    return message[: max(cap - len(marker), 0)] + marker
