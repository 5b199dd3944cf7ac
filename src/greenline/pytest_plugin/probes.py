"""For greenline's root-cause experiments (``greenline flaky scan`` and ``fix``): what a test
touches, what state it leaves behind, and a frozen clock. Stdlib only (the clock needs
time-machine); active only under their options, in runs of one or a few tests.

- ``--greenline-probe=FILE``: one JSON line per test with what its call phase did: wall-clock
  reads, random numbers, threads started, asyncio waits, sleeps, sockets (audit events), files
  opened outside pytest's temporary directories.
- ``--greenline-state=FILE``: after each test, the module-level values of the project's modules
  that differ from how they were after collection, with their initial values (what a polluter
  leaks, and what a fix must restore).
- ``--greenline-clock=ISO``: every test runs with the wall clock frozen at that instant.
- ``--greenline-offline``: every test runs with sockets refused (connect, name lookups, sends).
"""

from __future__ import annotations

import ast
import json
import os
import sys
import threading
import types
from collections.abc import Generator
from pathlib import Path
from typing import IO, Any

import pytest

from greenline.pytest_plugin.process_state import PROCESS, changed_process, snapshot_process

#: C functions that read the wall clock (``module.qualname`` of the builtin).
CLOCK = frozenset(
    {
        "time.time",
        "time.time_ns",
        "time.localtime",
        "time.gmtime",
        "time.ctime",
        "time.strftime",
        "datetime.now",
        "datetime.utcnow",
        "datetime.today",
        "date.today",
    }
)
#: C functions that measure elapsed time: a test that compares what they measure with a
#: threshold passes or fails by the machine's load.
TIMER = frozenset(
    {
        "time.perf_counter",
        "time.perf_counter_ns",
        "time.monotonic",
        "time.monotonic_ns",
        "time.process_time",
    }
)
RANDOM = frozenset({"posix.urandom", "Random.random", "Random.getrandbits", "uuid4"})
SLEEP = frozenset({"time.sleep"})
SOCKET_EVENTS = frozenset(
    {"socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "socket.sendto"}
)
#: calls from these packages are pytest's (and greenline's) machinery, not the test's
OWN = ("_pytest", "pytest", "pluggy", "greenline")


def _name(func: Any) -> str:
    module = getattr(func, "__module__", None) or type(getattr(func, "__self__", None)).__name__
    return f"{module}.{getattr(func, '__qualname__', '')}".replace("builtins.", "")


class ProbePlugin:
    """What each test's call phase touched."""

    def __init__(self, path: str) -> None:
        self.out: IO[str] = open(path, "a", encoding="utf-8")  # noqa: SIM115 (closed at exit)
        self.seen: dict[str, set[str]] | None = None
        sys.addaudithook(self._audit)  # cannot be removed: it records only inside a call

    def _audit(self, event: str, args: tuple[Any, ...]) -> None:
        seen = self.seen
        if seen is None:
            return
        if event in SOCKET_EVENTS:
            seen["network"].add(f"{event} {args[1] if len(args) > 1 else ''}".strip())
        elif event == "open" and args and isinstance(args[0], str | bytes | os.PathLike):
            where = os.fsdecode(args[0])
            mode = str(args[1]) if len(args) > 1 and args[1] is not None else "r"
            system = where.startswith(("/proc", "/sys", "/dev")) or any(
                f in where for f in ("site-packages", "/lib/python", "__pycache__")
            )
            if Path(where).is_absolute() and not system:
                seen["files"].add(f"{where} ({mode})")

    def _profile(self, frame: types.FrameType, event: str, arg: Any) -> None:
        seen = self.seen
        if seen is None:
            return
        if str(frame.f_globals.get("__name__", "")).startswith(OWN):
            return
        if event == "c_call":
            name = _name(arg)
            short = name.split(".", 1)[1] if name.count(".") > 1 else name
            if name in CLOCK or short in CLOCK:
                seen["clock"].add(short)
            elif name in TIMER or short in TIMER:
                seen["timer"].add(short)
            elif name in RANDOM or short in RANDOM or name.startswith("_random."):
                seen["random"].add(short)
            elif name in SLEEP:
                seen["sleep"].add(name)
        elif event == "call":
            code = frame.f_code
            module = frame.f_globals.get("__name__", "")
            if module == "threading" and code.co_name == "start":
                seen["threads"].add("threading.Thread.start")
            elif module == "asyncio.tasks" and code.co_name in ("wait_for", "sleep", "wait"):
                seen["async"].add(f"asyncio.{code.co_name}")
            elif module == "random" and not code.co_name.startswith("_"):
                seen["random"].add(f"random.{code.co_name}")

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        keys = ("clock", "timer", "random", "threads", "async", "sleep", "network", "files")
        self.seen = {k: set() for k in keys}
        sys.setprofile(self._profile)
        threading.setprofile(self._profile)
        try:
            return (yield)
        finally:
            sys.setprofile(None)
            threading.setprofile(None)
            seen, self.seen = self.seen, None
            factory = getattr(item.config, "_tmp_path_factory", None)
            base = getattr(factory, "_basetemp", None)
            if base is not None:  # pytest's per-run temporary directories are private
                seen["files"] = {f for f in seen["files"] if not f.startswith(str(base))}
            row = {"test_id": item.nodeid, **{k: sorted(v) for k, v in seen.items()}}
            self.out.write(json.dumps(row) + "\n")
            self.out.flush()

    def pytest_unconfigure(self) -> None:
        self.out.close()


def _literal(value: Any) -> str | None:
    """``repr(value)`` when it reads back as an equal literal (what a fix can write down)."""
    if isinstance(value, types.ModuleType | type | types.FunctionType):
        return None
    try:
        text = repr(value)
        if len(text) > 2000 or ast.literal_eval(text) != value:
            return None
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return text


def _is_projects(value: Any, modules: dict[str, types.ModuleType]) -> bool:
    """A class defined in a project module, or an instance of one."""
    kind = value if isinstance(value, type) else type(value)
    return getattr(kind, "__module__", None) in modules and hasattr(value, "__dict__")


def _attributes(prefix: str, value: Any) -> dict[str, tuple[str, int]]:
    out = {}
    for attr, inner in list(vars(value).items()):
        if attr.startswith("__"):
            continue
        text = _literal(inner)
        if text is not None:
            out[f"{prefix}.{attr}"] = (text, id(inner))
    return out


class StatePlugin:
    """The project's module-level state that each test changed, against its initial values."""

    def __init__(self, path: str, root: Path) -> None:
        self.out: IO[str] = open(path, "a", encoding="utf-8")  # noqa: SIM115 (closed at exit)
        self.root = str(root.resolve())
        self.initial: dict[str, dict[str, tuple[str, int]]] = {}
        self.files: dict[str, str] = {}

    def _modules(self) -> dict[str, types.ModuleType]:
        out = {}
        for name, module in list(sys.modules.items()):
            file = getattr(module, "__file__", None)
            if not file or name == "__main__":
                continue
            where = str(Path(file).resolve())
            if where.startswith(self.root) and "site-packages" not in where:
                relative = os.path.relpath(where, self.root)
                if not relative.startswith((".venv", "venv")):
                    out[name] = module
                    self.files[name] = Path(relative).as_posix()
        return out

    def _snapshot(self) -> dict[str, dict[str, tuple[str, int]]]:
        """Per module, each literal value's text and identity (a rebound name has a new one):
        module globals, and one level into the project's classes and their instances there
        (``Client.cache``, ``registry.items``)."""
        snap: dict[str, dict[str, tuple[str, int]]] = {}
        modules = self._modules()
        for name, module in modules.items():
            values = {}
            for attr, value in list(vars(module).items()):
                if attr.startswith("__"):
                    continue
                text = _literal(value)
                if text is not None:
                    values[attr] = (text, id(value))
                elif _is_projects(value, modules):
                    values.update(_attributes(attr, value))
            snap[name] = values
        snap[PROCESS] = snapshot_process(self.root)
        return snap

    def pytest_collection_finish(self) -> None:
        self.initial = self._snapshot()

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        now = self._snapshot()
        changed = changed_process(self.initial[PROCESS], self.root)
        for module, values in self.initial.items():
            if module == PROCESS:
                continue
            current = now.get(module, {})
            for attr, (text, ident) in values.items():
                now_text, now_ident = current.get(attr, (None, None))
                if now_text != text:
                    changed.append(
                        {
                            "module": module,
                            "file": self.files.get(module),
                            "name": attr,
                            "initial": text,
                            "rebound": now_ident != ident,
                        }
                    )
        self.out.write(json.dumps({"test_id": nodeid, "changed": changed}) + "\n")
        self.out.flush()

    def pytest_unconfigure(self) -> None:
        self.out.close()


class ClockPlugin:
    """Every test (setup, call, teardown) sees the wall clock stopped at one instant."""

    def __init__(self, instant: str) -> None:
        import time_machine

        self.travel = time_machine.travel(instant, tick=False)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self) -> Generator[None, None, None]:
        with self.travel:
            return (yield)


class OfflinePlugin:
    """Tests run with the network blocked: opening a connection or looking up a name raises."""

    def __init__(self) -> None:
        self.blocking = False
        sys.addaudithook(self._audit)  # cannot be removed: it blocks only inside a test

    def _audit(self, event: str, args: tuple[Any, ...]) -> None:
        if self.blocking and event in SOCKET_EVENTS:
            raise ConnectionRefusedError(f"greenline: the network is blocked ({event})")

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self) -> Generator[None, None, None]:
        self.blocking = True
        try:
            return (yield)
        finally:
            self.blocking = False
