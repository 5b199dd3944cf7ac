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

Made with ``lines=True`` (branch granularity), a tracer also follows the lines each of those code
objects ran, returned by ``take_lines()`` after ``take()``: with ``sys.monitoring``, LINE events
local to the project's code objects, each location disabled after its first hit and re-armed per
test like PY_START; on 3.11, a trace hook instead of the profile hook (C, or ``sys.settrace`` in
pure Python), which every line of every frame passes through while a test runs. A trace hook
cannot share the interpreter with another one (coverage.py, a debugger): with one installed, a
line tracer refuses to start (RuntimeError) rather than switch it off.
"""

from __future__ import annotations

import itertools
import sys
import threading
from collections.abc import Callable
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

    def take_lines(self) -> dict[CodeType, set[int]]: ...

    def close(self) -> None: ...


def _refuse_if_traced() -> None:
    if sys.gettrace() is not None:
        raise RuntimeError("another trace function is installed (coverage.py or a debugger)")


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

    def __init__(
        self, include: tuple[str, ...], exclude: tuple[str, ...], lines: bool = False
    ) -> None:
        mon = sys.monitoring  # type: ignore[attr-defined,unused-ignore]
        free = [tool for tool in (4, 3, 5, 2) if mon.get_tool(tool) is None]
        if len(free) < 2:
            raise RuntimeError("fewer than two free sys.monitoring tool ids")
        self._mon = mon
        self._event: int = mon.events.PY_START
        self._tracked_events = self._event | (mon.events.LINE if lines else 0)
        self._discover, self._track = free[0], free[1]
        self._fired: list[CodeType] = []
        self._lines: list[tuple[CodeType, int]] = []
        self._tracked: list[CodeType] = []
        self._enabled = False
        self._filter = _CodeFilter(include, exclude)
        mon.use_tool_id(self._discover, "greenline-discover")
        mon.use_tool_id(self._track, "greenline")
        mon.register_callback(self._discover, self._event, self._on_discover)
        mon.register_callback(self._track, self._event, self._on_track)
        if lines:
            mon.register_callback(self._track, mon.events.LINE, self._on_line)

    def _on_discover(self, code: CodeType, _offset: int) -> Any:
        if self._filter.wants(code):
            self._fired.append(code)
            self._tracked.append(code)
            self._mon.set_local_events(self._track, code, self._tracked_events)
        return self._mon.DISABLE

    def _on_track(self, code: CodeType, _offset: int) -> Any:
        self._fired.append(code)
        return self._mon.DISABLE

    def _on_line(self, code: CodeType, line: int) -> Any:
        self._lines.append((code, line))
        return self._mon.DISABLE

    def begin(self) -> None:
        if not self._enabled:
            self._mon.set_events(self._discover, self._event)
            self._enabled = True
        # Re-arm what fired since the last test began, between tests included: code that ran
        # in pytest's reporting must report again in this test.
        for code in dict.fromkeys([*self._fired, *(code for code, _ in self._lines)]):
            self._mon.set_local_events(self._track, code, 0)
            self._mon.set_local_events(self._track, code, self._tracked_events)
        self._fired = []
        self._lines = []

    def pause(self) -> None:
        """Nothing to do: a disabled location costs nothing, so pytest's own work is free."""

    def resume(self) -> None:
        """Nothing to do (see ``pause``)."""

    def take(self) -> list[CodeType]:
        return list(dict.fromkeys(self._fired))

    def take_lines(self) -> dict[CodeType, set[int]]:
        lines: dict[CodeType, set[int]] = {}
        for code, line in self._lines:
            lines.setdefault(code, set()).add(line)
        return lines

    def close(self) -> None:
        """Switch every event off and give both tool ids back."""
        self._mon.set_events(self._discover, 0)
        for code in self._tracked:
            self._mon.set_local_events(self._track, code, 0)
        self._mon.register_callback(self._track, self._mon.events.LINE, None)
        for tool in (self._discover, self._track):
            self._mon.register_callback(tool, self._event, None)
            self._mon.free_tool_id(tool)


