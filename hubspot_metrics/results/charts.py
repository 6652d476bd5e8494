"""Geometry of the report's small trend charts: where each point, gap, tick and label goes.

Nothing here writes markup: the report's template draws the SVG from a `Chart`, so every
text is escaped there. A chart shows closed months as a solid line with filled dots and the
open month (if any) as a hollow dot on a dashed line. Its scale leaves out isolated spikes, so
one wild month cannot flatten the rest: a point beyond the scale is drawn on the axis and
marked. A spike is a value outside a fence of three interquartile ranges around the quartiles
whose neighbours are inside it and more than that reach away; the first or last points of a
steady rise or fall are never spikes, since their neighbours lead up to them.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Callable

WIDTH, HEIGHT = 320, 150
LEFT, RIGHT, TOP, BOTTOM = 40, 10, 26, 22  # room for y labels, the unit and last value, month labels
FENCE_IQRS = 3.0
# When most values are equal the interquartile range is 0; a fence of half the median (or 1
# for a median of 0) still lets ordinary variation through.
FLAT_FENCE_SHARE = 0.5
MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Point:
    period: str                 # "2026-10"
    value: float | None
    reason: str | None = None   # why the value is missing
    open: bool = False          # the month still running


@dataclass(frozen=True)
class Series:
    name: str
    points: list[Point]
    muted: bool = False         # a reference line drawn in grey behind the main one


@dataclass
class Dot:
    x: float
    y: float
    title: str
    open: bool
    clipped: str | None = None  # "high" or "low": the value lies beyond the scale


@dataclass
class Line:
    name: str
    muted: bool
    solid: list[str] = field(default_factory=list)    # SVG path data, one per run of closed months
    dashed: list[str] = field(default_factory=list)   # the step into the open month
    dots: list[Dot] = field(default_factory=list)
    last: tuple[float, float, str, str] | None = None  # x, y, text, text-anchor


@dataclass
class Chart:
    width: int
    height: int
    plot: tuple[float, float, float, float]           # left, top, right, bottom
    y_ticks: list[tuple[float, str]]
    x_labels: list[tuple[float, str]]
    lines: list[Line]
    gaps: list[tuple[float, str]]                     # x, title: months with no value
    gap_notes: list[str]                              # "2026-01, 2026-02: no responses"
    clipped: bool
    unit: str                                         # the y-axis' unit, printed above it: "EUR", "%"
    label: str                                        # what the chart shows, for screen readers


def robust_range(values: list[float]) -> tuple[float, float]:
    """The lowest and highest of one series' values (in month order) once isolated spikes are left out."""
    return scale_range([values])


def scale_range(runs: list[list[float]]) -> tuple[float, float]:
    """The lowest and highest value of several series once isolated spikes are left out.

    `runs` holds each series' values in month order (months without a value left out); the
    fence is that of all values together, and whether a point is isolated is judged within
    its own series, by the points on either side of it."""
    values = [v for run in runs for v in run]
    if len(values) < 4:
        return min(values), max(values)
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    reach = FENCE_IQRS * (q3 - q1) or FLAT_FENCE_SHARE * abs(median) or 1.0
    inside = lambda v: q1 - reach <= v <= q3 + reach
    kept = []
    for run in runs:
        for i, value in enumerate(run):
            neighbours = run[max(0, i - 1):i] + run[i + 1:i + 2]
            spike = not inside(value) and bool(neighbours) and all(
                inside(n) and abs(value - n) > reach for n in neighbours)
            if not spike:
                kept.append(value)
    return min(kept), max(kept)


def _padded(low: float, high: float) -> tuple[float, float]:
    if low == high:
        spread = abs(low) * 0.1 or 1.0
        return low - spread, high + spread
    return low, high


def month_label(period: str, first: bool) -> str:
    """`2026-10` -> `Oct`; the first label and each January carry the year: `Jan 26`."""
    year, _, month = period.partition("-")
    if not month.isdigit() or not 1 <= int(month) <= 12:
        return period
    name = MONTH_NAMES[int(month) - 1]
    return f"{name} {year[-2:]}" if first or month == "01" else name


