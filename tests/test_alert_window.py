"""Saying when: the alert's window in the place's local time with its zone
name (email), in UTC with the zone (webhook); and alerts never to be sent
(quiet hours, no channel on) read as such on every channel's path."""

import datetime as dt
import json

import pytest
from django.contrib.auth.models import User
from django.core import mail

from weatherapp.alerting import delivery
from weatherapp.alerting.mail import email_message, send_email
from weatherapp.alerting.webhooks import send_webhook, webhook_payload
from weatherapp.alerting.window import event_window
from weatherapp.models import Alert, Delivery, Place

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return User.objects.create_user("ann", "ann@example.com", "pw")


def make_alert(owner, zone, started_at, name="Greensboro", **fields):
    place = Place.objects.create(
        owner=owner, name=name, latitude=36.1, longitude=-79.95, **fields
    )
    # Saved as is: a zone this machine may not know (as in old rows).
    Place.objects.filter(pk=place.pk).update(timezone=zone)
    return Alert.objects.create(
        place=Place.objects.get(pk=place.pk),
        event_started_at=started_at,
        probability=0.67,
    )


def test_the_email_says_the_window_in_the_places_time(owner):
    alert = make_alert(
        owner, "America/New_York", dt.datetime(2026, 11, 28, 15, tzinfo=dt.UTC)
    )
    message = email_message(alert)
    assert message.subject == "Rain likely at Greensboro before 13:00 EST (67%)"
    assert "between 10:00 and 13:00 (EST) on Saturday 28 November 2026" in (
        message.body
    )
    html, _ = message.alternatives[0]
    assert "between 10:00 and 13:00 (EST)" in html
    assert "UTC" not in message.body


@pytest.mark.parametrize(
    ("zone", "start", "subject", "body"),
    [
        # The example: 15:00-18:00 EST.
        (
            "America/New_York",
            dt.datetime(2026, 11, 28, 20, tzinfo=dt.UTC),
            "before 18:00 EST",
            "between 15:00 and 18:00 (EST)",
        ),
        (
            "Australia/Sydney",
            dt.datetime(2026, 11, 28, 22, tzinfo=dt.UTC),
            "before 12:00 AEDT",
            "between 09:00 and 12:00 (AEDT) on Sunday 29 November 2026",
        ),
        # Across the spring-forward hour: each end with its own offset.
        (
            "America/New_York",
            dt.datetime(2026, 3, 8, 6, tzinfo=dt.UTC),
            "before 05:00 EDT",
            "between 01:00 EST and 05:00 EDT",
        ),
        (
            "America/New_York",
            dt.datetime(2026, 11, 1, 5, tzinfo=dt.UTC),
            "before 03:00 EST",
            "between 01:00 EDT and 03:00 EST",
        ),
        # A zone with no letters of its own, and one unknown here: UTC.
        (
            "Asia/Kathmandu",
            dt.datetime(2026, 11, 28, 6, 15, tzinfo=dt.UTC),
            "before 15:00 +0545",
            "between 12:00 and 15:00 (+0545)",
        ),
        (
            "US/Pacific-New",
            dt.datetime(2026, 11, 28, 20, tzinfo=dt.UTC),
            "before 23:00 UTC",
            "between 20:00 and 23:00 (UTC)",
        ),
    ],
)
def test_windows_across_zones_and_clock_changes(owner, zone, start, subject, body):
    message = email_message(make_alert(owner, zone, start))
    assert subject in message.subject
    assert body in message.body


def test_the_webhook_gives_the_window_in_utc_and_the_zone(owner):
    alert = make_alert(
        owner, "Australia/Sydney", dt.datetime(2026, 11, 28, 22, tzinfo=dt.UTC)
    )
    payload = webhook_payload(alert)
    assert payload["event_started_at"] == "2026-11-28T22:00:00+00:00"
    assert payload["window_start"] == "2026-11-28T22:00:00+00:00"
    assert payload["window_end"] == "2026-11-29T01:00:00+00:00"
    assert payload["timezone"] == "Australia/Sydney"
    json.dumps(payload)  # serializable as is
    unknown = make_alert(
        owner,
        "US/Pacific-New",
        dt.datetime(2026, 11, 28, 22, tzinfo=dt.UTC),
        name="Old",
    )
    assert webhook_payload(unknown)["timezone"] == "UTC"


def test_a_window_is_horizon_hours_long():
    window = event_window(dt.datetime(2026, 3, 8, 6, tzinfo=dt.UTC), "Nowhere/Else")
    assert window.end - window.start == dt.timedelta(hours=3)
    assert window.zone == "UTC"


def test_no_dead_duplicates():
    """Window.start_label was never read (the phrases format both ends
    themselves); SkillCount.BINS repeated alerting/skill.py's BINS, which
    the counts use."""
    from weatherapp.alerting import skill
    from weatherapp.alerting.window import Window
    from weatherapp.models import SkillCount

    assert not hasattr(Window, "start_label")
    assert not hasattr(SkillCount, "BINS") and skill.BINS == 100


