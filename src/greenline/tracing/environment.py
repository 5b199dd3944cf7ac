"""The environment fingerprint of a run: Python version, platform and installed packages."""

from __future__ import annotations

import hashlib
import importlib.metadata
import platform
import sys

from greenline.model import Environment


def read_environment() -> Environment:
    """The running interpreter's environment; the package hash covers every installed version."""
    packages = sorted(
        f"{(dist.metadata['Name'] or '').lower()}=={dist.version}"
        for dist in importlib.metadata.distributions()
    )
    digest = hashlib.sha256("\n".join(packages).encode()).hexdigest()[:16]
    python = f"{sys.implementation.name}-{platform.python_version()}"
    return Environment(
        python=python, platform=sys.platform + "-" + platform.machine(), packages_hash=digest
    )
