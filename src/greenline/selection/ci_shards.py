"""Which shard this CI job is, and the key its run's plan is stored under, read from the CI's
own variables (passed in as a mapping: nothing here reads the environment itself).

Indexes are 0-based everywhere in greenline (``--index 0`` is the first shard); GitLab's
``CI_NODE_INDEX`` counts from 1 and is converted. GitHub Actions has no variables of its own
for a matrix: set ``GREENLINE_SHARD_INDEX`` and ``GREENLINE_SHARD_TOTAL`` from it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from greenline.errors import UsageError


@dataclass(frozen=True, slots=True)
class ShardSpec:
    """Shard ``index`` (0-based) of ``total``, and where those numbers came from."""

    index: int
    total: int
    source: str

    def __str__(self) -> str:
        return f"{self.index}/{self.total}"


#: (index variable, total variable, offset of the index, name): the first pair set wins
CI_VARIABLES = (
    ("GREENLINE_SHARD_INDEX", "GREENLINE_SHARD_TOTAL", 0, "GREENLINE_SHARD_INDEX/TOTAL"),
    ("CIRCLE_NODE_INDEX", "CIRCLE_NODE_TOTAL", 0, "CircleCI's CIRCLE_NODE_INDEX/TOTAL"),
    ("CI_NODE_INDEX", "CI_NODE_TOTAL", 1, "GitLab's CI_NODE_INDEX/TOTAL (1-based)"),
    (
        "BUILDKITE_PARALLEL_JOB",
        "BUILDKITE_PARALLEL_JOB_COUNT",
        0,
        "Buildkite's BUILDKITE_PARALLEL_JOB(_COUNT)",
    ),
)
_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
#: GitLab names the jobs of ``parallel: N`` "test 1/4", "test 2/4", ...
_GITLAB_SUFFIX = re.compile(r"\s+\d+/\d+$")


def parse_shard(text: str, where: str) -> ShardSpec:
    """``I/N`` (0-based I) from a flag."""
    match = _SPEC.match(text)
    if match is None:
        raise UsageError(
            f"{where} {text!r}: expected INDEX/TOTAL", hint=f"{where} 0/4 (the first of four)"
        )
    return check_shard(int(match.group(1)), int(match.group(2)), where)


def check_shard(index: int, total: int, where: str) -> ShardSpec:
    if total < 1:
        raise UsageError(f"{where}: {total} shards: need at least 1", hint=f"{where} 0/2")
    if not 0 <= index < total:
        raise UsageError(
            f"{where}: shard index {index} is outside 0..{total - 1} (indexes are 0-based)",
            hint=f"the first of {total} shards is 0, the last {total - 1}",
        )
    return ShardSpec(index, total, where)


def shard_from_ci(env: Mapping[str, str]) -> ShardSpec | None:
    """The shard the CI's variables name, if any pair of them is set."""
    for index_name, total_name, offset, source in CI_VARIABLES:
        index_text, total_text = env.get(index_name, ""), env.get(total_name, "")
        if not index_text and not total_text:
            continue
        if not (index_text.strip().isdigit() and total_text.strip().isdigit()):
            raise UsageError(
                f"{index_name}={index_text!r} {total_name}={total_text!r}: not two whole numbers",
                hint=f"set both {index_name} and {total_name}, or pass --index and --shards",
            )
        return check_shard(int(index_text) - offset, int(total_text), source)
    return None


def plan_key_from_ci(env: Mapping[str, str]) -> str | None:
    """What names this CI run (the same for every shard of it and for a retried shard), so the
    plan is stored once and read back; None outside CI."""
    explicit = env.get("GREENLINE_SHARD_KEY", "").strip()
    if explicit:
        return explicit
    if env.get("GITHUB_RUN_ID"):
        return f"github:{env['GITHUB_RUN_ID']}:{env.get('GITHUB_JOB', '')}"
    workflow = env.get("CIRCLE_WORKFLOW_WORKSPACE_ID") or env.get("CIRCLE_WORKFLOW_ID")
    if workflow:
        return f"circleci:{workflow}:{env.get('CIRCLE_JOB', '')}"
    if env.get("CI_PIPELINE_ID"):
        job = _GITLAB_SUFFIX.sub("", env.get("CI_JOB_NAME", ""))
        return f"gitlab:{env['CI_PIPELINE_ID']}:{job}"
    if env.get("BUILDKITE_BUILD_ID"):
        return f"buildkite:{env['BUILDKITE_BUILD_ID']}:{env.get('BUILDKITE_STEP_ID', '')}"
    return None
