"""The ``greenline`` entry point: answers ``--version`` before importing anything heavy.

Everything else goes through ``greenline.cli.guard`` (the Typer app and the one error path),
so Typer, rich, SQLAlchemy and the api load only when a command runs, and each only if that
command needs it. If they cannot load (a package greenline depends on is broken, say because
it is under development in the same environment), ``select`` fails open: no selection, so
everything runs, and one line says why.
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
    try:
        from greenline.cli.guard import run_guarded
    except Exception as exc:  # whatever a broken dependency raises
        return cannot_start(args, exc)
    try:
        return run_guarded(args)
    except Exception as exc:  # a dependency loaded on use (rich, to print an error) is broken
        return cannot_start(args, exc)


def cannot_start(args: list[str], exc: BaseException) -> int:
    """greenline's own code cannot load: ``select`` answers "run everything" (its empty
    answer, exit 0), every other command stops with one line and exit 3."""
    why = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
    hint = "Hint: a package greenline depends on is broken or half-installed: pip check"
    command = next((a for a in args if not a.startswith("-")), "")
    if command == "select":
        sys.stderr.write(f"greenline: running every test: greenline cannot load ({why})\n{hint}\n")
        if _wants_json(args):
            import json  # only this answer needs it: the CLI proper has its own

            full = {"kind": "full-suite", "detail": f"greenline cannot load ({why})"}
            doc = {"schema": "greenline.selection/1", "full_suite": full, "selected": []}
            sys.stdout.write(json.dumps(doc) + "\n")
        return 0
    sys.stderr.write(f"greenline: error: greenline cannot load: {why}\n{hint}\n")
    return 3


def _wants_json(args: list[str]) -> bool:
    pairs = zip(args, [*args[1:], ""], strict=True)
    return "--format=json" in args or any(a in ("-f", "--format") and b == "json" for a, b in pairs)


def entry_point() -> None:
    sys.exit(run_cli())
