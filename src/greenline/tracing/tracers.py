"""Three ways to learn which code objects of the project ran, fastest first for this Python.

Each tracer hands back the code objects first run since the last ``collect()``, limited to files
under the ``include`` prefixes whose names contain none of the ``exclude`` fragments:
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

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def collect(self) -> list[CodeType]: ...

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
    """``sys.monitoring`` PY_START events, re-armed for every test with ``restart_events``."""

    name = "sys.monitoring"

    def __init__(self, include: tuple[str, ...], exclude: tuple[str, ...]) -> None:
        mon = sys.monitoring  # type: ignore[attr-defined,unused-ignore]
        free = [tool for tool in (4, 3) if mon.get_tool(tool) is None]
        if not free:
            raise RuntimeError("no free sys.monitoring tool id")
        self._mon = mon
        self._tool: int = free[0]
        self._seen: list[CodeType] = []
        self._filter = _CodeFilter(include, exclude)
        mon.use_tool_id(self._tool, "greenline")
        mon.register_callback(self._tool, mon.events.PY_START, self._on_start)

    def _on_start(self, code: CodeType, _offset: int) -> Any:
        if self._filter.wants(code):
            self._seen.append(code)
        return self._mon.DISABLE

    def start(self) -> None:
        self._mon.set_events(self._tool, self._mon.events.PY_START)
        self._mon.restart_events()

    def stop(self) -> None:
        self._mon.set_events(self._tool, 0)

    def collect(self) -> list[CodeType]:
        seen, self._seen = self._seen, []
        self._mon.restart_events()
        return seen

    def close(self) -> None:
        """Give the tool id back, so another tracer (or tool) can use it."""
        self.stop()
        self._mon.register_callback(self._tool, self._mon.events.PY_START, None)
        self._mon.free_tool_id(self._tool)


class CProfileTracer:
    """The ``greenline._ctracer`` profile hook, installed in new threads as they start."""

    name = "c-profile"

    def __init__(self, include: tuple[str, ...], exclude: tuple[str, ...]) -> None:
        from greenline import _ctracer

        self._ext = _ctracer
        _ctracer.set_filter(include, exclude)

    def _in_new_thread(self, _frame: FrameType, _event: str, _arg: object) -> None:
        self._ext.start()

    def start(self) -> None:
        threading.setprofile(self._in_new_thread)
        self._ext.start()

    def stop(self) -> None:
        self._ext.stop()
        threading.setprofile(None)  # type: ignore[arg-type,unused-ignore]

    def collect(self) -> list[CodeType]:
        return self._ext.collect()

    def close(self) -> None:
        self.stop()


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

    def start(self) -> None:
        threading.setprofile(self._on_event)
        sys.setprofile(self._on_event)

    def stop(self) -> None:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type,unused-ignore]

    def collect(self) -> list[CodeType]:
        seen, self._seen = self._seen, []
        self._ids = set()
        return seen

    def close(self) -> None:
        self.stop()


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
