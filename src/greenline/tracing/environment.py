"""The environment fingerprint of a run: Python version, platform and installed packages."""

from __future__ import annotations

import hashlib
import os
import platform
import site
import sys
import sysconfig

from greenline.model import Environment

METADATA_SUFFIXES = (".dist-info", ".egg-info")


def package_folders() -> list[str]:
    """Where this environment installs packages. Not all of ``sys.path``: pytest puts project
    folders there, and the fingerprint must be the same in pytest and in ``greenline select``."""
    folders = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    folders.update(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        folders.add(site.getusersitepackages())
    return sorted(f for f in folders if f)


def installed_packages() -> list[str]:
    """Installed distributions as their metadata folder names (``name-version.dist-info``).

    The folder names carry name and version, so listing the package folders is enough: reading
    every package's METADATA (what importlib.metadata does) costs a recording run ~100 ms.
    """
    found: set[str] = set()
    for entry in package_folders():
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
