"""Last checks on results before they are stored, whichever reader or process produced them."""

from __future__ import annotations

import math
from collections.abc import Sequence

from greenline.errors import InputError
from greenline.ids import test_id_problem
from greenline.model import TestResult


def check_results(batch: Sequence[TestResult]) -> None:
    """Refuse what no reader should have let through: an id over the cap (every listing would
    carry it) or a duration that is not a finite number of seconds (JSON cannot hold it)."""
    for r in batch:
        problem = test_id_problem(r.test_id)
        if problem is None and not (math.isfinite(r.duration) and r.duration >= 0):
            problem = f"test {r.test_id[:200]!r} has duration {r.duration!r}"
        if problem is not None:
            raise InputError(
                f"not stored: {problem}", hint="fix the report or plugin that produced it"
            )
