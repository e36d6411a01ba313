"""The email channel: an alert as plain text and HTML, with one-click
unsubscribe headers (RFC 2369, RFC 8058)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from weatherapp.forecast.variables import HORIZON_HOURS
from weatherapp.models import Alert, Delivery

from .outcome import Result
from .unsubscribe import unsubscribe_url


def email_message(alert: Alert) -> EmailMultiAlternatives:
    place = alert.place
    context = {
        "alert": alert,
        "place": place,
        "percent": round(alert.probability * 100),
        "horizon": HORIZON_HOURS,
        "threshold_percent": round(place.threshold * 100),
        "place_url": f"{settings.SITE_URL}{place.get_absolute_url()}",
        "unsubscribe_url": unsubscribe_url(place),
    }
    message = EmailMultiAlternatives(
        subject=f"Rain likely at {place.name} ({context['percent']}%)",
        body=render_to_string("weatherapp/email/alert.txt", context),
        to=[place.owner.email],
        headers={
            # RFC 2369 and RFC 8058: mail clients offer one-click unsubscribe.
            "List-Unsubscribe": f"<{context['unsubscribe_url']}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    message.attach_alternative(
        render_to_string("weatherapp/email/alert.html", context), "text/html"
    )
    return message


def send_email(alert: Alert) -> Result:
    if not alert.place.email_enabled:
        return Result(Delivery.Outcome.REFUSED, "email alerts are off for this place")
    if not alert.place.owner.email:
        return Result(Delivery.Outcome.REFUSED, "the owner has no email address")
    try:
        email_message(alert).send()
    except (OSError, ValueError) as exc:  # smtplib's errors are OSErrors
        return Result(Delivery.Outcome.FAILED, f"{type(exc).__name__}: {exc}", True)
    return Result(Delivery.Outcome.SENT, f"to {alert.place.owner.email}")
