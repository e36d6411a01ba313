"""Server-rendered pages: accounts, places, alerts; nobody sees another's."""

import datetime as dt
import re

import pytest
from django.contrib.auth.models import User
from django.core import mail

from weatherapp.alerting.unsubscribe import unsubscribe_token
from weatherapp.models import Alert, Delivery, Place, Prediction

pytestmark = pytest.mark.django_db
NOON = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC)


@pytest.fixture
def alice():
    return User.objects.create_user("alice", "alice@example.com", "pw-alice-123")


@pytest.fixture
def place(alice):
    place = Place.objects.create(
        owner=alice, name="Home", latitude=36.1, longitude=-79.9
    )
    for h in range(6):
        Prediction.objects.create(
            place=place,
            valid_at=NOON - dt.timedelta(hours=h),
            probability=0.734 - h * 0.1,
            model_version="v1",
        )
    alert = Alert.objects.create(
        place=place, event_started_at=NOON, probability=0.734, status="sent"
    )
    Delivery.objects.create(alert=alert, channel="email", outcome="sent", detail="ok")
    return place


@pytest.fixture
def mallory(client):
    User.objects.create_user("mallory", "m@example.com", "pw-mallory-123")
    client.login(username="mallory", password="pw-mallory-123")
    return client


def test_pages_need_a_login(client, place):
    for url in ("/", place.get_absolute_url(), "/places/new/", "/alerts/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_sign_up_add_a_place_and_see_it(client):
    response = client.post(
        "/signup/",
        {
            "username": "bob",
            "email": "bob@example.com",
            "password1": "a-long-rain-pass",
            "password2": "a-long-rain-pass",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/places/new/"
    response = client.post(
        "/places/new/",
        {
            "name": "Office",
            "latitude": "52.52",
            "longitude": "13.405",
            "timezone": "Europe/Berlin",
            "threshold": "0.6",
            "quiet_start": "22:00",
            "quiet_end": "07:00",
            "email_enabled": "on",
            "active": "on",
        },
    )
    place = Place.objects.get(name="Office")
    assert (
        response.status_code == 302 and response["Location"] == place.get_absolute_url()
    )
    assert place.owner.username == "bob"
    assert place.quiet_start == dt.time(22) and place.timezone == "Europe/Berlin"
    assert (place.cell.latitude, place.cell.longitude) == (52.5, 13.4)
    assert "Office" in client.get("/").content.decode()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"latitude": "91"}, "latitude"),
        ({"longitude": "-181"}, "longitude"),
        ({"latitude": "nan"}, "latitude"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"threshold": "1.5"}, "threshold"),
        ({"quiet_start": "22:00"}, None),
        ({"webhook_url": "http://127.0.0.1:8000/x"}, "webhook_url"),
        ({"webhook_url": "ftp://example.com/"}, "webhook_url"),
        ({"name": ""}, "name"),
    ],
)
def test_place_form_errors_name_the_field(client, alice, change, field):
    client.login(username="alice", password="pw-alice-123")
    data = {
        "name": "X",
        "latitude": "1",
        "longitude": "2",
        "timezone": "UTC",
        "threshold": "0.5",
        "active": "on",
        **change,
    }
    response = client.post("/places/new/", data)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert (field or "__all__") in errors
    assert not Place.objects.exists()


def test_place_page_shows_outlook_chart_and_deliveries(client, place):
    client.login(username="alice", password="pw-alice-123")
    page = client.get(place.get_absolute_url()).content.decode()
    assert 'id="probability">73%' in page
    assert '<svg id="chart"' in page
    points = re.search(r'<polyline points="([^"]+)"', page).group(1).split()
    assert len(points) == 6
    assert 'class="threshold"' in page
    assert "email #1: sent" in page


def test_edit_and_delete(client, place):
    client.login(username="alice", password="pw-alice-123")
    url = f"/places/{place.pk}/edit/"
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "name": "Home 2",
            "latitude": "36.1",
            "longitude": "-79.9",
            "timezone": "UTC",
            "threshold": "0.3",
        },
    )
    assert response.status_code == 302
    place.refresh_from_db()
    assert place.name == "Home 2" and not place.active and not place.email_enabled
    assert client.post(f"/places/{place.pk}/delete/").status_code == 302
    assert not Place.objects.exists()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/places/{}/"),
        ("get", "/places/{}/edit/"),
        ("post", "/places/{}/edit/"),
        ("get", "/places/{}/delete/"),
        ("post", "/places/{}/delete/"),
    ],
)
def test_another_persons_place_is_a_404(mallory, place, method, path):
    response = getattr(mallory, method)(path.format(place.pk), {"name": "mine now"})
    assert response.status_code == 404
    place.refresh_from_db()
    assert place.name == "Home"


def test_lists_show_only_your_own(mallory, place):
    assert "Home" not in mallory.get("/").content.decode()
    assert "Home" not in mallory.get("/alerts/").content.decode()


def test_alert_history(client, place):
    client.login(username="alice", password="pw-alice-123")
    page = client.get("/alerts/").content.decode()
    assert "Home" in page and "email #1: sent" in page


def test_unsubscribe_link_works_without_login(client, place):
    url = f"/unsubscribe/{unsubscribe_token(place)}/"
    assert "Stop alert emails for Home" in client.get(url).content.decode()
    place.refresh_from_db()
    assert place.email_enabled  # a GET (a link preview) changes nothing
    response = client.post(url)
    assert response.status_code == 200 and 'id="done"' in response.content.decode()
    place.refresh_from_db()
    assert not place.email_enabled


def test_unsubscribe_rejects_tampered_and_expired_tokens(client, place, settings):
    token = unsubscribe_token(place)
    assert client.post(f"/unsubscribe/{token[:-2]}xx/").status_code == 400
    settings.UNSUBSCRIBE_MAX_AGE_DAYS = -1
    assert client.post(f"/unsubscribe/{token}/").status_code == 400
    place.refresh_from_db()
    assert place.email_enabled


def test_unsubscribe_token_is_for_one_place_only(client, place, alice):
    other = Place.objects.create(owner=alice, name="Cabin", latitude=1, longitude=1)
    client.post(f"/unsubscribe/{unsubscribe_token(place)}/")
    other.refresh_from_db()
    assert other.email_enabled


def test_password_reset_by_email(client, alice, settings):
    settings.SITE_URL = "https://weather.example.com"
    response = client.post("/accounts/password_reset/", {"email": "alice@example.com"})
    assert response.status_code == 302
    (message,) = mail.outbox
    # The link is SITE_URL's, not the request's Host (testserver).
    site = r"https://weather\.example\.com"
    link = re.search(site + r"(/accounts/reset/\S+/)", message.body).group(1)
    form_url = client.get(link)["Location"]  # Django swaps the token for a session
    response = client.post(
        form_url, {"new_password1": "rain-again-456", "new_password2": "rain-again-456"}
    )
    assert response.status_code == 302
    assert client.login(username="alice", password="rain-again-456")


def test_logout_is_a_post(client, alice):
    client.login(username="alice", password="pw-alice-123")
    assert client.get("/accounts/logout/").status_code == 405
    assert client.post("/accounts/logout/")["Location"] == "/accounts/login/"
    assert client.get("/").status_code == 302
