"""``greenline backstage``: catalog-info.yaml entities for the repository and greenline's MCP
server, for a Backstage catalog."""

from __future__ import annotations

import enum
import sys
from typing import Any

import typer

from greenline.cli.state import emit_json, state_of


class CatalogFormat(enum.StrEnum):
    yaml = "yaml"
    json = "json"


def backstage_command(
    ctx: typer.Context,
    url: str | None = typer.Option(
        None,
        "--url",
        metavar="URL",
        help="The team server's address (default: GREENLINE_SERVER_URL); /mcp is added.",
    ),
    owner: str | None = typer.Option(
        None, "--owner", help="The entities' owner (default: the remote's owner, or unknown)."
    ),
    lifecycle: str = typer.Option("production", "--lifecycle", help="The entities' lifecycle."),
    fmt: CatalogFormat = typer.Option(CatalogFormat.yaml, "--format", "-f", help="Output format."),
) -> None:
    """Print catalog-info.yaml entities: the MCP server (kind API, spec.type mcp-server, with
    its remote URL) and the repository (kind Component), for a Backstage catalog."""
    from greenline.api.backstage import catalog_entities
    from greenline.cli.mcp_server import tool_names

    entities = catalog_entities(
        state_of(ctx).repo, url=url, owner=owner, lifecycle=lifecycle, tools=tool_names() or ()
    )
    if fmt is CatalogFormat.json:
        emit_json({"schema": "greenline.backstage/1", "entities": entities})
        return
    sys.stdout.write(dump_yaml(entities))
    sys.stdout.flush()


def dump_yaml(documents: list[dict[str, Any]]) -> str:
    """Documents as multi-document YAML, a text of several lines as a block (``|``)."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    return yaml.dump_all(
        documents, Dumper=Dumper, sort_keys=False, explicit_start=True, allow_unicode=True
    )
