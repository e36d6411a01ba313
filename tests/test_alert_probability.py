"""One probability per place and hour: the one its alerts follow (its "alert
on" choice, Place.alert_probability). The dashboard, the API, the chart and
the decision all read it: a place alerting on Open-Meteo showed our model's
10% on the dashboard and in the API while its page said "above threshold"
and the alert went out on Open-Meteo's 90%."""

import datetime as dt
import re

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from tests.conftest import store_prediction
from weatherapp.alerting.cycle import store_and_decide
from weatherapp.models import Alert, ApiToken, Place, Prediction

pytestmark = pytest.mark.django_db
NOON = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC)
OURS = (0.1,) * 6
OPEN_METEO = (0.9,) * 6


@pytest.fixture
def alice():
    return User.objects.create_user("alice", "alice@example.com", "pw-alice-123")


def make_place(owner, name: str, forecaster: str) -> Place:
    place = Place.objects.create(
        owner=owner,
        name=name,
        latitude=36.1,
        longitude=-79.9,
        threshold=0.5,
        forecaster=forecaster,
    )
    for h in range(3):
        store_prediction(
            place,
            NOON - dt.timedelta(hours=h),
            0,
            probabilities=OURS,
            provider=OPEN_METEO,
        )
    return place


@pytest.fixture
def follows_open_meteo(alice):
    return make_place(alice, "Follows Open-Meteo", Place.Forecaster.OPEN_METEO)


@pytest.fixture
def follows_ours(alice):
    return make_place(alice, "Follows ours", Place.Forecaster.MODEL)


def text(html: bytes) -> str:
    return re.sub(r"<[^>]+>|\s+", " ", html.decode())


def test_the_rule(follows_open_meteo, follows_ours):
    assert follows_open_meteo.alert_probability(OURS, OPEN_METEO) == 0.9
    assert follows_ours.alert_probability(OURS, OPEN_METEO) == 0.1
    # No provider figures (the demo's recorded weather): ours, whoever is chosen.
    assert follows_open_meteo.alert_probability(OURS, None) == 0.1
    assert follows_open_meteo.alert_probabilities(OURS, ()) == OURS


def test_the_dashboard_shows_what_the_alert_follows(
    client, alice, follows_open_meteo, follows_ours
):
    client.force_login(alice)
    rows = re.findall(r"<tr>.*?</tr>", client.get("/").content.decode(), re.S)
    (om,) = [text(r.encode()) for r in rows if "Follows Open-Meteo" in r]
    (ours,) = [text(r.encode()) for r in rows if "Follows ours" in r]
    assert "90%" in om and "above threshold" in om
    assert "10%" in ours and "above threshold" not in ours


def test_the_api_gives_what_the_alert_follows(client, alice, follows_open_meteo):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {ApiToken.issue(alice)[1]}"}
    (row,) = client.get("/api/v1/places", **auth).json()["places"]
    assert row["latest"]["probability"] == 0.9
    detail = client.get(f"/api/v1/places/{follows_open_meteo.pk}", **auth).json()
    assert detail["latest"]["probability"] == 0.9
    url = f"/api/v1/places/{follows_open_meteo.pk}/predictions"
    rows = client.get(url, **auth).json()["predictions"]
    assert [r["probability"] for r in rows] == [0.9, 0.9, 0.9]


def test_the_chart_and_outlook_show_what_the_alert_follows(
    client, alice, follows_open_meteo
):
    client.force_login(alice)
    page = client.get(follows_open_meteo.get_absolute_url()).content.decode()
    table = re.search(r'<details id="chart-table">(.*?)</details>', page, re.S)[1]
    assert table.count("90% (above threshold)") == 3 and "10%" not in table
    assert "our model 10% · Open-Meteo 90%" in text(page.encode())


def test_the_decision_follows_the_same(follows_open_meteo, follows_ours):
    newest = Prediction.objects.get(cell_id=follows_ours.cell_id, valid_at=NOON)
    store_and_decide([newest], timezone.now())
    alerted = set(Alert.objects.values_list("place_id", flat=True))
    assert alerted == {follows_open_meteo.pk}
    assert Alert.objects.get().probability == 0.9


def test_following_open_meteo_costs_no_query_per_place(
    client, alice, django_assert_num_queries, settings
):
    settings.MAX_PLACES_PER_ACCOUNT = 100
    for i in range(20):
        choice = Place.Forecaster.OPEN_METEO if i % 2 else Place.Forecaster.MODEL
        make_place(alice, f"P{i:02d}", choice)
    client.force_login(alice)
    with django_assert_num_queries(5):  # as in test_limits.py
        page = text(client.get("/").content)
    assert page.count("90%") == 10 and page.count("10%") == 10
