"""The pytest entry point: adds greenline's options and loads the recorder only when asked.

This module is imported by every pytest run in an environment where greenline is installed, so it
imports nothing heavy: the store, SQLAlchemy and the tracer load only under --greenline-record.
"""

from __future__ import annotations

import pytest

TRACERS = ("sys.monitoring", "c-profile", "python-profile")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("greenline", "greenline: record, select and de-flake tests")
    group.addoption(
        "--greenline-record",
        action="store_true",
        default=False,
        help="record outcomes, durations and per-test function-level coverage in greenline's store",
    )
    group.addoption(
        "--greenline-db",
        metavar="URL",
        default=None,
        help="store URL (default: GREENLINE_DATABASE_URL, [tool.greenline] database_url, "
        "or sqlite:///<repo>/.greenline/greenline.db)",
    )
    group.addoption(
        "--greenline-tracer",
        choices=TRACERS,
        default=None,
        help="force a coverage tracer (default: the fastest available)",
    )


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("greenline_record"):
        from greenline.pytest_plugin.recorder import register_recorder

        register_recorder(config)
