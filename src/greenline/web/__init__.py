"""The team server: a FastAPI application over the api (REST under ``/api/v1``, health and
readiness), its routes declared by one module per capability. Needs the ``web`` extra."""

from __future__ import annotations

from greenline.web.app import create_app

__all__ = ["create_app"]
