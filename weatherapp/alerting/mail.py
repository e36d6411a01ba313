"""The email channel: an alert as plain text and HTML, with one-click
unsubscribe headers (RFC 2369, RFC 8058)."""

from __future__ import annotations

import smtplib
import socket

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.template.loader import render_to_string

from weatherapp.deadline import Deadline
from weatherapp.forecast.variables import HORIZON_HOURS
from weatherapp.models import Alert, Delivery

from .decisions import zone_or_utc
from .outcome import Result, not_sent
from .unsubscribe import unsubscribe_url
from .window import clock, event_window


def email_message(alert: Alert) -> EmailMultiAlternatives:
    place = alert.place
    window = event_window(alert.event_started_at, place.timezone)
    context = {
        "alert": alert,
        "place": place,
        "percent": round(alert.probability * 100),
        "horizon": HORIZON_HOURS,
        "window": window.body_phrase(),
        "zone": window.zone,
        "threshold_percent": round(place.threshold * 100),
        # The promise "we will not write again about this rain" and what
        # "this rain" means (alerting/decisions.py).
        "end_percent": max(
            0, round((place.threshold - settings.ALERT_HYSTERESIS) * 100)
        ),
        "end_hours": max(1, settings.EVENT_END_HOURS),
        "gap_hours": place.min_gap_hours,
        "place_url": f"{settings.SITE_URL}{place.get_absolute_url()}",
        "likely_from": (
            None
            if alert.rain_likely_from is None
            else clock(alert.rain_likely_from, zone_or_utc(window.zone)[0])
        ),
        "unsubscribe_url": unsubscribe_url(place),
    }
    subject = (
        f"Rain likely at {place.name} {window.subject_phrase()} ({context['percent']}%)"
    )
    message = EmailMultiAlternatives(
        subject=one_line(subject),
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
    refused = not_sent(alert.status)
    if refused is not None:
        return refused
    if not alert.place.email_enabled:
        return Result(Delivery.Outcome.REFUSED, "email alerts are off for this place")
    if not alert.place.owner.email:
        return Result(Delivery.Outcome.REFUSED, "the owner has no email address")
    # An address signed up with must be verified first (web/verification.py);
    # accounts an operator made have no EmailAddress row and are trusted.
    if not getattr(getattr(alert.place.owner, "email_address", None), "verified", 1):
        return Result(Delivery.Outcome.REFUSED, "email address not verified yet")
    connection = get_connection()
    deadline = Deadline(settings.DELIVERY_DEADLINE, lambda: _smtp_socket(connection))
    try:
        with deadline:
            connection.send_messages([email_message(alert)])
    except (OSError, ValueError) as exc:  # smtplib's errors are OSErrors
        problem = deadline.explain(f"{type(exc).__name__}: {exc}")
        transient = deadline.expired or is_transient(exc)
        if not transient:
            problem = f"permanent, not retried: {problem}"
        return Result(Delivery.Outcome.FAILED, problem, transient)
    finally:
        connection.close()
    return Result(Delivery.Outcome.SENT, f"to {alert.place.owner.email}")


def _smtp_socket(connection: BaseEmailBackend) -> socket.socket | None:
    """The SMTP backend's socket, if it has one (console, file and memory
    backends have none)."""
    smtp = getattr(connection, "connection", None)
    sock = getattr(smtp, "sock", None)
    return sock if isinstance(sock, socket.socket) else None


def is_transient(exc: BaseException) -> bool:
    """Whether sending again later may succeed.

    Permanent: a message that cannot be built (Django's BadHeaderError, a
    header that will not encode: ValueErrors) and an SMTP 5xx answer,
    including recipients refused with 5xx only. Transient: connection
    errors, timeouts, a dropped connection and 4xx answers (greylisting
    refuses recipients with 450/451, so refused recipients count by code).
    A name with a line break failed five times as if transient before.
    """
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return not codes or any(code < 500 for code in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        return not 500 <= exc.smtp_code <= 599
    return not isinstance(exc, ValueError)


def one_line(text: str) -> str:
    """``text`` fit for a header: names saved before control characters were
    refused (CR/LF would make the message unsendable) lose them here."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())
