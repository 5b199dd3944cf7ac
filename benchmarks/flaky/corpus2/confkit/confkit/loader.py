"""Reading configuration files, with environment overrides."""

from __future__ import annotations

import configparser
import copy
import os
from pathlib import Path

DEFAULT_FILE = "confkit.ini"
DEFAULTS: dict[str, dict[str, object]] = {
    "server": {"host": "0.0.0.0", "ports": [8000], "tls": False},
    "logging": {"level": "INFO"},
}
_cache: dict[str, dict[str, str]] = {}


def env_overrides() -> dict[str, str]:
    return {
        key[len("CONFKIT_") :].lower(): value
        for key, value in os.environ.items()
        if key.startswith("CONFKIT_")
    }


def load(path: str | os.PathLike[str] = DEFAULT_FILE) -> dict[str, str]:
    """The ``[app]`` section of ``path`` (relative to the working directory), overridden by
    ``CONFKIT_*`` environment variables."""
    parser = configparser.ConfigParser()
    if not parser.read(path):
        raise FileNotFoundError(path)
    return {**dict(parser["app"]), **env_overrides()}


def load_cached(path: str | os.PathLike[str] = DEFAULT_FILE) -> dict[str, str]:
    key = str(Path(path).resolve())
    if key not in _cache:
        _cache[key] = load(path)
    return _cache[key]


def cached(path: str | os.PathLike[str] = DEFAULT_FILE) -> dict[str, str] | None:
    return _cache.get(str(Path(path).resolve()))


def merge(base: dict[str, dict[str, object]], extra: dict[str, dict[str, object]]) -> dict:
    """``base`` with each section updated by ``extra`` (lists are extended)."""
    out = dict(base)
    for section, values in extra.items():
        target = out.setdefault(section, {})
        for key, value in values.items():
            if isinstance(value, list) and isinstance(target.get(key), list):
                target[key].extend(value)
            else:
                target[key] = value
    return out


def server_defaults() -> dict[str, object]:
    return copy.deepcopy(DEFAULTS["server"])
