"""One audit hook per process for everything recording listens to (the files a test opens, the
processes it starts), passing each handler only the events it named.

Python raises audit events far more often than for those: every ``id()``, every read of a
frame's or a code object's guarded attributes, every ``os.putenv`` (pytest sets
``PYTEST_CURRENT_TEST`` three times a test). A hook written in Python is called for each of
them, a few dozen times per test; with the ``greenline._ctracer`` extension the names are
compared in C and Python is called only for the events listened to. Audit hooks cannot be
removed: the hook stays, and returns at once when nothing listens.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

Handler = Callable[[str, tuple[Any, ...]], None]

_handlers: dict[str, tuple[Handler, ...]] = {}
_installed: str | None = None  # "c" or "python" once the hook is in


def listen(events: tuple[str, ...], handler: Handler) -> None:
    """From now on, ``handler(event, args)`` is called for each of ``events`` (after the
    handlers listening to it before; a handler listens to an event once)."""
    global _installed
    for event in events:
        have = _handlers.get(event, ())
        if handler not in have:
            _handlers[event] = (*have, handler)
    if _installed != "python":
        try:
            from greenline import _ctracer

            _ctracer.set_audit_handler(_dispatch, tuple(e.encode() for e in sorted(_handlers)))
        except (ImportError, AttributeError):
            pass
        else:
            _installed = "c"
            return
    if _installed is None:
        sys.addaudithook(_dispatch)
        _installed = "python"


def hook_kind() -> str | None:
    """Which hook passes the events on: ``c``, ``python``, or None before any ``listen``."""
    return _installed


def _dispatch(event: str, args: tuple[Any, ...]) -> None:
    for handler in _handlers.get(event, ()):
        try:
            handler(event, args)
        except Exception as exc:  # a fault of greenline's never fails the test's own call
            import traceback  # only here: a traced child imports this module as it starts

            print(f"greenline: error in the {event!r} audit handler (ignored):", file=sys.stderr)
            traceback.print_exception(exc, file=sys.stderr)
