"""The process state a test can leave changed besides module globals: the working directory,
environment variables, ``sys.path``, modules replaced or removed in ``sys.modules`` and the root
logger. Stdlib only (it loads inside greenline's state probe). Values are written as Python
literals a fix can write down; secret-looking environment variables are never written."""

from __future__ import annotations

import logging
import os
import re
import sys
from pathlib import Path
from typing import Any

#: the module name that process-state entries report
PROCESS = "<process>"
#: the working directory, relative to the rootdir (a fix must not write an absolute path)
CWD = "cwd"
SECRET = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|API_?KEY|PRIVATE", re.IGNORECASE)
#: variables pytest itself sets while a test runs: no test's doing
OWN_VARIABLES = frozenset({"PYTEST_CURRENT_TEST"})


def snapshot_process(root: str) -> dict[str, tuple[str, int]]:
    """Each entry's literal text and identity (as the module snapshot keeps them)."""
    values: dict[str, tuple[str, int]] = {
        CWD: (repr(os.path.relpath(Path.cwd(), root)), 0),
        "sys.path": (repr(list(sys.path)), 0),
        "logging.root.level": (repr(logging.root.level), 0),
        "len(logging.root.handlers)": (repr(len(logging.root.handlers)), 0),
    }
    for key, value in os.environ.items():
        if not SECRET.search(key) and key not in OWN_VARIABLES:
            values[f"os.environ[{key!r}]"] = (repr(value), 0)
    for name, module in list(sys.modules.items()):
        values[f"sys.modules[{name!r}]"] = ("True", id(module))
    return values


def changed_process(initial: dict[str, tuple[str, int]], root: str) -> list[dict[str, Any]]:
    """What differs now from ``initial``: changed or removed entries, and environment
    variables that were added (their initial value is None: a fix removes them)."""
    now = snapshot_process(root)
    out = []
    for name, (text, ident) in initial.items():
        now_text, now_ident = now.get(name, (None, None))
        # a module replaced or removed is a leak; a new import is none
        module = name.startswith("sys.modules[")
        if (now_ident != ident) if module else (now_text != text):
            out.append(_entry(name, text))
    for name in now.keys() - initial.keys():
        if name.startswith("os.environ["):
            out.append(_entry(name, "None"))
    return sorted(out, key=lambda e: e["name"])


def _entry(name: str, initial: str) -> dict[str, Any]:
    return {"module": PROCESS, "file": None, "name": name, "initial": initial, "rebound": True}
