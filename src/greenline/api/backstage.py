"""Backstage catalog entities for a repository greenline serves: a ``kind: API`` entity for the
team server's MCP endpoint (``spec.type: mcp-server`` with its remote) and a ``kind:
Component`` for the repository, valid against Backstage's entity schemas (catalog-model)."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from greenline import vcs
from greenline.api.workspace import locate
from greenline.config import load_settings, mask_url
from greenline.errors import UsageError

API_VERSION = "backstage.io/v1alpha1"
#: Backstage's rule for metadata.name: 1 to 63 of [A-Za-z0-9], runs separated by one of -_.
NAME_RULE = re.compile(r"^([A-Za-z0-9][-_.]?)*[A-Za-z0-9]$")
MAX_NAME = 63
MCP_SUFFIX = "-greenline-mcp"


def entity_name(value: str, fallback: str = "repository") -> str:
    """``value`` made a valid Backstage name: other characters become ``-``, a run of
    separators one, none at either end, at most 63 characters."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", value)
    name = re.sub(r"[-_.]{2,}", "-", name).strip("-_.")
    name = name[:MAX_NAME].rstrip("-_.")
    return name if name and NAME_RULE.match(name) else fallback


def mcp_url(given: str | None, configured: str | None) -> str:
    """The MCP endpoint: the team server's address (``--url``, else the ``server_url``
    setting) with ``/mcp`` after it, unless it names the endpoint already."""
    url = given or configured
    if not url:
        raise UsageError(
            "no team server address for the MCP server's remote",
            hint="pass --url https://greenline.example.com, or set GREENLINE_SERVER_URL "
            "(server_url in [tool.greenline])",
        )
    parts = urlsplit(url)
    where = "--url" if given else "server_url"
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.password:
        raise UsageError(
            f"{where} {mask_url(url)!r} is not an http(s) address without a password",
            hint="e.g. --url https://greenline.example.com (the team server, greenline serve)",
        )
    url = url.rstrip("/")
    return url if url.endswith("/mcp") else url + "/mcp"


def catalog_entities(
    path: Path | None = None,
    *,
    url: str | None = None,
    owner: str | None = None,
    lifecycle: str = "production",
    tools: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """The API entity of the MCP server and the Component of the repository at ``path``."""
    _, root, git_root = locate(path)
    settings = load_settings(root, os.environ)
    remote = mcp_url(url, settings.server_url)
    repository = vcs.repository_name(root)
    slug = repository if "/" in repository else None
    component = entity_name(repository.rsplit("/", 1)[-1])
    api = entity_name(component[: MAX_NAME - len(MCP_SUFFIX)] + MCP_SUFFIX)
    spec_owner = owner or (entity_name(slug.split("/")[0], "unknown") if slug else "unknown")
    if not lifecycle.strip():
        raise UsageError("--lifecycle is empty", hint="e.g. production, experimental")
    definition = "\n".join(
        [
            f"# greenline's MCP server for {repository} (streamable HTTP)",
            f"url: {remote}",
            "tools:" if tools else "tools: []  # python -m greenline.mcp --list-tools",
            *(f"  - {name}" for name in tools),
        ]
    )
    api_entity = {
        "apiVersion": API_VERSION,
        "kind": "API",
        "metadata": {
            "name": api,
            "title": f"greenline MCP server for {repository}",
            "description": f"What {repository}'s tests say, for coding agents: which tests a "
            "change can break, flaky tests, why CI is red, review digests.",
            "tags": ["mcp", "greenline", "testing"],
            "links": [{"url": remote, "title": "MCP endpoint"}],
        },
        "spec": {
            "type": "mcp-server",
            "lifecycle": lifecycle,
            "owner": spec_owner,
            "remotes": [{"type": "streamable-http", "url": remote}],
            "definition": definition + "\n",
        },
    }
    component_entity: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": "Component",
        "metadata": {
            "name": component,
            "title": repository,
            "description": f"The repository {repository}, its tests recorded by greenline.",
            "tags": ["greenline"],
        },
        "spec": {
            "type": "service",
            "lifecycle": lifecycle,
            "owner": spec_owner,
            "consumesApis": [f"api:{api}"],
        },
    }
    if slug and "github.com" in (vcs.remote_url(root) or ""):
        component_entity["metadata"]["annotations"] = {"github.com/project-slug": slug}
    if git_root is None:
        component_entity["metadata"]["description"] = f"The project {repository}."
    return [api_entity, component_entity]
