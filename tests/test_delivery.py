"""Email and webhook delivery: every attempt stored, never twice, SSRF refused."""

import datetime as dt
import hashlib
import hmac
import json

import pytest
from django.contrib.auth.models import User
from django.core import mail

from weatherapp.alerting import delivery, netguard, webhooks
from weatherapp.alerting.netguard import Refused, public_address
from weatherapp.models import Alert, Place

pytestmark = pytest.mark.django_db


@pytest.fixture
def alert(webhook_receiver):
    owner = User.objects.create_user("ann", "ann@example.com", "pw")
    place = Place.objects.create(
        owner=owner,
        name="Home",
        latitude=36.1,
        longitude=-79.95,
        webhook_url=webhook_receiver.url,
    )
    return Alert.objects.create(
        place=place,
        event_started_at=dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC),
        probability=0.8,
    )


def test_email_has_text_html_and_one_click_unsubscribe(alert, settings):
    settings.SITE_URL = "https://weatheralert.example"
    result = delivery.deliver(alert.pk, "email")
    assert result.outcome == "sent"
    (message,) = mail.outbox
    assert message.to == ["ann@example.com"]
    assert "80%" in message.subject and "Home" in message.subject
    assert "80% chance" in message.body
    html, kind = message.alternatives[0]
    assert kind == "text/html" and "<a href=" in html
    link = message.extra_headers["List-Unsubscribe"].strip("<>")
    assert link.startswith("https://weatheralert.example/unsubscribe/")
    assert (
        message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    )
    assert link in message.body
    alert.refresh_from_db()
    assert alert.status == Alert.Status.SENT


def test_email_is_never_sent_twice(alert):
    delivery.deliver(alert.pk, "email")
    assert delivery.deliver(alert.pk, "email") is None
    assert len(mail.outbox) == 1
    assert alert.deliveries.filter(channel="email").count() == 1


def test_suppressed_alerts_are_not_delivered(alert):
    Alert.objects.filter(pk=alert.pk).update(status=Alert.Status.SUPPRESSED)
    assert delivery.deliver(alert.pk, "email") is None
    assert mail.outbox == []


def test_webhook_is_signed(alert, webhook_receiver, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    result = delivery.deliver(alert.pk, "webhook")
    assert result.outcome == "sent"
    (request,) = webhook_receiver.received
    assert request["path"] == "/hooks/rain"
    body = request["body"]
    timestamp = request["headers"]["X-Weatheralert-Timestamp"]
    expected = hmac.new(
        alert.place.webhook_secret.encode(),
        f"{timestamp}.".encode() + body,
        hashlib.sha256,
    ).hexdigest()
    assert request["headers"]["X-Weatheralert-Signature"] == f"sha256={expected}"
    payload = json.loads(body)
    assert payload["type"] == "rain.alert"
    assert payload["alert_id"] == alert.pk
    assert payload["probability"] == 0.8
    assert payload["place"]["name"] == "Home"


def test_a_wrong_secret_does_not_verify(alert):
    body = b'{"a": 1}'
    good = webhooks.sign("secret", 1700000000, body)
    assert webhooks.sign("other", 1700000000, body) != good
    assert webhooks.sign("secret", 1700000001, body) != good


def test_webhook_failures_are_stored_and_retryable(alert, webhook_receiver, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    Place.objects.filter(pk=alert.place_id).update(email_enabled=False)
    webhook_receiver.statuses = [503, 500]
    first = delivery.deliver(alert.pk, "webhook", final=False)
    assert first.outcome == "failed" and first.retry
    second = delivery.deliver(alert.pk, "webhook", final=False)
    assert second.retry
    third = delivery.deliver(alert.pk, "webhook", final=True)
    assert third.outcome == "sent"
    attempts = list(alert.deliveries.values_list("attempt", "outcome", "detail"))
    assert attempts == [
        (1, "failed", "HTTP 503"),
        (2, "failed", "HTTP 500"),
        (3, "sent", "HTTP 200"),
    ]
    alert.refresh_from_db()
    assert alert.status == Alert.Status.SENT


def test_a_final_failure_fails_the_alert(alert, webhook_receiver, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    Place.objects.filter(pk=alert.place_id).update(email_enabled=False)
    webhook_receiver.statuses = [500]
    delivery.deliver(alert.pk, "webhook", final=True)
    alert.refresh_from_db()
    assert alert.status == Alert.Status.FAILED


def test_webhook_to_loopback_is_refused(alert, webhook_receiver):
    result = delivery.deliver(alert.pk, "webhook")
    assert result.outcome == "refused" and not result.retry
    assert "non-public address" in result.detail
    assert webhook_receiver.received == []
    # Refused is final: it is not tried again.
    assert delivery.deliver(alert.pk, "webhook") is None


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "localhost",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.100.100.200",
        "0.0.0.0",
        "::1",
        "::ffff:127.0.0.1",
        "fe80::1",
        "fd00:ec2::254",
        "224.0.0.1",
    ],
)
def test_ssrf_guard_refuses_non_public_addresses(host):
    with pytest.raises(Refused):
        public_address(host, 80)


def test_ssrf_guard_allows_a_public_address():
    assert public_address("93.184.215.14", 443) == "93.184.215.14"


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "http://user:pw@example.com/", "https:///nohost"]
)
def test_bad_webhook_urls(url):
    with pytest.raises(Refused):
        netguard.check_webhook_url(url)


def test_a_dns_answer_that_changes_after_the_check_is_not_followed(
    alert, webhook_receiver, monkeypatch
):
    """DNS rebinding: the first answer is public, later ones point at
    loopback. The request must go to the address that was checked."""
    import socket

    port = int(webhook_receiver.url.split(":")[2].split("/")[0])
    real = socket.getaddrinfo
    answers = iter(["93.184.215.14"])

    def rebinding(host, *args, **kwargs):
        if host == "hooks.example.com":
            address = next(answers, "127.0.0.1")
            return real(address, *args, **kwargs)
        return real(host, *args, **kwargs)

    connected = []
    real_create = socket.create_connection

    def recording(address, *args, **kwargs):
        connected.append(address[0])
        raise OSError("offline test network")

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    monkeypatch.setattr(socket, "create_connection", recording)
    Place.objects.filter(pk=alert.place_id).update(
        webhook_url=f"http://hooks.example.com:{port}/hooks/rain"
    )
    result = delivery.deliver(alert.pk, "webhook")
    monkeypatch.setattr(socket, "create_connection", real_create)
    assert connected == ["93.184.215.14"]
    assert result.outcome == "failed"
    assert webhook_receiver.received == []
