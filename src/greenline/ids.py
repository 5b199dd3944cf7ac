"""Test ids as plain strings: pytest node ids, or ``classname::name`` from JUnit XML."""

from __future__ import annotations

SEPARATOR = "::"


def make_junit_test_id(classname: str, name: str) -> str:
    """The test id of a JUnit ``<testcase>``: ``classname::name`` (``name`` without a class)."""
    classname = classname.strip()
    name = name.strip()
    return f"{classname}{SEPARATOR}{name}" if classname else name


def file_of_test_id(test_id: str) -> str | None:
    """The file a pytest node id lives in (``tests/test_a.py::test_x`` -> ``tests/test_a.py``)."""
    head = test_id.split(SEPARATOR, 1)[0]
    return head if head.endswith(".py") else None


def is_pytest_node_id(test_id: str) -> bool:
    """True when the id names a file, as pytest node ids do."""
    return file_of_test_id(test_id) is not None
