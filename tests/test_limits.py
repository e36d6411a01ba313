"""Issue 12, item 8: the dashboard and GET /api/v1/places take a constant
number of queries however many places there are (they took one more per
place: 34 and 33 queries at 30 places), both come a page at a time, and an
account has at most MAX_PLACES_PER_ACCOUNT places."""

import datetime as dt
import re

import pytest
from django.contrib.auth.models import User

from tests.conftest import store_prediction
from weatherapp.models import ApiToken, Place

pytestmark = pytest.mark.django_db
NOON = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC)
# The dashboard: session, user, count, one page of places with their latest
# prediction, whether the email address awaits its confirmation. The API:
# token, its last use, one page of places.
DASHBOARD_QUERIES = 5
API_QUERIES = 3


@pytest.fixture
def alice(settings):
    settings.MAX_PLACES_PER_ACCOUNT = 500
    return User.objects.create(username="alice", email="alice@example.com")


def add_places(owner, n: int) -> list[Place]:
    places = []
    for i in range(n):
        place = Place.objects.create(
            owner=owner, name=f"P{i:03d}", latitude=i % 80, longitude=2
        )
        places.append(place)
        # Three predictions each; the newest (valid at noon) is the one shown.
        for h in range(3):
            store_prediction(
                place,
                NOON - dt.timedelta(hours=h),
                round(0.01 * (i % 90) + 0.001 * h, 4),
                "v",
            )
    return places


@pytest.mark.parametrize("n", [1, 30])  # (none: no page to fetch, one query less)
def test_dashboard_queries_do_not_grow_with_places(
    client, alice, n, django_assert_num_queries
):
    add_places(alice, n)
    client.force_login(alice)
    with django_assert_num_queries(DASHBOARD_QUERIES):
        response = client.get("/")
    assert response.status_code == 200
    page = response.content.decode()
    for i in range(n):
        assert f"P{i:03d}" in page
    if n:  # the newest prediction's figures: P000's 0.0 at noon, not 0.001
        assert "between 12:00 and 15:00 UTC" in page and "between 11:00" not in page


@pytest.mark.parametrize("n", [0, 1, 30])
def test_api_places_queries_do_not_grow_with_places(
    client, alice, n, django_assert_num_queries
):
    places = add_places(alice, n)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {ApiToken.issue(alice)[1]}"}
    with django_assert_num_queries(API_QUERIES):
        body = client.get("/api/v1/places", **auth).json()
    assert [p["id"] for p in body["places"]] == [p.pk for p in places]
    for i, row in enumerate(body["places"]):
        assert row["latest"] == {
            "probability": round(0.01 * (i % 90), 4),
            "valid_at": NOON.isoformat(),
        }
    assert body["next"] is None


def test_a_place_without_predictions_has_no_latest(client, alice):
    Place.objects.create(owner=alice, name="New", latitude=1, longitude=2)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {ApiToken.issue(alice)[1]}"}
    (row,) = client.get("/api/v1/places", **auth).json()["places"]
    assert row["latest"] is None
    client.force_login(alice)
    assert "waiting for the first prediction" in client.get("/").content.decode()


def test_api_places_come_a_page_at_a_time(client, alice):
    places = add_places(alice, 7)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {ApiToken.issue(alice)[1]}"}
    seen, url = [], "/api/v1/places?limit=3"
    while url:
        body = client.get(url, **auth).json()
        assert len(body["places"]) <= 3
        seen += [p["id"] for p in body["places"]]
        url = body["next"]
    assert seen == [p.pk for p in places]
    past = client.get("/api/v1/places?page=9&limit=3", **auth).json()
    assert past == {"places": [], "next": None}
    assert len(client.get("/api/v1/places", **auth).json()["places"]) == 7


def test_dashboard_comes_fifty_places_a_page(client, alice):
    add_places(alice, 51)
    client.force_login(alice)
    first = client.get("/").content.decode()
    assert "P049" in first and "P050" not in first
    assert "page 1 of 2 (51 places)" in first and '?page=2"' in first
    second = client.get("/?page=2").content.decode()
    assert "P050" in second and "P049" not in second
    for bad in ["²", "9" * 5000, "abc", "-1"]:
        assert client.get("/", {"page": bad}).status_code == 200


def place_form(name="Somewhere", **more):
    return {
        "name": name,
        "latitude": "36.1",
        "longitude": "-79.9",
        "timezone": "UTC",
        "threshold": "0.5",
        "email_enabled": "on",
        "active": "on",
        **more,
    }


def test_an_account_has_at_most_max_places(client, alice, settings):
    settings.MAX_PLACES_PER_ACCOUNT = 3
    add_places(alice, 2)
    client.force_login(alice)
    assert client.post("/places/new/", place_form("Third")).status_code == 302
    response = client.post("/places/new/", place_form("Fourth"))
    assert response.status_code == 400
    assert "at most 3 places" in response.content.decode()
    assert alice.places.count() == 3
    # Editing one of them is still fine, and another account has its own count.
    third = Place.objects.get(name="Third")
    edit = client.post(f"/places/{third.pk}/edit/", place_form("Third, renamed"))
    assert edit.status_code == 302
    bob = User.objects.create(username="bob", email="bob@example.com")
    client.force_login(bob)
    assert client.post("/places/new/", place_form("Bob's")).status_code == 302


def test_the_limit_defaults_to_25_and_reads_the_environment():
    import os
    import subprocess
    import sys

    from support import ROOT

    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']="
        "'weatheralert.settings'; from django.conf import settings; "
        "print(settings.MAX_PLACES_PER_ACCOUNT)"
    )
    env = {**os.environ, "DEBUG": "true"}
    env.pop("MAX_PLACES_PER_ACCOUNT", None)
    out = [
        subprocess.run(
            [sys.executable, "-c", code],
            env=extra,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for extra in (env, {**env, "MAX_PLACES_PER_ACCOUNT": "7"})
    ]
    assert out == ["25", "7"]
    assert re.search(
        r"`MAX_PLACES_PER_ACCOUNT` \| `25`", (ROOT / "README.md").read_text()
    )
