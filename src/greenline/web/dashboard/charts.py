"""The geometry of the dashboard's inline SVG charts: plain numbers and labels, which the
templates draw (so every label is escaped there like any other text)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: float
    label: str
    css: str = "bar"
    href: str | None = None


@dataclass(frozen=True, slots=True)
class Line:
    name: str
    points: str  # an SVG polyline's points
    css: str
    dots: tuple[tuple[float, float, str], ...] = ()  # x, y, label


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    bars: tuple[Bar, ...] = ()
    lines: tuple[Line, ...] = ()
    ticks: tuple[tuple[float, str], ...] = ()  # y, label
    rules: tuple[tuple[float, str], ...] = field(default=())  # y, label: a benchmark


PAD_LEFT, PAD_TOP, PAD_BOTTOM = 48.0, 8.0, 18.0


Format = Callable[[float], str]


def _ticks(top: float, height: float, fmt: Format) -> tuple[tuple[float, str], ...]:
    inner = height - PAD_TOP - PAD_BOTTOM
    return tuple((PAD_TOP + inner * (1 - share), fmt(top * share)) for share in (0.0, 0.5, 1.0))


def column_chart(
    values: Sequence[tuple[float, str, str, str | None]],
    *,
    width: int = 720,
    height: int = 140,
    fmt: Format = "{:.2f}".format,
) -> Chart:
    """One column per value (value, label, css class, link), oldest left."""
    top = max((v for v, *_ in values), default=0.0) or 1.0
    inner_w, inner_h = width - PAD_LEFT - 4, height - PAD_TOP - PAD_BOTTOM
    step = min(inner_w / max(len(values), 1), 28.0)
    bars = []
    for i, (value, label, css, href) in enumerate(values):
        h = max(inner_h * value / top, 1.0)
        x = PAD_LEFT + i * step
        bars.append(Bar(x, PAD_TOP + inner_h - h, max(step - 2, 1.0), h, value, label, css, href))
    return Chart(width, height, bars=tuple(bars), ticks=_ticks(top, height, fmt))


def line_chart(
    series: Sequence[tuple[str, str, Sequence[tuple[str, float | None]]]],
    *,
    top: float,
    width: int = 520,
    height: int = 180,
    fmt: Format = "{:.0f}".format,
    rules: Sequence[tuple[float, str]] = (),
) -> Chart:
    """A polyline per series (name, css class, points of (label, value)); missing values
    break nothing (the line joins the points that exist)."""
    top = top or 1.0
    inner_w, inner_h = width - PAD_LEFT - 8, height - PAD_TOP - PAD_BOTTOM
    count = max((len(points) for *_, points in series), default=1)
    step = inner_w / max(count - 1, 1)

    def y_of(value: float) -> float:
        return PAD_TOP + inner_h * (1 - min(value, top) / top)

    lines = []
    for name, css, points in series:
        dots = tuple(
            (PAD_LEFT + i * step, y_of(value), f"{label}: {fmt(value)}")
            for i, (label, value) in enumerate(points)
            if value is not None
        )
        joined = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in dots)
        lines.append(Line(name, joined, css, dots))
    return Chart(
        width,
        height,
        lines=tuple(lines),
        ticks=_ticks(top, height, fmt),
        rules=tuple((y_of(value), label) for value, label in rules),
    )
