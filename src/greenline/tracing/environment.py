"""The environment fingerprint of a run: Python version, platform and installed packages."""

from __future__ import annotations

import hashlib
import os
import platform
import sys

from greenline.model import Environment

METADATA_SUFFIXES = (".dist-info", ".egg-info")


def installed_packages() -> list[str]:
    """Installed distributions as their metadata folder names (``name-version.dist-info``).

    The folder names carry name and version, so listing ``sys.path`` is enough: reading every
    package's METADATA (what importlib.metadata does) costs a recording run ~100 ms.
    """
    found: set[str] = set()
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")  # noqa: PTH208 (names are all we need)
        except OSError:
            continue
        found.update(name.lower() for name in names if name.endswith(METADATA_SUFFIXES))
    return sorted(found)


def read_environment() -> Environment:
    """The running interpreter's environment; the package hash covers every installed version."""
    digest = hashlib.sha256("\n".join(installed_packages()).encode()).hexdigest()[:16]
    python = f"{sys.implementation.name}-{platform.python_version()}"
    machine = f"{sys.platform}-{platform.machine()}"
    return Environment(python=python, platform=machine, packages_hash=digest)
