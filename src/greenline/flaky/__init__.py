"""Flaky tests: which tests lie, why, and what would fix them."""

from __future__ import annotations

from greenline.flaky.causes import guess_category
from greenline.flaky.passive import detect_flaky, judge

__all__ = ["detect_flaky", "guess_category", "judge"]
