"""The place form's "send test" button: one signed ``rain.test`` POST to the
place's webhook, through the alerts' own path (the SSRF guard, the checked
address pinned, the HMAC signature, the total deadline), so a receiver that
accepts the test accepts alerts."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import secrets
import time
import urllib.parse

from django.conf import settings

from weatherapp.alerting.netguard import Refused, check_webhook_url, public_address
from weatherapp.alerting.webhooks import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    _PinnedHTTPConnection,
    _PinnedHTTPSConnection,
    sign,
)
from weatherapp.deadline import Deadline
from weatherapp.models import Place


def check_payload(place: Place) -> dict:
    return {
        "type": "rain.test",
        "test": True,
        "place": {
            "id": place.pk,
            "name": place.name,
            "latitude": place.latitude,
            "longitude": place.longitude,
        },
        "threshold": place.threshold,
        "sent_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def send_check(place: Place) -> tuple[bool, str]:
    """(whether the receiver answered 2xx, what happened in words)."""
    try:
        parts, port = check_webhook_url(place.webhook_url)
        host = parts.hostname
        assert host is not None  # check_webhook_url refuses a URL without a host
        address = public_address(host, port)
    except Refused as exc:
        return False, f"not sent: {exc}"
    body = json.dumps(check_payload(place)).encode()
    timestamp = int(time.time())
    kind = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    conn = kind(host, port, address, timeout=settings.WEBHOOK_TIMEOUT)
    target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": settings.USER_AGENT,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(place.webhook_secret, timestamp, body),
        IDEMPOTENCY_HEADER: f"weatheralert-test-{secrets.token_hex(8)}",
    }
    with Deadline(settings.DELIVERY_DEADLINE, lambda: conn.sock) as deadline:
        try:
            conn.request("POST", target, body=body, headers=headers)
            status = conn.getresponse().status
        except (OSError, http.client.HTTPException) as exc:
            problem = deadline.explain(f"{type(exc).__name__}: {exc}")
            return False, f"no answer: {problem}"
        finally:
            conn.close()
    if 200 <= status < 300:
        return True, f"the receiver answered HTTP {status}"
    return False, f"the receiver answered HTTP {status}"
