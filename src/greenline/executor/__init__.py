"""Where commands run: local processes now; a Ray cluster when one is configured."""

from __future__ import annotations

from greenline.executor.local import (
    Background,
    CommandResult,
    is_process_alive,
    run_command,
    run_quiet,
)

__all__ = ["Background", "CommandResult", "is_process_alive", "run_command", "run_quiet"]
