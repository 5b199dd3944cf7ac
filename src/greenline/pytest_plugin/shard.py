"""Sharding under pytest: ``--greenline-shard I/N`` keeps the collected tests the plan gives
shard I (0-based) of N and deselects the rest.

It runs after selection (``--greenline-select``: the shards split what was selected) and in
every xdist worker (each computes the same plan, as every shard of a CI job does). The plan
comes from a plan file (``greenline run --shards``), or the store: the one stored under the CI
run's key, else a new one from recorded durations (stored under that key). Without a store
every shard splits the collected tests alike by count. Greenline's own trouble with a store
that is there fails open the only safe way: this shard runs every test, and says so.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from greenline.errors import GreenlineError, NoDataError, UsageError
from greenline.model.shards import ShardPlan, decode_plan
from greenline.selection.ci_shards import ShardSpec, parse_shard, plan_key_from_ci, shard_from_ci
from greenline.selection.split import split_tests

AUTO = "ci"


def resolve_spec(text: str) -> ShardSpec:
    """``I/N`` from the flag, or (``ci``) from the CI's variables."""
    if text != AUTO:
        return parse_shard(text, "--greenline-shard")
    spec = shard_from_ci(os.environ)
    if spec is None:
        raise UsageError(
            "--greenline-shard: no shard given and no CI shard variables set",
            hint="--greenline-shard 0/4, or set GREENLINE_SHARD_INDEX and GREENLINE_SHARD_TOTAL",
        )
    return spec


class ShardPlugin:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        try:
            self.spec = resolve_spec(config.getoption("greenline_shard"))
        except GreenlineError as exc:
            raise pytest.UsageError(f"greenline: {exc}") from None
        self.key: str | None = config.getoption("greenline_shard_key") or plan_key_from_ci(
            os.environ
        )
        self.plan_file: str | None = config.getoption("greenline_shard_plan")
        self.note = ""
        self.planned = False

    def _plan(self, test_ids: list[str]) -> ShardPlan | None:
        """The plan, or None when this shard must run everything (greenline's trouble)."""
        if self.plan_file:
            try:
                return decode_plan(Path(self.plan_file).read_text(encoding="utf-8"))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise pytest.UsageError(
                    f"greenline: --greenline-shard-plan {self.plan_file}: cannot read it ({exc})"
                ) from None
        try:
            from greenline.api import Greenline  # the store loads only when sharding

            with Greenline.open(
                self.config.rootpath, db=self.config.getoption("greenline_db"), create=False
            ) as gl:
                return gl.split.plan(self.spec.total, test_ids=test_ids, key=self.key)
        except NoDataError:  # no store: every shard splits the same way, by count
            return split_tests(dict.fromkeys(test_ids), self.spec.total)
        except UsageError as exc:
            raise pytest.UsageError(f"greenline: {exc}") from None
        except GreenlineError as exc:
            self.note = f"greenline: shard {self.spec} runs every test: {exc.message}"
        except Exception as exc:  # our own bug must never cost the user a test
            self.note = f"greenline: shard {self.spec} runs every test: sharding failed ({exc!r})"
        return None

    @pytest.hookimpl(wrapper=True)
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> Generator[None, None, None]:
        yield  # after every other plugin's choice (selection deselects first)
        plan = self._plan([item.nodeid for item in items])
        if plan is None:
            return
        mine = [item for item in items if plan.shard_of(item.nodeid) == self.spec.index]
        rest = [item for item in items if plan.shard_of(item.nodeid) != self.spec.index]
        if rest:
            config.hook.pytest_deselected(items=rest)
        items[:] = mine
        self.planned = True
        predicted = plan.loads[self.spec.index] if self.spec.index < len(plan.loads) else 0.0
        source = "a plan file" if self.plan_file else f"plan {plan.key}" if plan.key else "a plan"
        self.note = (
            f"greenline: shard {self.spec} runs {len(mine)} of {len(mine) + len(rest)} tests "
            f"(predicted {predicted:.1f}s, from {source}; shard from {self.spec.source})"
        )

    def pytest_report_collectionfinish(self) -> str | None:
        return self.note or None

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        # A shard the plan left empty succeeded: the other shards ran the tests.
        if self.planned and exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
            session.exitstatus = pytest.ExitCode.OK

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if hasattr(self.config, "workerinput") or not self.note:
            return
        if self.note and not self.planned:
            terminalreporter.write_line(self.note, yellow=True)
