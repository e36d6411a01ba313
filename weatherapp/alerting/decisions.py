"""Alert decisions: pure functions, testable without a database.

An **event** is what a person calls one rain. It opens (and alerts) when the
probability reaches the place's threshold. It ends only once the probability
has stayed below ``threshold - hysteresis`` for ``end_hours`` consecutive
hourly predictions, and for ``min_gap`` after it ended a rise above the
threshold is the same rain coming back: the event resumes, silently. So a
probability wobbling around ``threshold - hysteresis`` for an evening gives
one alert, and the email's "we will not write again about this rain" holds.
All times are the predictions' own (``valid_at``), never the wall clock.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class EventState:
    """What a place's stream of predictions leaves behind (stored on Place)."""

    open: bool = False
    # While open: consecutive predictions below threshold - hysteresis so far.
    dry_hours: int = 0
    # When the last event ended (the valid_at of the prediction that ended it).
    ended_at: dt.datetime | None = None


@dataclass(frozen=True)
class Rules:
    threshold: float
    hysteresis: float
    end_hours: int = 1  # dry predictions in a row that end an event (at least 1)
    min_gap: dt.timedelta = dt.timedelta(0)  # no new event this soon after one


@dataclass(frozen=True)
class Decision:
    state: EventState  # the state after this prediction
    alert: bool = False  # this prediction opened an event: record an alert
    suppressed: bool = False  # ... but in quiet hours: record it, never send it

    @property
    def event_open(self) -> bool:
        return self.state.open


def in_quiet_hours(local: dt.time, start: dt.time | None, end: dt.time | None) -> bool:
    """Whether ``local`` falls in [start, end), which may wrap midnight."""
    if start is None or end is None or start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def quiet_at(
    at: dt.datetime,
    zone: dt.tzinfo,
    start: dt.time | None,
    end: dt.time | None,
) -> bool:
    """Whether the instant ``at`` (aware) falls in the quiet hours as read on
    the place's own clock in ``zone`` (DST included)."""
    local = at.astimezone(zone).time().replace(tzinfo=None)
    return in_quiet_hours(local, start, end)


def likely_from(
    valid_at: dt.datetime, probabilities: Sequence[float], threshold: float
) -> dt.datetime | None:
    """When rain becomes likely: the start of the first hour k whose
    P(rain within k hours) reaches ``threshold`` (the hours after ``valid_at``
    are hour-ending, so hour k starts at valid_at + k - 1 hours). None when
    no horizon reaches it, or the model has one horizon (it cannot say)."""
    if len(probabilities) < 2:
        return None
    for k, p in enumerate(probabilities, start=1):
        if p >= threshold:
            return valid_at + dt.timedelta(hours=k - 1)
    return None


def zone_or_utc(name: str) -> tuple[zoneinfo.ZoneInfo, bool]:
    """The time zone called ``name``, and whether it was found; UTC when this
    machine's tz database lacks it (e.g. removed after it was saved)."""
    try:
        return zoneinfo.ZoneInfo(name), True
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC"), False


def decide(
    state: EventState,
    probability: float,
    at: dt.datetime,
    rules: Rules,
    quiet: bool = False,
) -> Decision:
    """The place's event state after the prediction ``probability`` for the
    hour ``at``, and whether to alert.

    An event that opens in quiet hours is recorded as suppressed and stays
    open: when the quiet hours end, nothing is sent later in a burst.
    """
    low = probability < rules.threshold - rules.hysteresis
    if state.open:
        if not low:  # still raining (or in between): the count starts again
            return Decision(EventState(True, 0, state.ended_at))
        dry = state.dry_hours + 1
        if dry < max(1, rules.end_hours):
            return Decision(EventState(True, dry, state.ended_at))
        return Decision(EventState(False, 0, at))  # the rain has passed
    if probability < rules.threshold:
        return Decision(EventState(False, 0, state.ended_at))
    since_end = None if state.ended_at is None else at - state.ended_at
    # A clock that went backwards (a replay started again) is no reason to wait.
    if since_end is not None and dt.timedelta(0) <= since_end < rules.min_gap:
        # The same rain coming back within the quiet period: no second alert.
        return Decision(EventState(True, 0, state.ended_at))
    return Decision(EventState(True, 0, state.ended_at), alert=True, suppressed=quiet)
