"""The work behind the tasks: weather -> prediction -> decision -> delivery."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from .alerts import decide
from .models import Alert, Place, Prediction

log = logging.getLogger(__name__)


def predict_place(place_id: int) -> int | None:
    """Predict rain for one place and decide; the id of a new alert, if any.

    Idempotent: a second run for the same newest hour finds its prediction
    stored and changes nothing, so a retried task cannot alert twice.
    """
    from .ai.predictor import get_model, predict_rain
    from .sources import get_source

    place = Place.objects.filter(pk=place_id, active=True).first()
    if place is None:
        return None
    hours = get_source().recent_hours(place.latitude, place.longitude)
    probability = predict_rain(hours, place.longitude)
    valid_at = dt.datetime.fromtimestamp(
        int(hours["time"][-1].astype("int64")), tz=dt.UTC
    )
    with transaction.atomic():
        place = Place.objects.select_for_update().get(pk=place_id)
        prediction, created = Prediction.objects.get_or_create(
            place=place,
            valid_at=valid_at,
            defaults={
                "probability": probability,
                "model_version": get_model().card["version"],
            },
        )
        if not created:
            return None
        decision = decide(
            probability,
            place.threshold,
            place.rain_event_open,
            settings.ALERT_HYSTERESIS,
        )
        if decision.event_open != place.rain_event_open:
            place.rain_event_open = decision.event_open
            place.save(update_fields=["rain_event_open"])
        if not decision.alert:
            return None
        try:
            with transaction.atomic():
                alert = Alert.objects.create(
                    place=place,
                    prediction=prediction,
                    event_started_at=valid_at,
                    probability=probability,
                )
        except IntegrityError:
            return None
    log.info("alert %s: %s p=%.2f", alert.pk, place.name, probability)
    return alert.pk


def deliver_alert(alert_id: int) -> None:
    """Email the place's owner once; the outcome is stored on the alert."""
    with transaction.atomic():
        alert = (
            Alert.objects.select_for_update()
            .select_related("place__owner")
            .filter(pk=alert_id, status=Alert.Status.PENDING)
            .first()
        )
        if alert is None:
            return
        place = alert.place
        start = timezone.localtime(alert.event_started_at, dt.UTC)
        subject = f"Rain likely at {place.name} ({alert.probability:.0%})"
        body = (
            f"Rain is likely at {place.name} within {_horizon()} hours of "
            f"{start:%Y-%m-%d %H:%M} UTC: probability {alert.probability:.0%} "
            f"(your threshold {place.threshold:.0%}).\n"
        )
        try:
            if not place.owner.email:
                raise ValueError("the place's owner has no email address")
            send_mail(subject, body, None, [place.owner.email])
        except Exception as exc:  # any transport error is an outcome to store
            alert.status, alert.detail = (
                Alert.Status.FAILED,
                f"{type(exc).__name__}: {exc}",
            )
        else:
            alert.status, alert.sent_at = Alert.Status.SENT, timezone.now()
        alert.save(update_fields=["status", "detail", "sent_at"])


def _horizon() -> int:
    from .ai.features import HORIZON_HOURS

    return HORIZON_HOURS
