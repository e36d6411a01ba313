"""Issue 14's evidence in-process: few weather requests, cells fetched once an
hour, the daily budget, cells that keep their geometry, bounded storage."""

import datetime as dt
import logging
import time

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.conftest import store_prediction
from weatherapp.alerting import cycle as the_cycle
from weatherapp.alerting.retention import prune_predictions
from weatherapp.models import Cell, Place, Prediction, WeatherUsage

pytestmark = pytest.mark.django_db
HOUR = np.timedelta64(3600, "s")


@pytest.fixture
def owner():
    return User.objects.create_user("ann", "ann@example.com", "pw")


def spread(owner, n: int, seed: int = 0) -> None:
    """``n`` places in ``n`` different cells over the contiguous US."""
    rng = np.random.default_rng(seed)
    keys = set()
    while len(keys) < n:
        keys.add((int(rng.integers(250, 490)), int(rng.integers(-1240, -670))))
    Place.objects.bulk_create(
        Place(
            owner=owner,
            name=f"p{i}",
            latitude=a / 10,
            longitude=b / 10,
            cell=Cell.for_location(a / 10, b / 10),
        )
        for i, (a, b) in enumerate(sorted(keys))
    )


def run_cycle() -> list[int]:
    ids = []
    for chunk in the_cycle.cycle_chunks():
        ids += the_cycle.predict_cells(chunk)
    return ids


def test_a_chunk_of_200_cells_takes_two_requests(open_meteo, owner):
    spread(owner, 200)
    (chunk,) = the_cycle.cycle_chunks()
    assert len(chunk) == 200
    the_cycle.predict_cells(chunk)
    # OPEN_METEO_LOCATIONS_PER_REQUEST = 100: two requests, each location once.
    assert len(open_meteo.requests) == 2
    asked = [loc for r in open_meteo.requests for loc in r["locations"]]
    assert len(asked) == len(set(asked)) == 200
    assert Prediction.objects.count() == 200
    usage = WeatherUsage.objects.get()
    assert (usage.requests, usage.calls) == (2, 200)  # Open-Meteo bills 200


def test_requests_reuse_one_connection(open_meteo, owner, settings):
    settings.OPEN_METEO_LOCATIONS_PER_REQUEST = 10
    spread(owner, 50)
    run_cycle()
    assert len(open_meteo.requests) == 5
    assert len({r["client_port"] for r in open_meteo.requests}) == 1


def test_a_cell_fetched_this_hour_is_not_fetched_again(open_meteo, owner):
    # The server's newest past hour is the hour before the current one, as
    # Open-Meteo's past_hours are.
    open_meteo.end = np.datetime64(int(time.time()) // 3600 * 3600, "s") - HOUR
    spread(owner, 3)
    run_cycle()
    assert len(open_meteo.requests) == 1
    # A place added since is decided from the stored row, without a fetch.
    late = Place.objects.create(
        owner=owner, name="late", latitude=30.0, longitude=-90.0
    )
    Place.objects.filter(pk=late.pk).update(cell=Place.objects.get(name="p0").cell)
    run_cycle()
    assert len(open_meteo.requests) == 1
    late.refresh_from_db()
    assert late.decided_through == Prediction.objects.first().valid_at
    assert Prediction.objects.count() == 3


def test_an_api_key_goes_with_every_request(open_meteo, owner, settings):
    settings.OPEN_METEO_API_KEY = "k-123"
    spread(owner, 2)
    run_cycle()
    assert [r["query"]["apikey"] for r in open_meteo.requests] == ["k-123"]


def test_the_daily_budget_warns_once(open_meteo, owner, settings, caplog):
    settings.OPEN_METEO_DAILY_BUDGET = 100
    settings.OPEN_METEO_BUDGET_WARN_SHARE = 0.5
    settings.OPEN_METEO_LOCATIONS_PER_REQUEST = 20
    spread(owner, 120)
    with caplog.at_level(logging.WARNING):
        run_cycle()
    warnings = [r for r in caplog.records if "weather API budget" in r.message]
    assert len(warnings) == 1
    assert "60 of 100 calls used today (60%)" in warnings[0].message
    assert WeatherUsage.objects.get().calls == 120


def test_a_new_cell_size_leaves_old_predictions_where_they_were(
    open_meteo, owner, settings
):
    place = Place.objects.create(
        owner=owner, name="Greensboro", latitude=36.07, longitude=-79.79
    )
    run_cycle()
    old = Prediction.objects.get()
    assert (old.cell.latitude, old.cell.longitude) == (36.1, -79.8)
    settings.CELL_DEGREES = 0.25
    open_meteo.end += HOUR
    run_cycle()
    place.refresh_from_db()
    assert place.cell.size == 0.25
    assert (place.cell.latitude, place.cell.longitude) == (36.0, -79.75)
    # The old cell and its prediction still mean the 0.1-degree square.
    old.cell.refresh_from_db()
    assert (old.cell.size, old.cell.latitude, old.cell.longitude) == (
        0.1,
        36.1,
        -79.8,
    )
    asked = open_meteo.requests[-1]["locations"]
    assert asked == [("36.0000", "-79.7500")]
    assert Prediction.objects.filter(cell=place.cell).count() == 1


def test_pruning_keeps_what_the_pages_need(client, owner, settings):
    settings.PREDICTION_RETENTION_HOURS = 30
    place = Place.objects.create(
        owner=owner, name="Home", latitude=36.1, longitude=-79.9
    )
    newest = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC)
    for h in range(100):
        store_prediction(place, newest - dt.timedelta(hours=h), 0.2)
    assert prune_predictions(newest, max_hours=100) == 100 - 31
    kept = sorted(Prediction.objects.values_list("valid_at", flat=True))
    assert kept[0] == newest - dt.timedelta(hours=30) and len(kept) == 31
    # The page's 24-hour chart is whole.
    client.force_login(owner)
    page = client.get(place.get_absolute_url()).content.decode()
    assert page.count("<circle ") >= 12
    assert prune_predictions(newest) == 0


def test_pruning_is_bounded_per_call(owner):
    place = Place.objects.create(owner=owner, name="H", latitude=1.0, longitude=1.0)
    newest = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC)
    for h in range(40):
        store_prediction(place, newest - dt.timedelta(hours=h), 0.2)
    assert prune_predictions(newest, retention_hours=1, max_hours=5) == 5
    assert prune_predictions(newest, retention_hours=1, max_hours=100) == 33


@pytest.mark.parametrize("bad", ["0", "-3", "nan", "lots", "1e9"])
def test_the_prune_command_refuses_bad_hours(bad):
    with pytest.raises(CommandError, match="hours"):
        call_command("prune_predictions", "--hours", bad)


def test_the_prune_command_prunes(owner, settings, capsys):
    settings.WEATHER_SOURCE = "replay"
    the_cycle._source = None
    try:
        newest = the_cycle.newest_hour()
        place = Place.objects.create(owner=owner, name="H", latitude=1, longitude=1)
        for h in range(5):
            store_prediction(place, newest - dt.timedelta(hours=h), 0.2)
        call_command("prune_predictions", "--hours", "2")
    finally:
        the_cycle._source = None
    assert Prediction.objects.count() == 3
    assert "deleted 2 predictions" in capsys.readouterr().out
