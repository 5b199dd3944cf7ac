"""Keeps an audit trail of deletions."""

from __future__ import annotations

from eventbus.plugins import Plugin


class AuditPlugin(Plugin):
    name = "audit"


def create() -> AuditPlugin:
    return AuditPlugin()