class CProfileTracer:
    """The ``greenline._ctracer`` profile hook, installed in new threads as they start."""

    name = "c-profile"

    def __init__(
        self, include: tuple[str, ...], exclude: tuple[str, ...], lines: bool = False
    ) -> None:
        from greenline import _ctracer

        if lines:
            _refuse_if_traced()
        self._ext = _ctracer
        self._with_lines = lines
        self._taken: list[CodeType] = []
        #: another trace function took the hook after this one started (see ``resume``)
        self.displaced = False
        _ctracer.set_filter(include, exclude)

    def _in_new_thread(self, _frame: FrameType, _event: str, _arg: object) -> None:
        self._ext.start(self._with_lines)

    def begin(self) -> None:
        self._ext.collect()  # a new epoch: everything counts as unseen again
        self.resume()

    def pause(self) -> None:
        # On 3.11 an active hook slows every line, so pytest's own work runs without it.
        if self.displaced:
            return  # the hook is the other tool's now
        self._ext.stop()
        if self._with_lines:
            threading.settrace(None)  # type: ignore[arg-type,unused-ignore]
        else:
            threading.setprofile(None)  # type: ignore[arg-type,unused-ignore]

    def resume(self) -> None:
        # the extension's trace hook carries no object: any trace object is someone else's
        # (a conftest's sys.settrace), which a trace hook must not switch off
        if self._with_lines and (self.displaced or sys.gettrace() is not None):
            self.displaced = True
            return
        if self._with_lines:
            threading.settrace(self._in_new_thread)
        else:
            threading.setprofile(self._in_new_thread)
        self._ext.start(self._with_lines)

    def take(self) -> list[CodeType]:
        self._taken = self._ext.collect()
        return self._taken

    def take_lines(self) -> dict[CodeType, set[int]]:
        out = {}
        for code, bits in zip(self._taken, self._ext.collect_lines(), strict=True):
            if bits:
                out[code] = set(itertools.compress(itertools.count(code.co_firstlineno), bits))
        return out

    def close(self) -> None:
        self.pause()


class PythonProfileTracer:
    """``sys.setprofile`` in pure Python: correct everywhere, and the slowest."""

    name = "python-profile"

    def __init__(
        self, include: tuple[str, ...], exclude: tuple[str, ...], lines: bool = False
    ) -> None:
        if lines:
            _refuse_if_traced()
        self._ids: set[int] = set()
        self._seen: list[CodeType] = []
        self._lines: dict[CodeType, set[int]] = {}
        self._with_lines = lines
        self._filter = _CodeFilter(include, exclude)
        #: another trace function took the hook after this one started (see ``resume``)
        self.displaced = False

    def _on_event(self, frame: FrameType, event: str, _arg: object) -> Any:
        if event == "call":
            code = frame.f_code
            if id(code) not in self._ids:
                self._ids.add(id(code))
                if self._filter.wants(code):
                    self._seen.append(code)
            if self._with_lines and self._filter.wants(code):
                return self._line_tracer(code)
        return None

    def _line_tracer(self, code: CodeType) -> Callable[[FrameType, str, object], Any]:
        """The local trace function of one frame of ``code``: notes each line it runs."""
        lines = self._lines.get(code)
        if lines is None:
            lines = self._lines[code] = set()
        add = lines.add

        def on_line(frame: FrameType, event: str, _arg: object) -> Any:
            if event == "line":
                add(frame.f_lineno)
            return on_line

        return on_line

    def begin(self) -> None:
        self._ids = set()
        self._seen = []
        self._lines = {}
        self.resume()

    def pause(self) -> None:
        if self.displaced:
            return  # the hook is the other tool's now
        if self._with_lines:
            sys.settrace(None)
            threading.settrace(None)  # type: ignore[arg-type,unused-ignore]
        else:
            sys.setprofile(None)
            threading.setprofile(None)  # type: ignore[arg-type,unused-ignore]

    def resume(self) -> None:
        if self._with_lines and (self.displaced or sys.gettrace() not in (None, self._on_event)):
            self.displaced = True  # a trace function set since (a conftest's): it stays
            return
        if self._with_lines:
            threading.settrace(self._on_event)
            sys.settrace(self._on_event)
        else:
            threading.setprofile(self._on_event)
            sys.setprofile(self._on_event)

    def take(self) -> list[CodeType]:
        seen, self._seen = self._seen, []
        return seen

    def take_lines(self) -> dict[CodeType, set[int]]:
        lines, self._lines = self._lines, {}
        return lines

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
    lines: bool = False,
) -> Tracer:
    """The fastest tracer available here (or the one named by ``prefer``), following lines too
    when asked; RuntimeError if none can."""
    if prefer:
        return TRACERS[prefer](include, exclude, lines)
    order: list[str] = [CProfileTracer.name, PythonProfileTracer.name]
    if sys.version_info >= (3, 12):
        order.insert(0, MonitoringTracer.name)
    problems: dict[str, str] = {}
    for name in order:
        try:
            return TRACERS[name](include, exclude, lines)
        except (ImportError, RuntimeError) as exc:
            problems[name] = str(exc)
    if len(set(problems.values())) == 1:  # one reason for all (a trace hook of another tool)
        raise RuntimeError(next(iter(problems.values())))
    raise RuntimeError(
        "no tracer available: " + "; ".join(f"{n}: {p}" for n, p in problems.items())
    )
