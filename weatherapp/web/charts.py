"""Server-rendered SVG chart geometry: a pure function, no JavaScript.

The last ``hours`` of predictions and, beside them, the hours ahead that the
newest prediction is about (``horizon``), with the alert threshold, the level
an event ends below, and markers where alerts went out; every time in the
place's own zone. The same figures come as rows for a text table.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

WIDTH, HEIGHT = 640, 240
# Room for "100%" on the left and for the last tick label on the right, so
# that no label is clipped by the viewBox even at a phone's larger font.
LEFT, RIGHT, TOP, BOTTOM = 68, 30, 14, 50
UTC = dt.UTC
ABOVE = " (above threshold)"
# Hours of history a place's chart shows; PREDICTION_RETENTION_HOURS keeps
# them (and the hours verification needs), and no more.
CHART_HOURS = 12


@dataclass
class Tick:
    x: float
    label: str
    anchor: str = "middle"


@dataclass
class Marker:
    x: float
    label: str


@dataclass
class Row:
    time: str
    percent: int
    above: bool
    alert: str = ""


@dataclass
class Chart:
    width: int = WIDTH
    height: int = HEIGHT
    points: str = ""  # SVG polyline points
    dots: list[tuple[float, float, str]] = field(default_factory=list)
    threshold_y: float = 0.0
    threshold_percent: int = 0
    end_y: float = 0.0  # an open event ends below this level
    end_percent: int = 0
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    left: int = LEFT
    right_x: int = WIDTH - RIGHT
    top: int = TOP
    bottom_y: int = HEIGHT - BOTTOM
    axis_label: str = "time (UTC)"
    axis_label_x: float = (LEFT + WIDTH - RIGHT) / 2
    now_x: float | None = None  # the newest prediction
    ahead_x: float = 0.0  # the hours ahead: from now_x to ahead_x
    ahead_y: float = 0.0  # ... shaded up to the newest probability
    ahead_w: float = 0.0
    ahead_h: float = 0.0
    ahead_label: str = ""
    markers: list[Marker] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)


def _hhmm(t: dt.datetime, zone: dt.tzinfo) -> str:
    return f"{t.astimezone(zone):%H:%M}"


def _zone_names(times: list[dt.datetime], zone: dt.tzinfo) -> str:
    """The zone's abbreviations over ``times``: "EST", or "EDT/EST" across a
    change of clocks."""
    names: list[str] = []
    for t in times:
        name = t.astimezone(zone).tzname() or "UTC"
        if name not in names:
            names.append(name)
    return "/".join(names)


def probability_chart(
    series: list[tuple[dt.datetime, float]],
    threshold: float,
    hours: int = CHART_HOURS,
    *,
    zone: dt.tzinfo = UTC,
    hysteresis: float = 0.1,
    horizon: int = 3,
    alerts: list[tuple[dt.datetime, str]] | None = None,
) -> Chart:
    """Probability over the ``hours`` before the newest point and the
    ``horizon`` hours after it, with the threshold, the event-end level
    (threshold − ``hysteresis``) and ``alerts`` as (time, what happened)."""
    chart = Chart()
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM

    def y(p: float) -> float:
        return round(TOP + (1 - min(max(p, 0.0), 1.0)) * plot_h, 1)

    end_level = max(threshold - hysteresis, 0.0)
    chart.threshold_y, chart.threshold_percent = y(threshold), round(threshold * 100)
    chart.end_y, chart.end_percent = y(end_level), round(end_level * 100)
    chart.y_ticks = [(y(p), f"{p:.0%}") for p in (0, 0.25, 0.5, 0.75, 1)]
    chart.axis_label = f"time ({_zone_names([dt.datetime.now(UTC)], zone)})"
    if not series:
        return chart
    end = max(t for t, _ in series)
    start = end - dt.timedelta(hours=hours)
    stop = end + dt.timedelta(hours=horizon)
    span = (stop - start).total_seconds()

    def x(t: dt.datetime) -> float:
        return round(LEFT + (t - start).total_seconds() / span * plot_w, 1)

    shown = sorted((t, p) for t, p in series if t >= start)
    chart.points = " ".join(f"{x(t)},{y(p)}" for t, p in shown)
    chart.dots = [
        (x(t), y(p), f"{_hhmm(t, zone)}: {p:.0%}{ABOVE * (p >= threshold)}")
        for t, p in shown
    ]
    latest = shown[-1][1]
    chart.now_x, chart.ahead_x, chart.ahead_y = x(end), x(stop), y(latest)
    chart.ahead_w = round(chart.ahead_x - chart.now_x, 1)
    chart.ahead_h = round(chart.bottom_y - chart.ahead_y, 1)
    chart.ahead_label = (
        f"next {horizon} h ({_hhmm(end, zone)}–{_hhmm(stop, zone)}): {latest:.0%}"
    )
    chart.axis_label = f"time ({_zone_names([start, end, stop], zone)})"

    # Ticks on the place's own 6-hour marks (00, 06, 12, 18 local time).
    first = start.replace(minute=0, second=0, microsecond=0)
    if first < start:
        first += dt.timedelta(hours=1)
    t = first
    while t <= stop:
        if t.astimezone(zone).hour % 6 == 0:
            tx = x(t)
            anchor = "end" if tx > WIDTH - RIGHT - 20 else "middle"
            chart.x_ticks.append(Tick(tx, _hhmm(t, zone), anchor))
        t += dt.timedelta(hours=1)

    flagged: dict[dt.datetime, str] = {}
    for when, what in alerts or []:
        if start <= when <= stop:
            label = f"{_hhmm(when, zone)}: alert {what}"
            chart.markers.append(Marker(x(when), label))
            flagged[when] = what
    chart.rows = [
        Row(
            f"{t.astimezone(zone):%Y-%m-%d %H:%M %Z}",
            round(p * 100),
            p >= threshold,
            flagged.get(t, ""),
        )
        for t, p in reversed(shown)
    ]
    return chart
