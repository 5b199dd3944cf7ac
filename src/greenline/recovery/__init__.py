"""Failure recovery (pure): failure signatures, triage of a red run's failing tests, and the
flake-aware culprit search that says which commits to probe next and when it knows."""

from __future__ import annotations

from greenline.recovery.culprit import CulpritSearch
from greenline.recovery.signatures import failure_signature
from greenline.recovery.triage import TriageInput, triage_failures

__all__ = ["CulpritSearch", "TriageInput", "failure_signature", "triage_failures"]
