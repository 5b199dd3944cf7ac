"""For greenline's root-cause experiments (``greenline flaky scan`` and ``fix``): what a test
touches, what state it leaves behind, and a frozen clock. Stdlib only (the clock needs
time-machine); active only under their options, in runs of one or a few tests.

- ``--greenline-probe=FILE``: one JSON line per test with what its call phase did: wall-clock
  reads, elapsed-time timers (and which modules read them), random numbers (and the project's
  own generators it drew from), threads started, asyncio waits, sleeps, sockets (audit
  events), files opened outside pytest's temporary directories.
- ``--greenline-state=FILE``: after each test, what differs from how it was after collection:
  the project's module-level values and the attributes of its classes and objects, functions
  of other modules replaced, and process state, each with how it changed, what it was and is
  (what a polluter leaks, and what a fix must restore).
- ``--greenline-clock=ISO``: every test runs with the wall clock frozen at that instant.
- ``--greenline-offline``: every test runs with sockets refused (connect, name lookups, sends).
"""

from __future__ import annotations

import copy
import json
import os
import random
import sys
import threading
import types
from collections.abc import Generator
from pathlib import Path
from typing import IO, Any

import pytest

from greenline.pytest_plugin.object_state import (
    Seen,
    callables,
    change_of,
    generator_paths,
    is_own_generator,
    project_modules,
    project_paths,
)
from greenline.pytest_plugin.process_state import changed_process, snapshot_process

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
#: kept at import: a test may replace ``json.dumps`` itself (and the probe must still write)
_dumps = json.dumps
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
        self.generators: dict[int, random.Random] = {}  # the project's own, used by the test
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
                seen["timer_in"].add(str(frame.f_globals.get("__name__", "")))
            elif name in RANDOM or short in RANDOM or name.startswith("_random."):
                seen["random"].add(short)
                owner = getattr(arg, "__self__", None)
                if is_own_generator(owner):
                    self.generators[id(owner)] = owner
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
        keys = ("clock", "timer", "timer_in", "random", "threads", "async", "sleep", "network")
        self.seen = {k: set() for k in (*keys, "files")}
        self.generators = {}
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
            seen["generators"] = set(generator_paths(self.generators, item.config.rootpath))
            row = {"test_id": item.nodeid, **{k: sorted(v) for k, v in seen.items()}}
            self.out.write(_dumps(row) + "\n")
            self.out.flush()

    def pytest_unconfigure(self) -> None:
        self.out.close()


class StatePlugin:
    """What each test left changed, against how it was after collection: the project's
    module-level values and the attributes of its classes and objects, the functions of other
    modules, and process state (``process_state``)."""

    def __init__(self, path: str, root: Path) -> None:
        self.out: IO[str] = open(path, "a", encoding="utf-8")  # noqa: SIM115 (closed at exit)
        self.root = str(root.resolve())
        self.initial: dict[str, dict[str, Seen]] = {}
        self.process: dict[str, tuple[str, int]] = {}
        self.files: dict[str, str] = {}
        self.isolated_warnings = True

    def pytest_configure(self, config: pytest.Config) -> None:
        # pytest's warnings plugin gives every test its own filters: none can leak then
        self.isolated_warnings = config.pluginmanager.has_plugin("warnings")

    def _modules(self) -> dict[str, types.ModuleType]:
        modules, files = project_modules(self.root)
        self.files.update(files)
        return modules

    def _snapshot(
        self, known: dict[str, dict[str, Seen]] | None = None
    ) -> dict[str, dict[str, Seen]]:
        """The state now; with ``known`` (the first snapshot), the other modules' functions
        it held are read again whatever replaced them."""
        modules = self._modules()
        snap = project_paths(modules, frozenset(modules))
        others = {n: m for n, m in list(sys.modules.items()) if n not in modules}
        snap.update(callables(others, known))
        return snap

    def pytest_collection_finish(self) -> None:
        self.initial = self._snapshot()
        self.process = snapshot_process(self.root, self.isolated_warnings)

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        now = self._snapshot(self.initial)
        changed = changed_process(self.process, self.root, self.isolated_warnings)
        for module, values in self.initial.items():
            current = now.get(module, {})
            for path, before in values.items():
                after = current.get(path)
                how = change_of(before, after)
                if how is not None:
                    changed.append(self._entry(module, path, before, after, how))
            for path in current.keys() - values.keys():
                after = current[path]
                if after.owner != "module":  # a new attribute on a project class or object
                    changed.append(self._entry(module, path, None, after, "added"))
        self.out.write(_dumps({"test_id": nodeid, "changed": changed}) + "\n")
        self.out.flush()

    def _entry(
        self, module: str, path: str, before: Seen | None, after: Seen | None, how: str
    ) -> dict[str, Any]:
        value = _resolve(sys.modules.get(module), path)
        seen = before or after
        return {
            "module": module,
            "file": self.files.get(module),
            "name": path,
            "initial": before.literal if before else None,
            "rebound": how in ("rebound", "added", "removed"),
            "change": how,
            "before": before.shown if before else None,
            "after": after.shown if after else None,
            "owner": seen.owner if seen else "module",
            "container": before.container if before else None,
            "deepcopy": _copies(value),
        }

    def pytest_unconfigure(self) -> None:
        self.out.close()


def _resolve(module: types.ModuleType | None, path: str) -> Any:
    value: Any = module
    for part in path.split("."):
        value = getattr(value, part, None)
    return value


def _copies(value: Any) -> bool:
    """Whether ``copy.deepcopy`` can keep a copy of the value (a lock or a socket cannot)."""
    try:
        copy.deepcopy(value)
    except Exception:  # whatever the value's own __deepcopy__ or __reduce__ raises
        return False
    return True


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
