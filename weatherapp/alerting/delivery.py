"""Delivering an alert: one attempt through one channel, stored as a Delivery.

Plain functions called by thin tasks (tasks.py). Each is idempotent: a channel
that already delivered an alert does not deliver it again, and an attempt is
claimed (recorded as "sending") under the alert's row lock before the network
call, so two workers never send it at once. A worker that dies mid-attempt
leaves the claim behind; once stale, a webhook is tried again (at least once,
with the same Idempotency-Key) and an email is not (once per event). The
channels themselves live in mail.py and webhooks.py.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from weatherapp.models import Alert, Delivery, Place

from .mail import send_email
from .outcome import NOT_SENT, Result
from .webhooks import send_webhook

SENDERS: dict[str, Callable[[Alert], Result]] = {
    Delivery.Channel.EMAIL: send_email,
    Delivery.Channel.WEBHOOK: send_webhook,
}


def channels(place: Place) -> list[str]:
    """The channels the place has on: the one answer to "which channels are
    on", for delivery and for the pages that warn when none is."""
    wanted: list[str] = []
    if place.email_enabled:
        wanted.append(Delivery.Channel.EMAIL)
    if place.webhook_url:
        wanted.append(Delivery.Channel.WEBHOOK)
    return wanted


class Busy(Exception):
    """Another worker is in the middle of this alert's attempt on this channel."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"an attempt is in flight; look again in {seconds:.0f} s")
        self.seconds = seconds


def channels_for(alert_id: int) -> list[str]:
    """The channels to try for a pending alert. One whose place has every
    channel off is settled at once as not sent, rather than left pending."""
    alert = Alert.objects.select_related("place").filter(pk=alert_id).first()
    if alert is None or alert.status != Alert.Status.PENDING:
        return []
    wanted = channels(alert.place)
    if not wanted:
        Alert.objects.filter(pk=alert_id, status=Alert.Status.PENDING).update(
            status=Alert.Status.NO_CHANNEL
        )
    return wanted


def deliver(alert_id: int, channel: str, final: bool = True) -> Result | None:
    """One attempt through one channel; None when there is nothing to do.

    The attempt is claimed and recorded under the alert's row lock, which is
    released before the network call: a slow receiver (bounded anyway by
    DELIVERY_DEADLINE) holds no lock that pages or other tasks wait on.
    ``final`` says no retry will follow, so a failure then settles the alert.
    Raises Busy while another worker's attempt is in flight.
    """
    attempt = claim(alert_id, channel)
    if attempt is None:
        return None
    result = SENDERS[channel](attempt.alert)
    with transaction.atomic():
        alert = Alert.objects.select_for_update(of=("self",)).get(pk=alert_id)
        Delivery.objects.filter(pk=attempt.pk).update(
            outcome=result.outcome, detail=result.detail[:1000]
        )
        settle(alert, final or not result.retry)
    return result


def claim(alert_id: int, channel: str) -> Delivery | None:
    """Record an attempt as in flight; None when there is nothing to do (no
    such alert, one settled as not to be sent, or the channel already
    delivered or refused)."""
    now = timezone.now()
    with transaction.atomic():
        # "of self": never lock the place or its owner's user row as well.
        alert = (
            Alert.objects.select_for_update(of=("self",))
            .select_related("place__owner")
            .filter(pk=alert_id)
            .first()
        )
        if alert is None or alert.status in NOT_SENT:
            return None  # quiet hours, or every channel was off: settled
        attempts = alert.deliveries.filter(channel=channel)
        done = (Delivery.Outcome.SENT, Delivery.Outcome.REFUSED)
        if attempts.filter(outcome__in=done).exists():
            return None  # never twice
        in_flight = attempts.filter(outcome=Delivery.Outcome.SENDING).first()
        if in_flight is not None:
            stale_after = 2 * settings.DELIVERY_DEADLINE
            age = (now - in_flight.created_at).total_seconds()
            if age < stale_after:
                raise Busy(stale_after - age)
            # Its worker died mid-attempt: whether it arrived is unknown.
            in_flight.outcome = Delivery.Outcome.FAILED
            if channel == Delivery.Channel.EMAIL:
                in_flight.detail = "interrupted mid-send; not sent again (one email)"
                in_flight.save(update_fields=["outcome", "detail"])
                settle(alert, final=True)
                return None
            in_flight.detail = (
                "interrupted before an answer; it may have arrived, and the "
                "retry carries the same Idempotency-Key"
            )
            in_flight.save(update_fields=["outcome", "detail"])
        return Delivery.objects.create(
            alert=alert,
            channel=channel,
            attempt=attempts.count() + 1,
            outcome=Delivery.Outcome.SENDING,
        )


def settle(alert: Alert, final: bool) -> None:
    """sent once any channel delivered; failed once every channel gave up."""
    outcomes = {
        channel: set(
            alert.deliveries.filter(channel=channel).values_list("outcome", flat=True)
        )
        for channel in channels(alert.place)
    }
    in_flight = any(Delivery.Outcome.SENDING in o for o in outcomes.values())
    if any(Delivery.Outcome.SENT in o for o in outcomes.values()):
        status = Alert.Status.SENT
    elif final and not in_flight and all(o for o in outcomes.values()):
        status = Alert.Status.FAILED
    else:
        return
    if alert.status != status:
        alert.status = status
        alert.save(update_fields=["status"])
