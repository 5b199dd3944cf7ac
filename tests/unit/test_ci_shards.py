"""Which shard a CI job is, from each CI's own variables, and the key its run's plan is kept
under (the same for every shard of the run and for a retried one)."""

from __future__ import annotations

import pytest

from greenline.errors import UsageError
from greenline.selection.ci_shards import parse_shard, plan_key_from_ci, shard_from_ci


@pytest.mark.parametrize(
    ("env", "index", "total"),
    [
        ({"GREENLINE_SHARD_INDEX": "2", "GREENLINE_SHARD_TOTAL": "4"}, 2, 4),
        ({"CIRCLE_NODE_INDEX": "0", "CIRCLE_NODE_TOTAL": "3"}, 0, 3),
        ({"CI_NODE_INDEX": "3", "CI_NODE_TOTAL": "3"}, 2, 3),  # GitLab counts from 1
        ({"BUILDKITE_PARALLEL_JOB": "1", "BUILDKITE_PARALLEL_JOB_COUNT": "2"}, 1, 2),
        (
            {"GREENLINE_SHARD_INDEX": "1", "GREENLINE_SHARD_TOTAL": "2", "CI_NODE_INDEX": "1"},
            1,
            2,
        ),
    ],
)
def test_the_shard_comes_from_the_ci_variables(env: dict[str, str], index: int, total: int) -> None:
    spec = shard_from_ci(env)
    assert spec is not None and (spec.index, spec.total) == (index, total)


def test_outside_ci_there_is_no_shard() -> None:
    assert shard_from_ci({"HOME": "/root"}) is None


@pytest.mark.parametrize(
    "env",
    [
        {"CI_NODE_INDEX": "0", "CI_NODE_TOTAL": "2"},  # 0 is not a GitLab index
        {"CIRCLE_NODE_INDEX": "2", "CIRCLE_NODE_TOTAL": "2"},
        {"CIRCLE_NODE_INDEX": "x", "CIRCLE_NODE_TOTAL": "2"},
        {"GREENLINE_SHARD_INDEX": "1"},
    ],
)
def test_bad_ci_variables_are_a_usage_error(env: dict[str, str]) -> None:
    with pytest.raises(UsageError):
        shard_from_ci(env)


def test_a_flag_is_index_over_total() -> None:
    assert (parse_shard("1/3", "--greenline-shard").index, parse_shard(" 1 / 3 ", "x").total) == (
        1,
        3,
    )
    for bad in ("3/3", "1", "a/b", "0/0"):
        with pytest.raises(UsageError):
            parse_shard(bad, "--greenline-shard")


def test_the_plan_key_names_the_ci_run_not_the_attempt() -> None:
    github = {"GITHUB_RUN_ID": "77", "GITHUB_RUN_ATTEMPT": "2", "GITHUB_JOB": "test"}
    assert plan_key_from_ci(github) == "github:77:test"
    assert plan_key_from_ci({"CIRCLE_WORKFLOW_ID": "w", "CIRCLE_JOB": "t"}) == "circleci:w:t"
    gitlab = {"CI_PIPELINE_ID": "9", "CI_JOB_NAME": "test 2/4"}
    assert plan_key_from_ci(gitlab) == "gitlab:9:test"
    assert (
        plan_key_from_ci({"BUILDKITE_BUILD_ID": "b", "BUILDKITE_STEP_ID": "s"}) == "buildkite:b:s"
    )
    assert plan_key_from_ci({"GREENLINE_SHARD_KEY": "mine", "GITHUB_RUN_ID": "1"}) == "mine"
    assert plan_key_from_ci({}) is None
