"""``greenline serve`` (hands over to ``python -m greenline.web``: the CLI and the server are
separate interfaces) and ``greenline token create|list|revoke``."""

from __future__ import annotations

import os
import sys

import typer

from greenline.cli.render import plain
from greenline.cli.state import FORMAT_OPTION, Format, console, emit_json, state_of

token_app = typer.Typer(help="API tokens for the team server.", no_args_is_help=True)


def serve(
    ctx: typer.Context,
    host: str | None = typer.Option(
        None, "--host", help="Address to listen on (default: server_host, 127.0.0.1)."
    ),
    port: int | None = typer.Option(
        None, "--port", min=1, max=65535, help="Port to listen on (default: server_port, 8787)."
    ),
    workers: int | None = typer.Option(
        None, "--workers", min=1, max=64, help="Server processes (default: server_workers, 1)."
    ),
    public_read: bool | None = typer.Option(
        None,
        "--public-read/--no-public-read",
        help="Answer reads without a token; writes still need a write token "
        "(default: server_public_read, off).",
    ),
) -> None:
    """Run the team server: the REST API under /api/v1 (OpenAPI at /api/v1/openapi.json), the
    MCP server at /mcp, /healthz and /readyz, over the store given by --db (PostgreSQL for a
    team). Flags win over GREENLINE_SERVER_* and the server_* settings in pyproject.toml."""
    state = state_of(ctx)
    argv = [sys.executable, "-m", "greenline.web"]
    for flag, value in (("--host", host), ("--port", port), ("--workers", workers)):
        if value is not None:
            argv += [flag, str(value)]
    if public_read is not None:
        argv.append("--public-read" if public_read else "--no-public-read")
    if state.db:
        argv += ["--db", state.db]
    if state.repo:
        argv += ["--repo", str(state.repo)]
    sys.stdout.flush()
    os.execv(sys.executable, argv)


@token_app.command("create")
def create_token(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="What the token is for (ci-main, alice, …)."),
    scope: str = typer.Option("read", "--scope", help="read, write or admin."),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Make a token and print it once: it is stored only as a digest and cannot be shown
    again (make a new one if it is lost)."""
    with state_of(ctx).open_api() as gl:
        text, token = gl.tokens.create(name, scope)
    if fmt is Format.json:
        emit_json({"schema": "greenline.token/1", "name": name, "scope": scope, "token": text})
        return
    console.print(plain(text))
    console.print(
        plain(f"token {token.name} ({token.scope}): shown once, keep it secret"), style="dim"
    )


@token_app.command("list")
def list_tokens(ctx: typer.Context, fmt: Format = FORMAT_OPTION) -> None:
    """The tokens by name and scope (never their text)."""
    with state_of(ctx).open_api() as gl:
        tokens = gl.tokens.all()
    rows = [
        {
            "name": t.name,
            "scope": t.scope,
            "created_at": t.created_at.isoformat(),
            "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
        }
        for t in tokens
    ]
    if fmt is Format.json:
        emit_json({"schema": "greenline.tokens/1", "tokens": rows})
        return
    for t in tokens:
        state = "revoked" if t.revoked_at else "live"
        console.print(plain(f"{t.name}  {t.scope}  {state}  {t.created_at:%Y-%m-%d %H:%M}"))


@token_app.command("revoke")
def revoke_token(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    """Revoke every live token of that name: requests with it are refused from now on."""
    with state_of(ctx).open_api() as gl:
        count = gl.tokens.revoke(name)
    console.print(plain(f"revoked {count} token(s) named {name}"))
