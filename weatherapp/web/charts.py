"""Server-rendered SVG chart geometry: a pure function, no JavaScript."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 28


@dataclass
class Chart:
    width: int = WIDTH
    height: int = HEIGHT
    points: str = ""  # SVG polyline points
    dots: list[tuple[float, float, str]] = field(default_factory=list)
    threshold_y: float = 0.0
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    left: int = LEFT
    right_x: int = WIDTH - RIGHT
    bottom_y: int = HEIGHT - BOTTOM


def probability_chart(
    series: list[tuple[dt.datetime, float]], threshold: float, hours: int = 24
) -> Chart:
    """Probability over the ``hours`` before the newest point, with the threshold."""
    chart = Chart()
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM

    def y(p: float) -> float:
        return round(TOP + (1 - p) * plot_h, 1)

    chart.threshold_y = y(threshold)
    chart.y_ticks = [(y(p), f"{p:.0%}") for p in (0, 0.25, 0.5, 0.75, 1)]
    if not series:
        return chart
    end = max(t for t, _ in series)
    start = end - dt.timedelta(hours=hours)

    def x(t: dt.datetime) -> float:
        return round(LEFT + (t - start).total_seconds() / (hours * 3600) * plot_w, 1)

    shown = sorted((t, p) for t, p in series if t >= start)
    chart.points = " ".join(f"{x(t)},{y(p)}" for t, p in shown)
    chart.dots = [(x(t), y(p), f"{t:%H:%M} UTC: {p:.0%}") for t, p in shown]
    chart.x_ticks = [
        (x(start + dt.timedelta(hours=h)), f"{start + dt.timedelta(hours=h):%H:%M}")
        for h in range(0, hours + 1, 6)
    ]
    return chart
