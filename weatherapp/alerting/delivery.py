"""Delivering an alert: one attempt through one channel, stored as a Delivery.

Plain functions called by thin tasks (tasks.py). Each is idempotent: a channel
that already delivered an alert does not deliver it again, and the alert's
row is locked while a channel works, so two workers never send it twice. The
channels themselves live in mail.py and webhooks.py.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

from weatherapp.models import Alert, Delivery, Place

from .mail import send_email
from .outcome import Result
from .webhooks import send_webhook

SENDERS: dict[str, Callable[[Alert], Result]] = {
    Delivery.Channel.EMAIL: send_email,
    Delivery.Channel.WEBHOOK: send_webhook,
}


def channels(place: Place) -> list[str]:
    wanted: list[str] = []
    if place.email_enabled:
        wanted.append(Delivery.Channel.EMAIL)
    if place.webhook_url:
        wanted.append(Delivery.Channel.WEBHOOK)
    return wanted


def deliver(alert_id: int, channel: str, final: bool = True) -> Result | None:
    """One attempt through one channel; None when there is nothing to do.

    ``final`` says no retry will follow, so a failure then settles the alert.
    """
    with transaction.atomic():
        alert = (
            Alert.objects.select_for_update()
            .select_related("place__owner")
            .filter(pk=alert_id)
            .first()
        )
        if alert is None or alert.status == Alert.Status.SUPPRESSED:
            return None
        done = alert.deliveries.filter(channel=channel)
        if done.exclude(outcome=Delivery.Outcome.FAILED).exists():
            return None  # sent or refused before: never twice
        result = SENDERS[channel](alert)
        Delivery.objects.create(
            alert=alert,
            channel=channel,
            attempt=done.count() + 1,
            outcome=result.outcome,
            detail=result.detail[:1000],
        )
        settle(alert, final or not result.retry)
    return result


def settle(alert: Alert, final: bool) -> None:
    """sent once any channel delivered; failed once every channel gave up."""
    outcomes = {
        channel: set(
            alert.deliveries.filter(channel=channel).values_list("outcome", flat=True)
        )
        for channel in channels(alert.place)
    }
    if any(Delivery.Outcome.SENT in o for o in outcomes.values()):
        status = Alert.Status.SENT
    elif final and all(o for o in outcomes.values()):
        status = Alert.Status.FAILED
    else:
        return
    if alert.status != status:
        alert.status = status
        alert.save(update_fields=["status"])
