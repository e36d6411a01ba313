"""Delivering an alert: email and webhook, each attempt stored as a Delivery.

Plain functions called by thin tasks (tasks.py). Each is idempotent: a channel
that already delivered an alert does not deliver it again, and the alert's
row is locked while a channel works, so two workers never send it twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.client
import ipaddress
import json
import socket
import ssl
import time
import urllib.parse
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse

from .ai.variables import HORIZON_HOURS
from .models import Alert, Delivery, Place

UNSUBSCRIBE_SALT = "weatheralert.unsubscribe"
SIGNATURE_HEADER = "X-Weatheralert-Signature"
TIMESTAMP_HEADER = "X-Weatheralert-Timestamp"
# Cloud metadata services answer on these addresses inside many networks.
METADATA_HOSTS = {"169.254.169.254", "fd00:ec2::254", "100.100.100.200"}


@dataclass(frozen=True)
class Result:
    outcome: str  # a Delivery.Outcome
    detail: str
    retry: bool = False  # worth another attempt later


# -- unsubscribe links ------------------------------------------------------


def unsubscribe_token(place: Place) -> str:
    """A signed, expiring token good for one place's email alerts only."""
    return signing.dumps(
        {"place": place.pk, "owner": place.owner_id}, salt=UNSUBSCRIBE_SALT
    )


def read_unsubscribe_token(token: str) -> tuple[int, int]:
    """(place id, owner id); raises signing.BadSignature unless valid and fresh."""
    max_age = dt.timedelta(days=settings.UNSUBSCRIBE_MAX_AGE_DAYS)
    data = signing.loads(token, salt=UNSUBSCRIBE_SALT, max_age=max_age)
    try:
        return int(data["place"]), int(data["owner"])
    except (TypeError, KeyError, ValueError):
        raise signing.BadSignature("not an unsubscribe token") from None


def unsubscribe_url(place: Place) -> str:
    path = reverse("unsubscribe", args=[unsubscribe_token(place)])
    return f"{settings.SITE_URL}{path}"


# -- email ------------------------------------------------------------------


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


# -- webhooks ---------------------------------------------------------------


class Refused(ValueError):
    """A webhook URL we will not call."""


def public_address(host: str, port: int) -> str:
    """Resolve ``host`` and return an address that is safe to connect to.

    Refuses loopback, private, link-local, multicast, reserved and cloud
    metadata addresses (SSRF). The caller connects to the returned address
    itself, so a DNS answer that changes between check and connect (DNS
    rebinding) cannot redirect the request.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise Refused(f"cannot resolve {host}: {exc}") from None
    addresses = [info[4][0] for info in infos]
    if settings.WEBHOOK_ALLOW_PRIVATE:
        return addresses[0]
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if ip.version == 6 and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        if (
            str(ip) in METADATA_HOSTS
            or ip.is_loopback
            or ip.is_private
            or ip.is_link_local
            or ip.is_multicast
            or ip.is_reserved
            or ip.is_unspecified
            or not ip.is_global
        ):
            raise Refused(f"{host} resolves to a non-public address ({ip})")
    return addresses[0]


def check_webhook_url(url: str) -> tuple[urllib.parse.SplitResult, int]:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused("a webhook URL must be http(s)://host/...")
    if parts.username or parts.password:
        raise Refused("a webhook URL must not carry credentials")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts, port


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """HMAC-SHA256 over ``"{timestamp}." + body``, as ``sha256=<hex>``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def webhook_payload(alert: Alert) -> dict:
    place = alert.place
    return {
        "type": "rain.alert",
        "alert_id": alert.pk,
        "place": {
            "id": place.pk,
            "name": place.name,
            "latitude": place.latitude,
            "longitude": place.longitude,
        },
        "probability": round(alert.probability, 4),
        "threshold": place.threshold,
        "horizon_hours": HORIZON_HOURS,
        "event_started_at": alert.event_started_at.isoformat(),
    }


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host, port, address, **kwargs):
        super().__init__(host, port, **kwargs)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host, port, address, **kwargs):
        super().__init__(host, port, context=ssl.create_default_context(), **kwargs)
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def send_webhook(alert: Alert) -> Result:
    place = alert.place
    try:
        parts, port = check_webhook_url(place.webhook_url)
        address = public_address(parts.hostname, port)
    except Refused as exc:
        return Result(Delivery.Outcome.REFUSED, str(exc))
    body = json.dumps(webhook_payload(alert)).encode()
    timestamp = int(time.time())
    kind = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    conn = kind(parts.hostname, port, address, timeout=settings.WEBHOOK_TIMEOUT)
    target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
    try:
        conn.request(
            "POST",
            target,
            body=body,
            headers={
                "Content-Type": "application/json",
                "User-Agent": settings.USER_AGENT,
                TIMESTAMP_HEADER: str(timestamp),
                SIGNATURE_HEADER: sign(place.webhook_secret, timestamp, body),
            },
        )
        status = conn.getresponse().status
    except (OSError, http.client.HTTPException) as exc:
        return Result(Delivery.Outcome.FAILED, f"{type(exc).__name__}: {exc}", True)
    finally:
        conn.close()
    if 200 <= status < 300:
        return Result(Delivery.Outcome.SENT, f"HTTP {status}")
    retry = status >= 500 or status in (408, 429)
    return Result(Delivery.Outcome.FAILED, f"HTTP {status}", retry)


# -- one attempt, recorded --------------------------------------------------

SENDERS = {Delivery.Channel.EMAIL: send_email, Delivery.Channel.WEBHOOK: send_webhook}


def channels(place: Place) -> list[str]:
    wanted = []
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
