"""Greenline: record, select, de-flake and gate tests so CI keeps pace with the changes."""

from __future__ import annotations

__version__ = "0.1.0"
