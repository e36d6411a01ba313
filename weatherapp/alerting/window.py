"""When the rain of an alert is expected, on the place's own clock.

The model predicts several horizons (HORIZONS, 1 to 6 hours); the alert is
about one of them, the alert horizon (HORIZON_HOURS after the prediction's
hour), so an alert names a window: from the hour the event opened to its end,
in the place's zone with its abbreviation (UTC when the zone is unknown
here, as the cycle judges it). Pure: no database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from weatherapp.forecast.variables import HORIZON_HOURS

from .decisions import zone_or_utc


@dataclass(frozen=True)
class Window:
    start: dt.datetime  # aware, UTC
    end: dt.datetime  # aware, UTC
    zone: str  # the IANA name the local times are in

    def local(self) -> tuple[dt.datetime, dt.datetime]:
        zone, _ = zone_or_utc(self.zone)
        return self.start.astimezone(zone), self.end.astimezone(zone)

    @property
    def end_label(self) -> str:
        return _label(self.local()[1])

    @property
    def zone_label(self) -> str:
        """The abbreviation at the window's end (EST, AEDT, +0530 ...)."""
        return _abbreviation(self.local()[1])

    def subject_phrase(self) -> str:
        """``before 18:00 EST``"""
        return f"before {self.end_label} {self.zone_label}"

    def body_phrase(self) -> str:
        """``between 15:00 and 18:00 (EST) on Sunday 8 March 2026``; across a
        change of offset (DST) each end carries its own abbreviation."""
        start, end = self.local()
        day = f"{start:%A} {start.day} {start:%B %Y}"
        if _abbreviation(start) != _abbreviation(end):
            return (
                f"between {_label(start)} {_abbreviation(start)} and "
                f"{_label(end)} {_abbreviation(end)} on {day}"
            )
        return f"between {_label(start)} and {_label(end)} ({self.zone_label}) on {day}"


def event_window(started_at: dt.datetime, zone_name: str) -> Window:
    """The window of an event that opened at ``started_at`` (the prediction's
    hour, aware) for a place in ``zone_name``."""
    zone, found = zone_or_utc(zone_name)
    start = started_at.astimezone(dt.UTC)
    return Window(
        start=start,
        end=start + dt.timedelta(hours=HORIZON_HOURS),
        zone=str(zone.key) if found else "UTC",
    )


def clock(moment: dt.datetime, zone: dt.tzinfo) -> str:
    """``15:00 EST``: an aware moment on a zone's clock (pages and emails)."""
    local = moment.astimezone(zone)
    return f"{_label(local)} {_abbreviation(local)}"


def _label(moment: dt.datetime) -> str:
    return f"{moment:%H:%M}"


def _abbreviation(moment: dt.datetime) -> str:
    name = moment.tzname() or ""
    # Zones without a letter abbreviation give "+0530" / "+10" style names.
    return name or f"UTC{moment:%z}"
