"""``python -m greenline.web [--host 127.0.0.1] [--port 8787] [--db URL] [--repo PATH]
[--workers N] [--public-read]``: run the team server with uvicorn (``greenline serve`` hands
over to this). Each setting comes from its flag, else ``GREENLINE_SERVER_*`` (and
``GREENLINE_DATABASE_URL``), else ``[tool.greenline]`` (``server_host``, ``server_port``,
``server_workers``, ``server_public_read``), else its default."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from greenline.api import Greenline, load_config
from greenline.config import Value
from greenline.errors import GreenlineError, UsageError

if TYPE_CHECKING:
    from fastapi import FastAPI

#: where a worker process finds what it serves (uvicorn starts workers from an import string,
#: so they read these, set from the resolved settings, instead of arguments)
REPO_ENV = "GREENLINE_SERVE_REPO"
DB_ENV = "GREENLINE_SERVE_DB"
PUBLIC_READ_ENV = "GREENLINE_SERVE_PUBLIC_READ"
HOST_ENV = "GREENLINE_SERVE_HOST"


def app_from_env() -> FastAPI:
    """The application for this process (uvicorn's factory), from what ``main`` put in the
    environment."""
    import logging

    from greenline.web.access_log import configure_access_log
    from greenline.web.app import create_app

    # warnings and errors of the libraries as plain lines (the MCP SDK would otherwise set up
    # rich logging at INFO for the whole process); the access log has a handler of its own
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    configure_access_log()
    repo = os.environ.get(REPO_ENV)
    db = os.environ.get(DB_ENV) or None
    return create_app(
        lambda: Greenline.open(Path(repo) if repo else None, db=db),
        public_read=os.environ.get(PUBLIC_READ_ENV) == "1",
        host=os.environ.get(HOST_ENV) or "127.0.0.1",
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="greenline serve", description=__doc__)
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8787)")
    parser.add_argument("--db", metavar="URL", help="store URL (PostgreSQL for a team)")
    parser.add_argument("--repo", type=Path, help="repository (default: current directory)")
    parser.add_argument("--workers", type=int, help="server processes (default 1)")
    parser.add_argument(
        "--public-read",
        action=argparse.BooleanOptionalAction,
        help="answer reads without a token (writes still need a write token)",
    )
    return parser.parse_args(argv)


def resolve_settings(args: argparse.Namespace) -> dict[str, Value]:
    """The server's settings: flags over the environment over the config over defaults."""
    if args.port is not None and not 0 < args.port < 65536:
        raise UsageError(f"--port {args.port}: out of range (1 to 65535)", hint="--port 8787")
    if args.workers is not None and not 1 <= args.workers <= 64:
        raise UsageError(f"--workers {args.workers}: out of range (1 to 64)", hint="--workers 2")
    flags = {
        "server_host": args.host,
        "server_port": args.port,
        "server_workers": args.workers,
        "server_public_read": args.public_read,
    }
    return load_config(args.repo, db=args.db, flags=flags)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = resolve_settings(args)
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
    host, port = settings["server_host"].value, settings["server_port"].value
    public = bool(settings["server_public_read"].value)
    os.environ[REPO_ENV] = str(args.repo.resolve()) if args.repo else str(Path.cwd())
    os.environ[DB_ENV] = args.db or ""
    os.environ[PUBLIC_READ_ENV] = "1" if public else ""
    os.environ[HOST_ENV] = str(host)
    reads = "reads are public" if public else "reads need a read token"
    print(
        f"greenline: serving http://{host}:{port} (store {settings['database_url'].value}; "
        f"{reads}; writes need a write token)",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(
        "greenline.web.__main__:app_from_env",
        factory=True,
        host=str(host),
        port=int(port),
        workers=int(settings["server_workers"].value),
        log_level="info",
        access_log=False,  # the app writes its own, with tokens and secrets masked
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
