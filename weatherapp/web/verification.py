"""Proving an account receives mail at its address before alerts go there:
a signed, expiring link emailed at sign-up (and on request)."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core import signing
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from weatherapp.models import EmailAddress

log = logging.getLogger(__name__)

SALT = "weatheralert.verify-email"
MAX_AGE_DAYS = 3
# Verification emails one account may ask for per hour (the resend button).
RESEND_LIMIT = "3/3600"


class Invalid(Exception):
    """A link that is not ours, altered, for another address, or expired."""

    def __init__(self, message: str, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


def verification_token(user: User) -> str:
    return signing.dumps({"u": user.pk, "e": user.email.casefold()}, salt=SALT)


def verification_url(user: User) -> str:
    path = reverse("verify-email", args=[verification_token(user)])
    return f"{settings.SITE_URL}{path}"


def start(user: User) -> EmailAddress:
    """The row saying ``user``'s address awaits verification (made or reset)."""
    row, _ = EmailAddress.objects.update_or_create(
        user=user, defaults={"email": user.email, "verified_at": None}
    )
    return row


def send_link(user: User) -> None:
    context = {
        "user": user,
        "url": verification_url(user),
        "days": MAX_AGE_DAYS,
    }
    send_mail(
        "Confirm your email address for weatheralert",
        render_to_string("weatherapp/email/verify.txt", context),
        None,
        [user.email],
    )


def verify(token: str) -> User:
    """Mark the address the link was made for as verified; raise Invalid."""
    try:
        data = signing.loads(token, salt=SALT, max_age=MAX_AGE_DAYS * 86400)
    except signing.SignatureExpired:
        raise Invalid("This link has expired.", expired=True) from None
    except signing.BadSignature:
        raise Invalid("This link is not valid.") from None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        raise Invalid("This link is not valid.")
    user = User.objects.filter(pk=data["u"]).first()
    if user is None or user.email.casefold() != data.get("e"):
        raise Invalid("This link is for an address the account no longer has.")
    row = EmailAddress.objects.filter(user=user).first()
    if row is None or row.email.casefold() != user.email.casefold():
        row = start(user)
    if row.verified_at is None:
        row.verified_at = timezone.now()
        row.save(update_fields=["verified_at"])
    return user


def pending(user: Any) -> EmailAddress | None:
    """The account's address row when it still awaits verification."""
    if not user.is_authenticated:
        return None
    row = EmailAddress.objects.filter(user=user).select_related("user").first()
    if row is None or row.verified:
        return None
    return row
