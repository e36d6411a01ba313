"""Email addresses: verified by a signed, expiring link before alert emails go
to them; one account per address; accounts from before (and those an
operator makes) keep getting alerts."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client

from weatherapp.alerting.mail import send_email
from weatherapp.models import Alert, EmailAddress, Place
from weatherapp.web import verification

pytestmark = pytest.mark.django_db
NOON = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC)


def sign_up(client, username="bob", email="bob@example.com"):
    return client.post(
        "/signup/",
        {
            "username": username,
            "email": email,
            "password1": "a-long-rain-pass",
            "password2": "a-long-rain-pass",
        },
    )


def link_in(message) -> str:
    return re.search(r"http://\S+/verify/\S+/", message.body).group(0)


def alert_for(user) -> Alert:
    place = Place.objects.create(owner=user, name="Home", latitude=1, longitude=2)
    return Alert.objects.create(place=place, event_started_at=NOON, probability=0.7)


def test_sign_up_emails_a_link_and_alerts_wait_for_it(client, settings):
    settings.SITE_URL = "http://app.example.com:8101"
    response = sign_up(client)
    assert response.status_code == 302
    (message,) = mail.outbox
    assert message.to == ["bob@example.com"]
    link = link_in(message)
    assert link.startswith("http://app.example.com:8101/verify/")
    bob = User.objects.get(username="bob")
    assert not bob.email_address.verified
    alert = alert_for(bob)
    result = send_email(alert)
    assert (result.outcome, result.detail) == (
        "refused",
        "email address not verified yet",
    )
    assert len(mail.outbox) == 1  # no alert email
    # The pages say so too, with the way to a new link (the alerts page only
    # said "refused", and the dashboard nothing).
    notice = re.compile(r'id="email-unverified">[^<]*<a href="/account/email/">')
    place_url = Place.objects.get(owner=bob).get_absolute_url()
    for url in ("/places/new/", "/", "/alerts/", place_url):
        assert notice.search(client.get(url).content.decode()), url
    page = client.get(place_url).content.decode()
    assert "email on (waiting for your address's confirmation)" in page
    # The link works without a session.
    page = Client().get(link.removeprefix(settings.SITE_URL))
    assert page.status_code == 200 and 'id="verified"' in page.content.decode()
    bob.email_address.refresh_from_db()
    assert bob.email_address.verified
    alert.refresh_from_db()
    assert send_email(alert).outcome == "sent"
    assert mail.outbox[-1].to == ["bob@example.com"]
    for url in ("/places/new/", "/", "/alerts/", place_url):
        assert 'id="email-unverified"' not in client.get(url).content.decode()
    assert "waiting for" not in client.get(place_url).content.decode()


def test_a_tampered_or_expired_link_does_nothing(client, monkeypatch):
    sign_up(client)
    path = "/" + link_in(mail.outbox[0]).split("/", 3)[3]
    bad = Client().get(path[:-3] + "xx/")
    assert bad.status_code == 400 and "not valid" in bad.content.decode()
    assert Client().get("/verify/%C2%B2/").status_code == 400
    monkeypatch.setattr(verification, "MAX_AGE_DAYS", -1)
    expired = Client().get(path)
    assert expired.status_code == 400 and "expired" in expired.content.decode()
    assert not EmailAddress.objects.get().verified


def test_a_link_for_an_old_address_does_nothing(client):
    sign_up(client)
    path = "/" + link_in(mail.outbox[0]).split("/", 3)[3]
    User.objects.filter(username="bob").update(email="other@example.com")
    assert Client().get(path).status_code == 400
    assert EmailAddress.objects.get().verified_at is None


def test_a_changed_address_is_no_longer_verified(client):
    sign_up(client)
    Client().get("/" + link_in(mail.outbox[0]).split("/", 3)[3])
    bob = User.objects.get(username="bob")
    assert bob.email_address.verified
    bob.email = "new@example.com"
    bob.save()
    assert send_email(alert_for(bob)).detail == "email address not verified yet"


@pytest.mark.parametrize("email", ["bob@example.com", "BOB@Example.COM"])
def test_one_account_per_address(client, email):
    sign_up(client)
    other = Client()
    response = sign_up(other, "robert", email)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert list(errors) == ["email"] and "already uses this email" in errors["email"][0]
    page = response.content.decode()
    assert 'aria-invalid="true"' in page and 'href="#id_email"' in page
    assert User.objects.count() == 1


def test_an_address_an_operator_used_is_taken_too(client):
    User.objects.create_user("op", "Shared@example.com")
    assert sign_up(client, "bob", "shared@EXAMPLE.com").status_code == 400


def test_resend_sends_a_new_link_a_few_times(client, settings):
    from django.core.cache import cache

    cache.clear()
    sign_up(client)
    page = client.get("/account/email/").content.decode()
    assert "not confirmed yet" in page and 'id="resend"' in page
    for _ in range(3):
        response = client.post("/account/email/", follow=True)
        assert "We sent a new link" in response.content.decode()
    assert len(mail.outbox) == 4
    response = client.post("/account/email/", follow=True)
    assert "Too many emails" in response.content.decode()
    assert len(mail.outbox) == 4
    # Every link works (the newest as well as the first).
    assert (
        Client().get("/" + link_in(mail.outbox[0]).split("/", 3)[3]).status_code == 200
    )
    assert "Alert emails go to" in client.get("/account/email/").content.decode()
    cache.clear()


def test_a_failing_mail_server_is_a_message_not_a_500(client, settings):
    settings.EMAIL_BACKEND = "tests.test_verification.BrokenBackend"
    response = sign_up(client)
    assert response.status_code == 302
    page = client.get("/places/new/").content.decode()
    assert "could not send the confirmation email" in page
    assert EmailAddress.objects.get().verified_at is None


class BrokenBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError(111, "Connection refused")


def test_accounts_from_before_count_as_verified():
    migration = __import__(
        "weatherapp.migrations.0005_email_address", fromlist=["verify_existing"]
    )
    first = User.objects.create_user("first", "Same@example.com")
    second = User.objects.create_user("second", "same@example.com")
    nobody = User.objects.create_user("nobody", "")
    migration.verify_existing(apps, None)
    assert first.email_address.verified
    assert not EmailAddress.objects.filter(user__in=[second, nobody]).exists()
    # Accounts without a row (an operator's, or a shared address) still get
    # alert emails.
    assert send_email(alert_for(second)).outcome == "sent"


def test_mark_verified_for_the_demo_user():
    demo = User.objects.create_user("demo", "demo@example.com")
    verification.start(demo)
    assert send_email(alert_for(demo)).outcome == "refused"
    EmailAddress.mark_verified(demo)
    assert send_email(Alert.objects.get()).outcome == "sent"