# --- alerts never to be sent --------------------------------------------------


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (Alert.Status.SUPPRESSED, "not sent: quiet hours"),
        (Alert.Status.NO_CHANNEL, "not sent: no channel on"),
    ],
)
def test_an_alert_not_to_be_sent_is_refused_by_every_channel(owner, status, reason):
    alert = make_alert(
        owner,
        "UTC",
        dt.datetime(2026, 11, 28, 20, tzinfo=dt.UTC),
        webhook_url="https://hooks.example/rain",
    )
    Alert.objects.filter(pk=alert.pk).update(status=status)
    alert.refresh_from_db()
    for send in (send_email, send_webhook):
        result = send(alert)
        assert (result.outcome, result.detail) == (Delivery.Outcome.REFUSED, reason)
    # Through the delivery bookkeeping: nothing claimed, nothing recorded.
    for channel in ("email", "webhook"):
        assert delivery.deliver(alert.pk, channel) is None
    assert mail.outbox == [] and not alert.deliveries.exists()
    alert.refresh_from_db()
    assert alert.status == status


def test_an_alert_with_every_channel_off_settles_as_no_channel(owner):
    alert = make_alert(
        owner,
        "UTC",
        dt.datetime(2026, 11, 28, 20, tzinfo=dt.UTC),
        email_enabled=False,
    )
    assert delivery.channels_for(alert.pk) == []
    alert.refresh_from_db()
    assert alert.status == Alert.Status.NO_CHANNEL
    assert alert.get_status_display() == "not sent: no channel on"
    # A channel switched on afterwards does not send the settled alert.
    Place.objects.filter(pk=alert.place_id).update(email_enabled=True)
    assert delivery.channels_for(alert.pk) == []
    assert delivery.deliver(alert.pk, "email") is None
    assert mail.outbox == []


def test_likely_from_is_the_first_hour_reaching_the_threshold():
    from weatherapp.alerting.decisions import likely_from

    at = dt.datetime(2026, 11, 28, 14, tzinfo=dt.UTC)
    p = (0.1, 0.3, 0.55, 0.7, 0.8, 0.85)
    assert likely_from(at, p, 0.5) == at + dt.timedelta(hours=2)
    assert likely_from(at, p, 0.05) == at
    assert likely_from(at, p, 0.9) is None
    assert likely_from(at, (0.9,), 0.5) is None  # one horizon cannot say when


def test_the_alert_says_from_when_on_every_channel(owner):
    from weatherapp.alerting.cycle import record_alert

    place = Place.objects.create(
        owner=owner,
        name="Greensboro",
        latitude=36.1,
        longitude=-79.95,
        timezone="America/New_York",
        threshold=0.5,
    )
    at = dt.datetime(2026, 11, 28, 18, tzinfo=dt.UTC)  # 13:00 EST
    p = (0.2, 0.4, 0.6, 0.7, 0.75, 0.8)
    alert = record_alert(place, at, 0.6, False, p)
    alert.refresh_from_db()
    assert alert.rain_likely_from == at + dt.timedelta(hours=2)
    message = email_message(alert)
    assert "Rain is likely from about 15:00 EST." in message.body
    assert "from about <strong>15:00 EST</strong>" in message.alternatives[0][0]
    payload = webhook_payload(alert)
    assert payload["rain_likely_from"] == "2026-11-28T20:00:00+00:00"
    assert payload["horizons"] == {str(k): v for k, v in enumerate(p, 1)}
    # A model with one horizon cannot say when: nothing is claimed.
    plain = record_alert(place, at + dt.timedelta(hours=9), 0.6, False, (0.6,))
    assert "likely from" not in email_message(plain).body
    assert webhook_payload(plain)["horizons"] is None


@pytest.mark.parametrize(
    ("zone", "at", "said"),
    [
        # Berlin leaves summer time at 01:00 UTC: 02:00 UTC is 03:00 CET.
        ("Europe/Berlin", dt.datetime(2026, 10, 25, 0, tzinfo=dt.UTC), "03:00 CET"),
        # New York enters it at 07:00 UTC: 03:00 EDT, not 02:00 EST.
        ("America/New_York", dt.datetime(2026, 3, 8, 5, tzinfo=dt.UTC), "03:00 EDT"),
        # A half-hour zone, past local midnight.
        ("Asia/Kolkata", dt.datetime(2026, 11, 28, 18, tzinfo=dt.UTC), "01:30 IST"),
    ],
)
def test_likely_from_reads_the_place_clock_across_dst_and_odd_zones(
    owner, zone, at, said
):
    from weatherapp.alerting.cycle import record_alert

    place = Place.objects.create(
        owner=owner, name="There", latitude=1, longitude=1, timezone=zone, threshold=0.5
    )
    alert = record_alert(place, at, 0.6, False, (0.2, 0.4, 0.6, 0.7, 0.75, 0.8))
    assert f"Rain is likely from about {said}." in email_message(alert).body
