"""Server-rendered pages: login, a person's places, nobody else's."""

import datetime as dt

import pytest
from django.contrib.auth.models import User

from weatherapp.models import Place, Prediction

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice():
    return User.objects.create_user("alice", "alice@example.com", "pw-alice-123")


@pytest.fixture
def place(alice):
    place = Place.objects.create(
        owner=alice, name="Home", latitude=36.1, longitude=-79.9
    )
    Prediction.objects.create(
        place=place,
        valid_at=dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC),
        probability=0.734,
        model_version="v1",
    )
    return place


def test_pages_need_a_login(client, place):
    for url in ("/", place.get_absolute_url()):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_login_then_see_the_latest_probability(client, place):
    response = client.post(
        "/accounts/login/", {"username": "alice", "password": "pw-alice-123"}
    )
    assert response.status_code == 302
    dashboard = client.get("/").content.decode()
    assert "Home" in dashboard and "73%" in dashboard
    page = client.get(place.get_absolute_url()).content.decode()
    assert 'id="probability">73%' in page
    assert "2026-11-28 12:00" in page


def test_another_persons_place_is_a_404(client, place):
    User.objects.create_user("mallory", "m@example.com", "pw-mallory-123")
    client.login(username="mallory", password="pw-mallory-123")
    assert client.get(place.get_absolute_url()).status_code == 404
    assert "Home" not in client.get("/").content.decode()
