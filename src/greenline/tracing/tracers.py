"""Three ways to learn which code objects of the project ran, fastest first for this Python.

A tracer follows one test at a time: ``begin()`` forgets what ran before and starts tracing,
``pause()``/``resume()`` bracket pytest's own work between the test's phases, and ``take()`` returns
the code objects the test ran, limited to files under the ``include`` prefixes whose names contain
none of the ``exclude`` fragments:
- ``sys.monitoring`` (3.12+): a PY_START callback that disables itself per code object, so a
  function costs one callback per test however often it runs;
- a C profile hook (3.11, the optional ``greenline._ctracer`` extension): call events only,
  de-duplicated with a mark in each code object's extra slot, foreign code rejected once for good;
- ``sys.setprofile`` in pure Python, when the extension is not built.
"""

from __future__ import annotations

import sys
import threading
from types import CodeType, FrameType
from typing import Any, Protocol

#: Paths that hold installed code rather than the project's own, even inside the repository.
FOREIGN_FRAGMENTS = ("site-packages", "dist-packages")


class Tracer(Protocol):
    name: str

    def begin(self) -> None: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def take(self) -> list[CodeType]: ...

    def close(self) -> None: ...


class _CodeFilter:
    """Remembers, per code object, whether it belongs to the project."""

    def __init__(self, include: tuple[str, ...], exclude: tuple[str, ...]) -> None:
        self.include = include
        self.exclude = exclude
        self._verdicts: dict[int, tuple[CodeType, bool]] = {}

    def wants(self, code: CodeType) -> bool:
        known = self._verdicts.get(id(code))
        if known is None:
            name = code.co_filename
            ok = name.startswith(self.include) and not any(f in name for f in self.exclude)
            known = self._verdicts[id(code)] = (code, ok)
        return known[1]


class MonitoringTracer:
    """``sys.monitoring`` with two tools, so pytest's own code costs one callback per session.

    The *discover* tool watches PY_START everywhere and disables each location for good after
    its first call. Project code it finds is handed to the *track* tool as a local event; a
    tracked function reports its first call in a test and disables itself, and only the code
    objects that fired get re-armed when the next test begins. ``restart_events`` would re-arm
    every code object in the process, pytest's included, for every test.
    """

    name = "sys.monitoring"

    def __init__(self, include: tuple[str, ...], exclude: tuple[str, ...]) -> None:
        mon = sys.monitoring  # type: ignore[attr-defined,unused-ignore]
        free = [tool for tool in (4, 3, 5, 2) if mon.get_tool(tool) is None]
        if len(free) < 2:
            raise RuntimeError("fewer than two free sys.monitoring tool ids")
        self._mon = mon
        self._event: int = mon.events.PY_START
        self._discover, self._track = free[0], free[1]
        self._fired: list[CodeType] = []
        self._tracked: list[CodeType] = []
        self._enabled = False
        self._filter = _CodeFilter(include, exclude)
        mon.use_tool_id(self._discover, "greenline-discover")
        mon.use_tool_id(self._track, "greenline")
        mon.register_callback(self._discover, self._event, self._on_discover)
        mon.register_callback(self._track, self._event, self._on_track)

    def _on_discover(self, code: CodeType, _offset: int) -> Any:
        if self._filter.wants(code):
            self._fired.append(code)
            self._tracked.append(code)
            self._mon.set_local_events(self._track, code, self._event)
        return self._mon.DISABLE

    def _on_track(self, code: CodeType, _offset: int) -> Any:
        self._fired.append(code)
        return self._mon.DISABLE

    def begin(self) -> None:
        if not self._enabled:
            self._mon.set_events(self._discover, self._event)
            self._enabled = True
        # Re-arm what fired since the last test began, between tests included: code that ran
        # in pytest's reporting must report again in this test.
        for code in dict.fromkeys(self._fired):
            self._mon.set_local_events(self._track, code, 0)
            self._mon.set_local_events(self._track, code, self._event)
        self._fired = []

    def pause(self) -> None:
        """Nothing to do: a disabled location costs nothing, so pytest's own work is free."""

    def resume(self) -> None:
        """Nothing to do (see ``pause``)."""

    def take(self) -> list[CodeType]:
        return list(dict.fromkeys(self._fired))

    def close(self) -> None:
        """Switch every event off and give both tool ids back."""
        self._mon.set_events(self._discover, 0)
        for code in self._tracked:
            self._mon.set_local_events(self._track, code, 0)
        for tool in (self._discover, self._track):
            self._mon.register_callback(tool, self._event, None)
            self._mon.free_tool_id(tool)


class CProfileTracer:
    """The ``greenline._ctracer`` profile hook, installed in new threads as they start."""

    name = "c-profile"

    def __init__(self, include: tuple[str, ...], exclude: tuple[str, ...]) -> None:
        from greenline import _ctracer

        self._ext = _ctracer
        _ctracer.set_filter(include, exclude)

    def _in_new_thread(self, _frame: FrameType, _event: str, _arg: object) -> None:
        self._ext.start()

    def begin(self) -> None:
        self._ext.collect()  # a new epoch: everything counts as unseen again
        self.resume()

    def pause(self) -> None:
        # On 3.11 an active hook slows every line, so pytest's own work runs without it.
        self._ext.stop()
        threading.setprofile(None)  # type: ignore[arg-type,unused-ignore]

    def resume(self) -> None:
        threading.setprofile(self._in_new_thread)
        self._ext.start()

    def take(self) -> list[CodeType]:
        return self._ext.collect()

    def close(self) -> None:
        self.pause()


class PythonProfileTracer:
    """``sys.setprofile`` in pure Python: correct everywhere, and the slowest."""

    name = "python-profile"

    def __init__(self, include: tuple[str, ...], exclude: tuple[str, ...]) -> None:
        self._ids: set[int] = set()
        self._seen: list[CodeType] = []
        self._filter = _CodeFilter(include, exclude)

    def _on_event(self, frame: FrameType, event: str, _arg: object) -> None:
        if event == "call":
            code = frame.f_code
            if id(code) not in self._ids:
                self._ids.add(id(code))
                if self._filter.wants(code):
                    self._seen.append(code)

    def begin(self) -> None:
        self._ids = set()
        self._seen = []
        self.resume()

    def pause(self) -> None:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type,unused-ignore]

    def resume(self) -> None:
        threading.setprofile(self._on_event)
        sys.setprofile(self._on_event)

    def take(self) -> list[CodeType]:
        seen, self._seen = self._seen, []
        return seen

    def close(self) -> None:
        self.pause()


TRACERS: dict[str, type[MonitoringTracer | CProfileTracer | PythonProfileTracer]] = {
    MonitoringTracer.name: MonitoringTracer,
    CProfileTracer.name: CProfileTracer,
    PythonProfileTracer.name: PythonProfileTracer,
}


def make_tracer(
    include: tuple[str, ...],
    exclude: tuple[str, ...] = FOREIGN_FRAGMENTS,
    prefer: str | None = None,
) -> Tracer:
    """The fastest tracer available here (or the one named by ``prefer``)."""
    if prefer:
        return TRACERS[prefer](include, exclude)
    order: list[str] = [CProfileTracer.name, PythonProfileTracer.name]
    if sys.version_info >= (3, 12):
        order.insert(0, MonitoringTracer.name)
    for name in order:
        try:
            return TRACERS[name](include, exclude)
        except (ImportError, RuntimeError):
            continue
    raise RuntimeError("no tracer available")
