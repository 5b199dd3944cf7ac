"""Plain option values checked without Typer's validation machinery.

Typer (0.2x) checks each value of each option through a pydantic TypeAdapter built on first
use: importing pydantic and building the adapters costs every command line tens of
milliseconds before the command starts. Most values need none of it: an option left out, a
default, a name from a choice, a whole number in range, a string. This module answers those
and hands every other value (one to reject, a path, a list, a float) to Typer's own coercion,
so what a command receives, and every message about a bad value, is Typer's.
"""

from __future__ import annotations

import enum
import re
from typing import Any

from typer import core

_DIGITS = re.compile(r"0|[1-9][0-9]*")
#: returned by ``plain_value`` when only Typer's coercion can say
UNDECIDED: Any = object()


def plain_value(descriptor: Any, value: Any, param: Any, ctx: Any) -> Any:
    """``value`` as Typer would coerce it, when that needs no adapter; else UNDECIDED."""
    multi = param.multiple or param.nargs == -1
    if value is None:
        return () if multi else None
    info = descriptor.parameter_info
    if multi or param.nargs != 1 or descriptor.file_annotation is not None or info.parser:
        return UNDECIDED
    kind = descriptor.annotation
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return _choice(kind, value, info.case_sensitive, ctx)
    if kind is int and not info.clamp:
        return _whole_number(value, info.min, info.max)
    if kind is str and isinstance(value, str):
        return value
    return UNDECIDED


def _choice(kind: type[enum.Enum], value: Any, case_sensitive: bool, ctx: Any) -> Any:
    if isinstance(value, kind):
        return value
    if not isinstance(value, str) or not case_sensitive or ctx.token_normalize_func:
        return UNDECIDED
    return next((m for m in kind if str(m.value) == value), UNDECIDED)


def _whole_number(value: Any, low: Any, high: Any) -> Any:
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        value = int(value)
    if type(value) is not int:
        return UNDECIDED
    if (low is not None and value < low) or (high is not None and value > high):
        return UNDECIDED
    return value


class PlainFirst:
    """A parameter's coercion: the plain answer when there is one, else Typer's (built once,
    on the first value that needs it)."""

    def __init__(self, param: Any, build_typer_coercion: Any) -> None:
        self.param = param
        self.build_typer_coercion = build_typer_coercion
        self.full: Any = None

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        plain = plain_value(param.type_descriptor, value, param, ctx)
        if plain is not UNDECIDED:
            return plain
        if self.full is None:
            self.full = self.build_typer_coercion(self.param.type_descriptor)
        return self.full.coerce(value, param=param, ctx=ctx)


def install() -> None:
    """Route Typer's parameters through PlainFirst (Typer versions without runtime coercion
    objects are left as they are)."""
    parameter = getattr(core, "_TyperParameter", None)
    build = getattr(core, "build_runtime_param", None)
    current = getattr(parameter, "get_runtime_param", None)
    if parameter is None or build is None or current is None or getattr(current, "plain", False):
        return

    def get_runtime_param(self: Any) -> Any:
        if self._runtime_param is None:
            self._runtime_param = PlainFirst(self, build)
        return self._runtime_param

    get_runtime_param.plain = True  # type: ignore[attr-defined]
    parameter.get_runtime_param = get_runtime_param
