"""``python -m greenline`` runs the CLI."""

from __future__ import annotations

from greenline.cli.main import entry_point

entry_point()
