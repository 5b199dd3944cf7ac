"""The ``greenline`` entry point: answers ``--version`` before importing anything heavy.

Everything else goes through ``greenline.cli.guard`` (the Typer app and the one error path),
so Typer, rich, SQLAlchemy and the api load only when a command runs.
"""

from __future__ import annotations

import sys

from greenline import __version__


def run_cli(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (the console script exits with it)."""
    args = sys.argv[1:] if argv is None else argv
    if args == ["--version"]:  # scripts and tool managers ask this often
        sys.stdout.write(f"greenline {__version__}\n")
        return 0
    from greenline.cli.guard import run_guarded

    return run_guarded(args)


def entry_point() -> None:
    sys.exit(run_cli())
