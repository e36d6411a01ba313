"""The alert decision: a pure function, testable without a database."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    event_open: bool  # a rain event is in progress after this prediction
    alert: bool  # this prediction opened the event: tell the person


def decide(
    probability: float, threshold: float, event_open: bool, hysteresis: float
) -> Decision:
    """Open an event (and alert) when p reaches the threshold; close it below
    ``threshold - hysteresis``. In between, the event keeps its state, so a
    probability wobbling around the threshold yields one alert, not a burst.
    """
    if event_open:
        return Decision(event_open=probability >= threshold - hysteresis, alert=False)
    opens = probability >= threshold
    return Decision(event_open=opens, alert=opens)
