"""Test ids as plain strings: pytest node ids, or ``classname::name`` from JUnit XML."""

from __future__ import annotations

SEPARATOR = "::"


def make_junit_test_id(classname: str, name: str) -> str:
    """The test id of a JUnit ``<testcase>``: ``classname::name`` (``name`` without a class)."""
    classname = classname.strip()
    name = name.strip()
    return f"{classname}{SEPARATOR}{name}" if classname else name
