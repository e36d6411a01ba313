"""One-click unsubscribe links: signed, expiring, good for one place's email
alerts only. The signed token is the credential (RFC 8058: mail clients POST
without a session)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core import signing
from django.urls import reverse

from weatherapp.models import Place

UNSUBSCRIBE_SALT = "weatheralert.unsubscribe"


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
