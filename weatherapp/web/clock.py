"""Times as a person reads them: in the place's own zone, with the zone's name
("15:00 EST"). The API keeps UTC; only pages use this."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from weatherapp.alerting.decisions import zone_or_utc
from weatherapp.alerting.window import clock

__all__ = ["between", "clock", "shown_zone", "stamp"]

UTC = zoneinfo.ZoneInfo("UTC")


def shown_zone(name: str) -> zoneinfo.ZoneInfo:
    """The zone called ``name``; UTC when this machine's tz database lacks it
    (the same rule the alerts follow: alerting.decisions.zone_or_utc)."""
    return zone_or_utc(name)[0]


def stamp(t: dt.datetime, zone: dt.tzinfo) -> str:
    """ "2026-11-28 15:00 EST"."""
    local = t.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def between(start: dt.datetime, end: dt.datetime, zone: dt.tzinfo) -> str:
    """ "between 15:00 and 18:00 EST" (each end named when the clocks change
    in between)."""
    a, b = start.astimezone(zone), end.astimezone(zone)
    if a.tzname() == b.tzname():
        return f"between {a:%H:%M} and {b:%H:%M} {b.tzname()}"
    return f"between {a:%H:%M} {a.tzname()} and {b:%H:%M} {b.tzname()}"
