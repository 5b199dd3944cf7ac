"""``python -m greenline.mcp [--db URL] [--repo PATH] [--http HOST:PORT]``: run the MCP server.

``greenline mcp`` hands over to this entry point (the CLI and the MCP server are separate
interfaces), and agents' configs may call it directly. ``--list-tools`` prints the server's tools
(``greenline mcp --help`` shows them), read from the server itself so the list cannot go stale.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from greenline.api import Greenline
from greenline.errors import GreenlineError, UsageError
from greenline.mcp.server import build_server


def parse_address(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--http {value!r}: expected HOST:PORT", hint="e.g. --http 127.0.0.1:8765")
    return host, int(port)


def _unopened() -> Greenline:
    raise UsageError("listing tools opens no store")


def list_tools() -> list[tuple[str, str]]:
    """Every tool's name and title, the opt-in ones included (nothing is opened)."""
    tools = asyncio.run(build_server(_unopened, enqueue=True).list_tools())
    return [(tool.name, tool.title or "") for tool in tools]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="greenline mcp", description=__doc__)
    parser.add_argument("--db", metavar="URL", help="store URL")
    parser.add_argument("--repo", type=Path, help="repository (default: current directory)")
    parser.add_argument("--http", metavar="HOST:PORT", help="serve streamable HTTP, not stdio")
    parser.add_argument("--list-tools", action="store_true", help="print the tools and exit")
    args = parser.parse_args(argv)
    if args.list_tools:
        sys.stdout.write("".join(f"{name}\t{title}\n" for name, title in list_tools()))
        return 0

    def open_api() -> Greenline:
        return Greenline.open(args.repo, db=args.db, create=False)

    try:
        address = parse_address(args.http) if args.http else None
        # fail now, with one clear line, if the store cannot be opened (made if missing)
        with Greenline.open(args.repo, db=args.db) as gl:
            enqueue = gl.settings.queue_agents_enqueue
    except GreenlineError as exc:
        print(f"greenline: error: {exc}", file=sys.stderr)
        return exc.exit_code
    server = build_server(open_api, enqueue=enqueue)
    if address is None:
        server.run("stdio")
    else:
        server.run("streamable-http", host=address[0], port=address[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
