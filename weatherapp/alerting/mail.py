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
        subject=one_line(f"Rain likely at {place.name} ({context['percent']}%)"),
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
