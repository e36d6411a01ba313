"""Issue 12, item 13: a place name with a line break was accepted, and its
alert email then failed five times as if the error were transient. Names with
control characters are refused (form and model), and the email channel tells
permanent errors (not retried) from transient ones (retried)."""

import datetime as dt
import smtplib
import socket

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.mail import BadHeaderError
from django.core.mail.backends.base import BaseEmailBackend

from weatherapp.alerting import delivery
from weatherapp.alerting.mail import is_transient, send_email
from weatherapp.models import Alert, Place

pytestmark = pytest.mark.django_db

BAD_NAMES = [
    "Home\r\nBcc: everyone@example.com",
    "Home\nBcc: x@example.com",
    "Ho\rme",
    "Ho\tme",
    "Ho\x00me",
    "Ho\x7fme",
    "Ho\x85me",  # NEL
    "Ho\u2028me",  # line separator
    "Ho\u2029me",
    "Ho\u202eme",  # right-to-left override
]


class RaisingBackend(BaseEmailBackend):
    """Raises ``error`` (set by the test) instead of sending."""

    error: BaseException = OSError("unset")

    def send_messages(self, messages):
        raise type(self).error


@pytest.fixture
def alert(settings):
    settings.EMAIL_BACKEND = "tests.test_mail_errors.RaisingBackend"
    owner = User.objects.create(username="ann", email="ann@example.com")
    place = Place.objects.create(owner=owner, name="Home", latitude=36, longitude=-80)
    return Alert.objects.create(
        place=place,
        event_started_at=dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC),
        probability=0.8,
    )


PERMANENT = [
    BadHeaderError("Header values can't contain newlines"),
    ValueError("bad header"),
    UnicodeEncodeError("ascii", "é", 0, 1, "no"),
    smtplib.SMTPRecipientsRefused({"ann@example.com": (550, b"no such user")}),
    smtplib.SMTPSenderRefused(553, b"sender rejected", "alerts@localhost"),
    smtplib.SMTPDataError(554, b"message refused"),
    smtplib.SMTPAuthenticationError(535, b"bad credentials"),
]
TRANSIENT = [
    ConnectionRefusedError(111, "Connection refused"),
    TimeoutError("timed out"),
    socket.gaierror(-3, "Temporary failure in name resolution"),
    smtplib.SMTPServerDisconnected("Connection unexpectedly closed"),
    smtplib.SMTPConnectError(421, b"too busy"),
    smtplib.SMTPDataError(451, b"try again later"),
    smtplib.SMTPRecipientsRefused({"ann@example.com": (450, b"greylisted")}),
    smtplib.SMTPRecipientsRefused(
        {"a@example.com": (550, b"no"), "b@example.com": (452, b"full")}
    ),
]


@pytest.mark.parametrize("error", PERMANENT, ids=repr)
def test_permanent_errors_fail_without_retry(alert, error):
    RaisingBackend.error = error
    result = send_email(alert)
    assert result.outcome == "failed" and not result.retry
    assert result.detail.startswith("permanent, not retried: ")
    assert type(error).__name__ in result.detail


@pytest.mark.parametrize("error", TRANSIENT, ids=repr)
def test_transient_errors_are_retried(alert, error):
    RaisingBackend.error = error
    result = send_email(alert)
    assert result.outcome == "failed" and result.retry
    assert is_transient(error)


def test_a_permanent_error_settles_the_alert_at_once(alert):
    RaisingBackend.error = BadHeaderError("newline")
    result = delivery.deliver(alert.pk, "email", final=False)
    assert not result.retry
    alert.refresh_from_db()
    assert alert.status == Alert.Status.FAILED
    assert alert.deliveries.count() == 1


def test_a_transient_error_leaves_the_alert_for_a_retry(alert):
    RaisingBackend.error = smtplib.SMTPServerDisconnected("gone")
    assert delivery.deliver(alert.pk, "email", final=False).retry
    alert.refresh_from_db()
    assert alert.status == Alert.Status.PENDING


def test_a_stored_name_with_a_line_break_is_still_emailed_on_one_line(
    alert, settings, mailoutbox
):
    """Rows saved before names were checked: the subject drops the break
    (no header injection, and the person still gets the alert)."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    Place.objects.filter(pk=alert.place_id).update(name="Home\r\nBcc: x@example.com")
    alert.refresh_from_db()
    result = send_email(alert)
    assert result.outcome == "sent"
    (message,) = mailoutbox
    assert message.subject.startswith("Rain likely at Home Bcc: x@example.com before")
    assert message.bcc == [] and "\n" not in message.message()["Subject"]


@pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
def test_the_place_form_refuses_control_characters_in_names(client, name):
    owner = User.objects.create(username="bo", email="bo@example.com")
    client.force_login(owner)
    response = client.post(
        "/places/new/",
        {
            "name": name,
            "latitude": "36.1",
            "longitude": "-79.9",
            "timezone": "UTC",
            "threshold": "0.5",
        },
    )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert list(errors) == ["name"], errors
    # (Django's own check says "Null characters are not allowed." for NUL.)
    assert "characters" in errors["name"][0]
    assert not owner.places.exists()


@pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
def test_the_model_refuses_control_characters_in_names(name):
    owner = User.objects.create(username="cy", email="cy@example.com")
    place = Place(owner=owner, name=name, latitude=1, longitude=2)
    with pytest.raises(ValidationError) as caught:
        place.full_clean()
    assert "name" in caught.value.message_dict


@pytest.mark.parametrize(
    "name", ["Home", "Zürich – Altstadt", "東京", "👨‍👩‍👧 cabin", "O'Brien's"]
)
def test_ordinary_names_pass(name):
    owner = User.objects.create(username="di", email="di@example.com")
    Place(owner=owner, name=name, latitude=1, longitude=2).full_clean()
