"""The pytest entry point: adds greenline's options and loads the recorder only when asked.

This module is imported by every pytest run in an environment where greenline is installed, so it
imports nothing heavy: the store, SQLAlchemy and the tracer load only under --greenline-record.
"""

from __future__ import annotations

import pytest

TRACERS = ("sys.monitoring", "c-profile", "python-profile")
SELECT_MODES = ("off", "deselect", "reorder", "shadow")
GRANULARITIES = ("function", "branch")  # config.GRANULARITIES, without importing config


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
        "--greenline-server",
        metavar="URL",
        default=None,
        help="use the team server at URL (greenline serve) instead of a local store: "
        "--greenline-record uploads the run to it, --greenline-select plans against its "
        "baseline; the API token comes from GREENLINE_TOKEN",
    )
    group.addoption(
        "--greenline-select",
        choices=SELECT_MODES,
        default="off",
        help="run what the change since the baseline can break: deselect the rest, reorder "
        "(everything, most likely to fail first), shadow (everything, and report failures "
        "selection would have skipped), or off",
    )
    group.addoption(
        "--greenline-select-order",
        choices=("likely-first", "keep"),
        default=None,
        help="with --greenline-select: run the tests most likely to fail first, or keep "
        "pytest's order (for a suite whose tests depend on their order); default: "
        "[tool.greenline] selection_order, or likely-first",
    )
    group.addoption(
        "--greenline-base",
        metavar="REV",
        default=None,
        help="judge the change against the baseline run at this commit (default: the newest "
        "complete run with coverage on HEAD's history)",
    )
    group.addoption(
        "--greenline-budget",
        metavar="LIMIT",
        default=None,
        help="with --greenline-select: keep only what fits, most likely to fail first "
        "(10%% of the suite's time, 90s, 2m)",
    )
    group.addoption(
        "--greenline-confidence",
        metavar="P",
        default=None,
        help="with --greenline-select: keep tests, most likely to fail first, until they hold "
        "this share of the change's estimated failures (0.99)",
    )
    group.addoption(
        "--greenline-quarantine",
        action="store_true",
        default=False,
        help="quarantined tests still run, but their failures do not fail the session "
        "(see greenline flaky quarantine)",
    )
    group.addoption(
        "--greenline-order",
        metavar="SEED",
        type=int,
        default=None,
        help="run the tests in a random order drawn with this seed (greenline flaky scan)",
    )
    group.addoption(
        "--greenline-seed",
        metavar="N",
        type=int,
        default=None,
        help="seed random (and NumPy) with N before every test (greenline flaky scan)",
    )
    group.addoption(
        "--greenline-outcomes",
        metavar="FILE",
        default=None,
        help="append each test's outcome to FILE as a JSON line (greenline flaky scan)",
    )
    group.addoption(
        "--greenline-probe",
        metavar="FILE",
        default=None,
        help="append what each test touched (clock, random, threads, sockets, files) to FILE "
        "(greenline flaky scan)",
    )
    group.addoption(
        "--greenline-state",
        metavar="FILE",
        default=None,
        help="append the project's module-level state each test left changed to FILE "
        "(greenline flaky scan)",
    )
    group.addoption(
        "--greenline-clock",
        metavar="INSTANT",
        default=None,
        help="run every test with the wall clock frozen at this ISO instant (needs "
        "time-machine; greenline flaky scan)",
    )
    group.addoption(
        "--greenline-offline",
        action="store_true",
        default=False,
        help="run every test with the network blocked (greenline flaky scan)",
    )
    group.addoption(
        "--greenline-granularity",
        choices=GRANULARITIES,
        default=None,
        help="with --greenline-record: fingerprint the functions each test ran, or the branches "
        "(bodies of ifs, loops, trys, withs, cases) it entered; default: [tool.greenline] "
        "granularity, or function",
    )
    group.addoption(
        "--greenline-shard",
        metavar="I/N",
        nargs="?",
        const="ci",
        default=None,
        help="run only shard I (0-based) of N, split by recorded durations; without I/N, "
        "from the CI's variables (GREENLINE_SHARD_INDEX/TOTAL, CircleCI, GitLab, Buildkite)",
    )
    group.addoption(
        "--greenline-shard-key",
        metavar="KEY",
        default=None,
        help="with --greenline-shard: store the plan under KEY, or reuse the one stored there "
        "(default: the CI run's id, so a retried shard reruns exactly its tests)",
    )
    group.addoption(
        "--greenline-shard-plan",
        metavar="FILE",
        default=None,
        help="with --greenline-shard: take the plan from FILE (greenline run --shards)",
    )
    group.addoption(
        "--greenline-results",
        metavar="FILE",
        default=None,
        help="write every test's result to FILE as JSON lines (greenline run --shards)",
    )
    group.addoption(
        "--greenline-tracer",
        choices=TRACERS,
        default=None,
        help="force a coverage tracer (default: the fastest available)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """Recording starts before conftest files load: what runs while the project's modules are
    imported is part of what the tests depend on."""
    if getattr(early_config.known_args_namespace, "greenline_record", False):
        from greenline.pytest_plugin.recorder import start_import_recording

        start_import_recording(early_config)


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "greenline_always: greenline's test selection always runs this test"
    )
    if config.getoption("greenline_record"):
        from greenline.pytest_plugin.recorder import register_recorder

        register_recorder(config)
    if config.getoption("greenline_select") != "off":  # xdist workers collect: they select too
        from greenline.pytest_plugin.selector import SelectPlugin

        config.pluginmanager.register(SelectPlugin(config), "greenline-select")
    if config.getoption("greenline_shard") is not None:
        from greenline.pytest_plugin.shard import ShardPlugin

        config.pluginmanager.register(ShardPlugin(config), "greenline-shard")
    results = config.getoption("greenline_results")
    if results and not hasattr(config, "workerinput"):
        from greenline.pytest_plugin.results import ResultsPlugin

        config.pluginmanager.register(ResultsPlugin(config, results), "greenline-results")
    if config.getoption("greenline_quarantine"):
        from greenline.pytest_plugin.quarantine import QuarantinePlugin

        config.pluginmanager.register(QuarantinePlugin(config), "greenline-quarantine")
    seed, outcomes = config.getoption("greenline_order"), config.getoption("greenline_outcomes")
    fixed = config.getoption("greenline_seed")
    if seed is not None or outcomes or fixed is not None:
        from greenline.pytest_plugin.outcomes import OrderPlugin, OutcomesPlugin, SeedPlugin

        if seed is not None:
            config.pluginmanager.register(OrderPlugin(seed), "greenline-order")
        if fixed is not None:
            config.pluginmanager.register(SeedPlugin(fixed), "greenline-seed")
        if outcomes and not hasattr(config, "workerinput"):
            config.pluginmanager.register(OutcomesPlugin(outcomes), "greenline-outcomes")
    probe, state, clock = (
        config.getoption("greenline_probe"),
        config.getoption("greenline_state"),
        config.getoption("greenline_clock"),
    )
    offline = config.getoption("greenline_offline")
    if probe or state or clock or offline:
        from greenline.pytest_plugin.probes import (
            ClockPlugin,
            OfflinePlugin,
            ProbePlugin,
            StatePlugin,
        )

        if probe:
            config.pluginmanager.register(ProbePlugin(probe), "greenline-probe")
        if state:
            config.pluginmanager.register(StatePlugin(state, config.rootpath), "greenline-state")
        if clock:
            config.pluginmanager.register(ClockPlugin(clock), "greenline-clock")
        if offline:
            config.pluginmanager.register(OfflinePlugin(), "greenline-offline")
