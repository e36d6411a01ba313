"""Alert decisions: pure functions, testable without a database."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    event_open: bool  # a rain event is in progress after this prediction
    alert: bool  # this prediction opened the event: record an alert
    suppressed: bool = False  # ... but quiet hours: record it, never send it


def in_quiet_hours(local: dt.time, start: dt.time | None, end: dt.time | None) -> bool:
    """Whether ``local`` falls in [start, end), which may wrap midnight."""
    if start is None or end is None or start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def decide(
    probability: float,
    threshold: float,
    event_open: bool,
    hysteresis: float,
    quiet: bool = False,
) -> Decision:
    """Open an event (and alert) when p reaches the threshold; close it below
    ``threshold - hysteresis``. In between, the event keeps its state, so a
    probability wobbling around the threshold yields one alert, not a burst.

    An event that opens in quiet hours is recorded as suppressed and stays
    open: when the quiet hours end, nothing is sent later in a burst.
    """
    if event_open:
        return Decision(event_open=probability >= threshold - hysteresis, alert=False)
    opens = probability >= threshold
    return Decision(event_open=opens, alert=opens, suppressed=opens and quiet)
