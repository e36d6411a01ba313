"""The webhook channel: a JSON POST signed with HMAC-SHA256 over
``"{timestamp}.{body}"``, sent to the address the network guard checked."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import socket
import ssl
import time
import urllib.parse
from typing import Any

from django.conf import settings

from weatherapp.deadline import Deadline
from weatherapp.forecast.variables import HORIZON_HOURS
from weatherapp.models import Alert, Delivery, Place

from .netguard import Refused, check_webhook_url, public_address
from .outcome import Result, not_sent
from .window import event_window

SIGNATURE_HEADER = "X-Weatheralert-Signature"
TIMESTAMP_HEADER = "X-Weatheralert-Timestamp"
# The same on every attempt at one alert: delivery is at least once (a worker
# that dies mid-POST cannot know whether it arrived), so receivers dedupe on it.
IDEMPOTENCY_HEADER = "Idempotency-Key"


def idempotency_key(alert: Alert) -> str:
    return f"weatheralert-alert-{alert.pk}"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """HMAC-SHA256 over ``"{timestamp}." + body``, as ``sha256=<hex>``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def webhook_payload(alert: Alert) -> dict[str, Any]:
    place = alert.place
    window = event_window(alert.event_started_at, place.timezone)
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
        # When: the horizon after the event's first hour, in UTC, and the
        # zone the place's pages and emails show it in.
        "window_start": window.start.isoformat(),
        "window_end": window.end.isoformat(),
        "timezone": window.zone,
        # When within the window: the start of the first hour whose chance
        # reaches the threshold, and the chance of rain within 1...6 hours
        # (null from a model with one horizon).
        "rain_likely_from": (
            alert.rain_likely_from.isoformat() if alert.rain_likely_from else None
        ),
        "horizons": (
            {str(k): round(p, 4) for k, p in enumerate(alert.probabilities, 1)}
            if alert.probabilities and len(alert.probabilities) > 1
            else None
        ),
    }


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(host, port, context=self._tls, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


def send_webhook(alert: Alert) -> Result:
    refused = not_sent(alert.status)
    if refused is not None:
        return refused
    return post_signed(alert.place, webhook_payload(alert), idempotency_key(alert))


def post_signed(place: Place, payload: dict[str, Any], key: str) -> Result:
    """POST ``payload`` to the place's webhook: the URL checked by the network
    guard, the checked address pinned, HMAC-signed, under DELIVERY_DEADLINE.
    Alerts and the place form's test both go this way."""
    try:
        parts, port = check_webhook_url(place.webhook_url)
        host = parts.hostname
        assert host is not None  # check_webhook_url refuses a URL without a host
        address = public_address(host, port)
    except Refused as exc:
        return Result(Delivery.Outcome.REFUSED, str(exc))
    body = json.dumps(payload).encode()
    timestamp = int(time.time())
    kind = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    conn = kind(host, port, address, timeout=settings.WEBHOOK_TIMEOUT)
    target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": settings.USER_AGENT,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(place.webhook_secret, timestamp, body),
        IDEMPOTENCY_HEADER: key,
    }
    with Deadline(settings.DELIVERY_DEADLINE, lambda: conn.sock) as deadline:
        try:
            conn.request("POST", target, body=body, headers=headers)
            status = conn.getresponse().status
        except (OSError, http.client.HTTPException) as exc:
            problem, retry = _network_problem(exc)
            return Result(Delivery.Outcome.FAILED, deadline.explain(problem), retry)
        finally:
            conn.close()
    if 200 <= status < 300:
        return Result(Delivery.Outcome.SENT, f"HTTP {status}")
    retry = status >= 500 or status in (408, 429)
    return Result(Delivery.Outcome.FAILED, f"HTTP {status}", retry)


def _network_problem(exc: Exception) -> tuple[str, bool]:
    """What went wrong in words a receiver's owner can act on, and whether
    trying again may help. A certificate that is not trusted, or TLS that
    cannot be spoken at all, stays so for the minutes retries take, so it is
    not retried (retrying it sent four identical failures)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"the receiver's TLS certificate is not trusted ({exc.verify_message})",
            False,
        )
    if isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return "the connection closed during TLS", True
    if isinstance(exc, ssl.SSLError):  # e.g. an https URL on a plain-http port
        return f"TLS failed ({exc.reason or exc})", False
    if isinstance(exc, ConnectionRefusedError):
        return "the connection was refused (nothing listens on that port?)", True
    if isinstance(exc, TimeoutError):
        return f"no answer within {settings.WEBHOOK_TIMEOUT:g} s", True
    return f"{type(exc).__name__}: {exc}", True
