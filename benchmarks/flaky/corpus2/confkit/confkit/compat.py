"""The 1.x API, kept for a deprecation period."""

from __future__ import annotations

import warnings


def get_option(config: dict[str, str], name: str, default: str | None = None) -> str | None:
    warnings.warn(
        "get_option() is deprecated; read config[name] instead", DeprecationWarning, stacklevel=2
    )
    return config.get(name, default)


def strict() -> None:
    """Turn confkit's deprecations into errors (for CI runs that must not use the old API)."""
    warnings.simplefilter("error", DeprecationWarning)
