"""Plugins: modules named ``confkit_*`` anywhere on ``sys.path``."""

from __future__ import annotations

import pkgutil
import sys


def discover() -> list[str]:
    found = {
        info.name for info in pkgutil.iter_modules(sys.path) if info.name.startswith("confkit_")
    }
    return sorted(found)
