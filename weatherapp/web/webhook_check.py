"""The place form's "send test" button: one signed ``rain.test`` POST to the
place's webhook, through the alerts' own path (the SSRF guard, the checked
address pinned, the HMAC signature, the total deadline), so a receiver that
accepts the test accepts alerts."""

from __future__ import annotations

import datetime as dt
import secrets

from weatherapp.alerting.webhooks import post_signed
from weatherapp.models import Delivery, Place


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
    key = f"weatheralert-test-{secrets.token_hex(8)}"
    result = post_signed(place, check_payload(place), key)
    if result.outcome == Delivery.Outcome.REFUSED:
        return False, f"not sent: {result.detail}"
    if result.detail.startswith("HTTP "):
        sent = result.outcome == Delivery.Outcome.SENT
        return sent, f"the receiver answered {result.detail}"
    return False, result.detail
