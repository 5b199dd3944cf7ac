"""``--server URL`` on ``greenline select`` and ``greenline import junit``: the team server's
client, with the token from ``GREENLINE_TOKEN`` and the retry time from the settings."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from greenline import vcs
from greenline.cli.state import state_of
from greenline.config import load_settings
from greenline.errors import UsageError

if TYPE_CHECKING:
    from greenline.remote import ServerClient

#: where the API token comes from (greenline.remote's, named here so that defining the option
#: does not load the HTTP client: ``greenline select`` without --server never needs it)
TOKEN_ENV = "GREENLINE_TOKEN"

SERVER_OPTION = typer.Option(
    None,
    "--server",
    metavar="URL",
    help="Ask the team server at URL (greenline serve) instead of the local store; the API "
    f"token comes from {TOKEN_ENV}.",
)


def checkout_root(ctx: typer.Context) -> Path:
    """The repository the command runs in (--repo, or the current directory's)."""
    start = state_of(ctx).repo or Path.cwd()
    return vcs.find_root(start) or start


def open_server(ctx: typer.Context, url: str) -> ServerClient:
    if state_of(ctx).db:
        raise UsageError(
            "--db and --server both name the store", hint="give one: the server keeps its own"
        )
    token = os.environ.get(TOKEN_ENV)
    if not token:
        raise UsageError(
            f"--server needs an API token in {TOKEN_ENV}",
            hint="greenline token create NAME --scope read (write to upload), on the server",
        )
    from greenline.remote import ServerClient

    settings = load_settings(checkout_root(ctx), os.environ)
    return ServerClient(url, token, retry_seconds=settings.server_retry_seconds)