def line_chart(series: list[Series], unit: str, value_text: Callable[[float], str],
               reason_text: Callable[[str | None], str], label: str) -> Chart | None:
    """The chart of one or more series over the same months; None when no month has a value."""
    runs = [[p.value for p in s.points if p.value is not None] for s in series]
    if not any(runs):
        return None
    missing = missing_reasons(series[0], reason_text)
    low, high = _padded(*scale_range([run for run in runs if run]))
    left, top, right, bottom = LEFT, TOP, WIDTH - RIGHT, HEIGHT - BOTTOM
    months = [p.period for p in series[0].points]
    step = (right - left) / max(1, len(months) - 1)

    def x_of(i: int) -> float:
        return round(left + i * step, 1)

    def y_of(value: float) -> tuple[float, str | None]:
        clipped = "high" if value > high else "low" if value < low else None
        value = min(max(value, low), high)
        return round(bottom - (value - low) / (high - low) * (bottom - top), 1), clipped

    lines, gaps = [], []
    for s in series:
        line = Line(s.name, s.muted)
        run: list[str] = []
        previous: tuple[float, float] | None = None
        for i, p in enumerate(s.points):
            if p.value is None:
                if not s.muted:
                    gaps.append((x_of(i), f"{p.period}: no value ({reason_text(p.reason)})"))
                if len(run) > 1:
                    line.solid.append(" ".join(run))
                run, previous = [], None
                continue
            x = x_of(i)
            y, clipped = y_of(p.value)
            title = f"{s.name}, {p.period}{' so far' if p.open else ''}: {value_text(p.value)}"
            if clipped:
                title += " (beyond the scale)"
            line.dots.append(Dot(x, y, title, p.open, clipped))
            if p.open:
                if previous is not None:
                    line.dashed.append(f"M{previous[0]} {previous[1]} L{x} {y}")
            else:
                run.append(f"{'M' if not run else 'L'}{x} {y}")
            previous = (x, y)
            line.last = (x, y, value_text(p.value), "end")
        if len(run) > 1:
            line.solid.append(" ".join(run))
        if line.last is not None:
            x, y, text, anchor = line.last
            # Above the point, unless that would leave the drawing.
            line.last = (x, y - 6 if y - 6 > 10 else y + 14, text, anchor)
        lines.append(line)
    ticks = [(y_of(v)[0], compact_number(v)) for v in (low, (low + high) / 2, high)]
    shown = {0, len(months) - 1} | set(range(0, len(months), 3))
    x_labels = [(x_of(i), month_label(m, i == 0)) for i, m in enumerate(months) if i in shown]
    if len(months) - 1 in shown and len(months) - 2 in shown:
        x_labels = [xl for xl in x_labels if xl[0] != x_of(len(months) - 2)]  # two labels would touch
    return Chart(WIDTH, HEIGHT, (left, top, right, bottom), ticks, x_labels, lines, gaps, missing,
                 any(d.clipped for line in lines for d in line.dots), unit, label)


def missing_reasons(series: Series, reason_text: Callable[[str | None], str]) -> list[str]:
    """The months without a value, by reason: ["2026-01, 2026-02: no responses"]."""
    missing: dict[str, list[str]] = {}
    for p in series.points:
        if p.value is None:
            missing.setdefault(reason_text(p.reason), []).append(p.period)
    return [f"{', '.join(periods)}: {reason}" for reason, periods in missing.items()]


def compact_number(value: float) -> str:
    """Axis numbers: 1234567 -> 1.2M, 48250 -> 48.3k, 12.5 -> 12.5."""
    if math.isclose(value, 0, abs_tol=1e-9):
        return "0"
    size = abs(value)
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if size >= limit:
            return f"{value / limit:.1f}{suffix}".replace(".0" + suffix, suffix)
    if size >= 100 or value == int(value):
        return f"{value:.0f}"
    return f"{value:.1f}" if size >= 1 else f"{value:.2f}"


def axis_unit(unit: str, currency: str | None) -> str:
    money = currency or "money"
    return {"percent": "%", "hours": "hours", "days": "days", "currency": money, "currency_per_day": f"{money} per day",
            "currency_per_month": f"{money} per month", "per_day": "per day", "score": "score",
            "ratio": "ratio", "count": "count"}.get(unit, unit)
