"""Restoring process state a polluter leaves changed (the working directory, environment
variables, ``sys.path``, modules in ``sys.modules``, logging, warnings filters, the decimal
context, the default socket timeout, the recursion limit): the victim's module keeps what that
state was when it was imported (at collection, before any test ran) and an autouse fixture of
its own puts it back before each of its tests (``object_fix`` writes the fixture). Exact and
portable: no path or value is written into the patch, only the names of what leaked."""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass, field

from greenline.flaky.fixes import FixError, Leak

#: the module name that the state probe gives process-state leaks
PROCESS = "<process>"
_LOGGER = "logging.getLogger("


@dataclass(slots=True)
class Parts:
    """What a restoring fixture needs: statements its module runs at import (keeping the state
    as it was), statements the fixture runs before each test, and the modules they import."""

    keep: list[str] = field(default_factory=list)
    restore: list[str] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)

    def add(self, keep: list[str], restore: list[str], *imports: str) -> None:
        self.keep += keep
        self.restore += restore
        self.imports += [i for i in imports if i not in self.imports]


def is_process_leak(leak: Leak) -> bool:
    return leak.module == PROCESS


def _keys(leaks: Sequence[Leak], prefix: str) -> list[str]:
    """The keys of ``prefix[...]`` leaks (``os.environ['MODE']`` -> ``MODE``)."""
    out = []
    for leak in leaks:
        if leak.name.startswith(prefix + "["):
            key = ast.literal_eval(leak.name[len(prefix) + 1 : -1])
            if isinstance(key, str):
                out.append(key)
    return sorted(set(out))


def _loggers(leaks: Sequence[Leak]) -> list[str]:
    return sorted(
        {
            ast.literal_eval(leak.name[len(_LOGGER) : -1])
            for leak in leaks
            if leak.name.startswith(_LOGGER)
        }
    )


def process_parts(leaks: Sequence[Leak], parts: Parts) -> None:
    """Add to ``parts`` what keeps and restores the process state in ``leaks``."""
    names = {leak.name for leak in leaks if is_process_leak(leak)}
    if "cwd" in names:
        parts.add(["_GREENLINE_CWD = os.getcwd()"], ["os.chdir(_GREENLINE_CWD)"], "os")
    if "sys.path" in names:
        parts.add(["_GREENLINE_SYS_PATH = list(sys.path)"], ["sys.path[:] = _GREENLINE_SYS_PATH"])
        parts.add([], [], "sys")
    if env := _keys(leaks, "os.environ"):
        parts.add(
            [f"_GREENLINE_ENVIRON = {{k: os.environ.get(k) for k in {env!r}}}"],
            [
                "for key, value in _GREENLINE_ENVIRON.items():",
                "    if value is None:",
                "        os.environ.pop(key, None)",
                "    else:",
                "        os.environ[key] = value",
            ],
            "os",
        )
    if modules := _keys(leaks, "sys.modules"):
        parts.add(
            [f"_GREENLINE_MODULES = {{m: sys.modules.get(m) for m in {modules!r}}}"],
            [
                "for name, module in _GREENLINE_MODULES.items():",
                "    if module is None:",
                "        sys.modules.pop(name, None)",
                "    else:",
                "        sys.modules[name] = module",
            ],
            "sys",
        )
    _logging_parts(names, _loggers(leaks), parts)
    _setting_parts(names, parts)


def _logging_parts(names: set[str], loggers: list[str], parts: Parts) -> None:
    if names & {"logging.root.level", "logging.root.handlers"}:
        parts.add(
            ["_GREENLINE_ROOT_LOGGER = (logging.root.level, list(logging.root.handlers))"],
            [
                "logging.root.setLevel(_GREENLINE_ROOT_LOGGER[0])",
                "for handler in list(logging.root.handlers):",
                "    # pytest's own capture handlers stay",
                "    own = type(handler).__module__.startswith('_pytest')",
                "    if handler not in _GREENLINE_ROOT_LOGGER[1] and not own:",
                "        logging.root.removeHandler(handler)",
                "for handler in _GREENLINE_ROOT_LOGGER[1]:",
                "    logging.root.addHandler(handler)",
            ],
            "logging",
        )
    if "logging.disable" in names:
        parts.add(
            ["_GREENLINE_LOGGING_DISABLE = logging.root.manager.disable"],
            ["logging.disable(_GREENLINE_LOGGING_DISABLE)"],
            "logging",
        )
    if loggers:
        parts.add(
            [
                "_GREENLINE_LOGGERS = {",
                "    name: (lg.level, lg.propagate, lg.disabled, list(lg.handlers))",
                f"    for name, lg in ((n, logging.getLogger(n)) for n in {loggers!r})",
                "}",
            ],
            [
                "for name, (level, propagate, disabled, handlers) in _GREENLINE_LOGGERS.items():",
                "    logger = logging.getLogger(name)",
                "    logger.setLevel(level)",
                "    logger.propagate, logger.disabled = propagate, disabled",
                "    logger.handlers[:] = handlers",
            ],
            "logging",
        )


#: process settings with a getter and a setter: leak name -> (keep, restore, module)
SETTINGS = {
    "warnings.filters": (
        "_GREENLINE_WARNINGS = list(warnings.filters)",
        "warnings.filters[:] = _GREENLINE_WARNINGS",
        "warnings",
    ),
    "decimal.getcontext()": (
        "_GREENLINE_DECIMAL = decimal.getcontext().copy()",
        "decimal.setcontext(_GREENLINE_DECIMAL.copy())",
        "decimal",
    ),
    "socket.getdefaulttimeout()": (
        "_GREENLINE_SOCKET_TIMEOUT = socket.getdefaulttimeout()",
        "socket.setdefaulttimeout(_GREENLINE_SOCKET_TIMEOUT)",
        "socket",
    ),
    "sys.getrecursionlimit()": (
        "_GREENLINE_RECURSION_LIMIT = sys.getrecursionlimit()",
        "sys.setrecursionlimit(_GREENLINE_RECURSION_LIMIT)",
        "sys",
    ),
}


def _setting_parts(names: set[str], parts: Parts) -> None:
    for name, (keep, restore, module) in SETTINGS.items():
        if name in names:
            parts.add([keep], [restore], module)


def check_process(leaks: Sequence[Leak]) -> None:
    """Raise FixError when none of the process state in ``leaks`` can be restored."""
    parts = Parts()
    process_parts(leaks, parts)
    if not parts.restore:
        raise FixError("the polluter leaves no process state changed that can be restored")
