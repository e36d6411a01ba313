"""What one delivery attempt came to: shared by the channels and the
bookkeeping in delivery.py."""

from __future__ import annotations

from dataclasses import dataclass

from weatherapp.models import Alert, Delivery


@dataclass(frozen=True)
class Result:
    outcome: str  # a Delivery.Outcome
    detail: str
    retry: bool = False  # worth another attempt later


# Alerts recorded never to be sent, and why, in the words the pages use.
NOT_SENT: dict[str, str] = {
    Alert.Status.SUPPRESSED: "not sent: quiet hours",
    Alert.Status.NO_CHANNEL: "not sent: no channel on",
}


def not_sent(status: str) -> Result | None:
    """The refusal for an alert whose status says it is never to be sent (a
    channel asked anyway, e.g. a task queued before the status was settled)."""
    reason = NOT_SENT.get(status)
    return None if reason is None else Result(Delivery.Outcome.REFUSED, reason)
