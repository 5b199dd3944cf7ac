"""``python -m greenline.web [--host 127.0.0.1] [--port 8787] [--db URL] [--repo PATH]
[--workers N]``: run the team server with uvicorn (``greenline serve`` hands over to this)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from greenline.api import Greenline

if TYPE_CHECKING:
    from fastapi import FastAPI
from greenline.errors import GreenlineError, UsageError

#: where a worker process finds the repository and store it serves (uvicorn starts workers
#: from an import string, so they read these instead of arguments)
REPO_ENV = "GREENLINE_SERVE_REPO"
DB_ENV = "GREENLINE_SERVE_DB"


def app_from_env() -> FastAPI:
    """The application for this process (uvicorn's factory), from what ``main`` put in the
    environment."""
    from greenline.web.app import create_app

    repo = os.environ.get(REPO_ENV)
    db = os.environ.get(DB_ENV) or None
    return create_app(lambda: Greenline.open(Path(repo) if repo else None, db=db))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="greenline serve", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--db", metavar="URL", help="store URL (PostgreSQL for a team)")
    parser.add_argument("--repo", type=Path, help="repository (default: current directory)")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        if not 0 < args.port < 65536 or not 1 <= args.workers <= 64:
            raise UsageError(
                f"--port {args.port} / --workers {args.workers}: out of range",
                hint="--port 8787 --workers 2",
            )
        with Greenline.open(args.repo, db=args.db):  # fail now, with one line, if it cannot
            pass
        import uvicorn
    except GreenlineError as exc:
        print(f"greenline: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except ImportError:
        print("greenline: error: the server needs the web extra", file=sys.stderr)
        print("Hint: pip install 'greenline[web]'", file=sys.stderr)
        return 4
    os.environ[REPO_ENV] = str(args.repo.resolve()) if args.repo else str(Path.cwd())
    os.environ[DB_ENV] = args.db or ""
    uvicorn.run(
        "greenline.web.__main__:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="info",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
