"""The process state a test can leave changed besides module globals: the working directory,
environment variables, ``sys.path``, modules replaced or removed in ``sys.modules``, logging (the
root logger, every named logger's level, handlers and whether it propagates or is disabled, and
``logging.disable``), warnings filters, the decimal context, the default socket timeout and the
recursion limit. Stdlib only (it loads inside greenline's state probe). Values are written as
Python literals a fix can write down; secret-looking environment variables are never written."""

from __future__ import annotations

import decimal
import logging
import os
import re
import socket
import sys
import warnings
from pathlib import Path
from typing import Any

#: the module name that process-state entries report
PROCESS = "<process>"
#: the working directory, relative to the rootdir (a fix must not write an absolute path)
CWD = "cwd"
SECRET = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|API_?KEY|PRIVATE", re.IGNORECASE)
#: variables pytest itself sets while a test runs: no test's doing
OWN_VARIABLES = frozenset({"PYTEST_CURRENT_TEST"})
SHOWN_CHARS = 160
#: a logger as ``logging.getLogger`` makes it: (level, propagate, disabled, handlers)
DEFAULT_LOGGER = repr((logging.NOTSET, True, False, ()))


def _handlers(logger: logging.Logger) -> tuple[int, ...]:
    """The logger's handlers by identity, pytest's own capture handlers left out (pytest adds
    and removes them around every test)."""
    return tuple(id(h) for h in logger.handlers if not type(h).__module__.startswith("_pytest"))


def _logging() -> dict[str, tuple[str, int]]:
    root = logging.root
    values = {
        "logging.root.level": (repr(root.level), 0),
        "logging.root.handlers": (repr(_handlers(root)), 0),
        "logging.disable": (repr(root.manager.disable), 0),
    }
    for name, logger in list(root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger):
            state = (logger.level, logger.propagate, logger.disabled, _handlers(logger))
            values[f"logging.getLogger({name!r})"] = (repr(state), 0)
    return values


def _decimal() -> str:
    context = decimal.getcontext()
    traps = sorted(k.__name__ for k, on in context.traps.items() if on)
    fields = (context.prec, context.rounding, context.Emin, context.Emax, context.capitals)
    return repr((*fields, context.clamp, traps))


def snapshot_process(root: str, isolated_warnings: bool = True) -> dict[str, tuple[str, int]]:
    """Each entry's literal text and identity (as the module snapshot keeps them). Warnings
    filters count only when pytest does not give each test its own (``-p no:warnings``)."""
    values: dict[str, tuple[str, int]] = {
        CWD: (repr(os.path.relpath(Path.cwd(), root)), 0),
        "sys.path": (repr(list(sys.path)), 0),
        "decimal.getcontext()": (_decimal(), 0),
        "socket.getdefaulttimeout()": (repr(socket.getdefaulttimeout()), 0),
        "sys.getrecursionlimit()": (repr(sys.getrecursionlimit()), 0),
        **_logging(),
    }
    if not isolated_warnings:
        values["warnings.filters"] = (repr(warnings.filters), 0)
    for key, value in os.environ.items():
        if not SECRET.search(key) and key not in OWN_VARIABLES:
            values[f"os.environ[{key!r}]"] = (repr(value), 0)
    for name, module in list(sys.modules.items()):
        values[f"sys.modules[{name!r}]"] = ("True", id(module))
    return values


def changed_process(
    initial: dict[str, tuple[str, int]], root: str, isolated_warnings: bool = True
) -> list[dict[str, Any]]:
    """What differs now from ``initial``: changed or removed entries, and environment
    variables that were added (their initial value is None: a fix removes them)."""
    now = snapshot_process(root, isolated_warnings)
    out = []
    for name, (text, ident) in initial.items():
        now_text, now_ident = now.get(name, (None, None))
        # a module replaced or removed is a leak; a new import is none
        module = name.startswith("sys.modules[")
        if (now_ident != ident) if module else (now_text != text):
            out.append(_entry(name, text, now_text))
    for name in now.keys() - initial.keys():
        if name.startswith("os.environ["):
            out.append(_entry(name, "None", now[name][0]))
        elif name.startswith("logging.getLogger(") and now[name][0] != DEFAULT_LOGGER:
            out.append(_entry(name, DEFAULT_LOGGER, now[name][0]))  # created and configured
    return sorted(out, key=lambda e: e["name"])


def _short(text: str | None) -> str | None:
    if text is None:
        return None
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def _entry(name: str, initial: str, now: str | None) -> dict[str, Any]:
    module = name.startswith("sys.modules[")
    return {
        "module": PROCESS,
        "file": None,
        "name": name,
        "initial": initial,
        "rebound": True,
        "change": "rebound",
        "before": "<module>" if module else _short(initial),
        "after": ("<another module>" if now else None) if module else _short(now),
        "owner": "process",
        "container": None,
        "deepcopy": False,
    }
