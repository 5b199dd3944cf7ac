"""How GitHub signs a webhook delivery: ``X-Hub-Signature-256`` is ``sha256=`` and the hex
HMAC-SHA256 of the raw body under the webhook's secret; it is compared in constant time."""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "sha256="


def sign_body(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value GitHub sends with ``body``."""
    return PREFIX + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def is_signed(secret: str, body: bytes, header: str | None) -> bool:
    """True when ``header`` is the signature of ``body`` under ``secret``."""
    if not header or not header.startswith(PREFIX):
        return False
    return hmac.compare_digest(sign_body(secret, body).encode(), header.strip().encode())
