"""Code-host and CI-provider adapters: read their API payloads (saved files or live over httpx)
into greenline's model."""

from __future__ import annotations
