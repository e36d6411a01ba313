"""The cycle in-process: cells, one fetch each, one batched invoke, decisions."""

import datetime as dt

import numpy as np
import pytest
from django.contrib.auth.models import User

from weatherapp.alerting import cycle as the_cycle
from weatherapp.models import Alert, Cell, FaultCount, Place, Prediction

pytestmark = pytest.mark.django_db

HOUR = np.timedelta64(3600, "s")
# 12:00 UTC is 07:00 in New York: outside the quiet hours used below.
DAYTIME = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC)


@pytest.fixture
def owner():
    return User.objects.create_user("ann", "ann@example.com", "pw")


def make_place(owner, name="Home", lat=36.1, lon=-79.95, **fields):
    return Place.objects.create(
        owner=owner, name=name, latitude=lat, longitude=lon, **fields
    )


def cycle(now=DAYTIME) -> list[int]:
    alert_ids = []
    for chunk in the_cycle.cycle_chunks():
        alert_ids += the_cycle.predict_cells(chunk, now=now)
    return alert_ids


def test_one_fetch_per_cell_however_many_places(open_meteo, owner):
    rng = np.random.default_rng(0)
    centres = [(36.1, -79.9), (36.2, -79.9), (36.1, -79.8)]
    for i in range(60):
        lat, lon = centres[i % 3]
        # Within 0.04° of a centre: the same 0.1° cell.
        make_place(
            owner,
            f"p{i}",
            lat + rng.uniform(-0.04, 0.04),
            lon + rng.uniform(-0.04, 0.04),
        )
    assert Cell.objects.count() == 3
    cycle()
    # One request for the chunk, asking once for each cell centre.
    (request,) = open_meteo.requests
    assert sorted(request["locations"]) == sorted(
        (f"{lat:.4f}", f"{lon:.4f}") for lat, lon in centres
    )
    # One row per cell, read by all 60 places; every place decided once.
    assert Prediction.objects.count() == 3
    assert Place.objects.filter(decided_through__isnull=True).count() == 0


def test_inactive_places_and_their_cells_are_not_fetched(open_meteo, owner):
    make_place(owner, "off", 10.0, 10.0, active=False)
    make_place(owner, "on")
    cycle()
    assert len(open_meteo.requests) == 1
    assert Prediction.objects.get().cell == Place.objects.get(name="on").cell


def test_chunks(settings, owner):
    settings.CYCLE_CHUNK_CELLS = 2
    for i in range(5):
        make_place(owner, f"p{i}", 10 + i, 10)
    chunks = the_cycle.cycle_chunks()
    assert [len(c) for c in chunks] == [2, 2, 1]
    assert sorted(sum(chunks, [])) == sorted(Cell.objects.values_list("pk", flat=True))


def test_one_alert_per_rain_event(open_meteo, owner):
    place = make_place(owner, threshold=0.5)
    open_meteo.default = "rainy"
    open_meteo.end -= 12 * HOUR  # room for the hours below before the present
    first = cycle()
    assert len(first) == 1
    alert = Alert.objects.get()
    assert alert.status == Alert.Status.PENDING
    assert alert.event_started_at == Prediction.objects.get().valid_at

    # The same hour again (a duplicate cycle): nothing new.
    assert cycle() == []
    assert Prediction.objects.count() == 1

    # Still raining an hour later: the event stays open, no second alert.
    open_meteo.end += HOUR
    assert cycle() == []
    place.refresh_from_db()
    assert place.rain_event_open

    # One dry hour does not end the rain (EVENT_END_HOURS = 2) ...
    open_meteo.end += HOUR
    open_meteo.default = "dry"
    cycle()
    place.refresh_from_db()
    assert place.rain_event_open and place.event_dry_hours == 1
    # ... the second does.
    open_meteo.end += HOUR
    cycle()
    place.refresh_from_db()
    assert not place.rain_event_open
    assert place.last_event_ended_at == Prediction.objects.first().valid_at
    # Rain again within the place's quiet period (6 h): the same rain, no alert.
    open_meteo.end += HOUR
    open_meteo.default = "rainy"
    assert cycle() == []
    place.refresh_from_db()
    assert place.rain_event_open
    for _ in range(2):
        open_meteo.end += HOUR
        open_meteo.default = "dry"
        cycle()
    place.refresh_from_db()
    assert not place.rain_event_open
    # Rain 6 h after that rain ended: a new event, a new alert.
    open_meteo.end += 6 * HOUR
    open_meteo.default = "rainy"
    assert len(cycle()) == 1
    assert Alert.objects.count() == 2
    assert Prediction.objects.count() == 8


def test_quiet_hours_suppress_and_never_burst_later(open_meteo, owner):
    make_place(
        owner,
        timezone="America/New_York",
        quiet_start=dt.time(22),
        quiet_end=dt.time(7),
    )
    open_meteo.default = "rainy"
    # The prediction's hour is judged, not the wall clock (daytime here).
    open_meteo.end = np.datetime64("2026-11-28T04:00", "s")  # 23:00 in New York
    assert cycle(now=DAYTIME) == []
    assert Alert.objects.get().status == Alert.Status.SUPPRESSED
    # Morning, still raining: the event is the same one, nothing is sent.
    open_meteo.end = np.datetime64("2026-11-28T12:00", "s")
    assert cycle(now=DAYTIME) == []
    assert Alert.objects.count() == 1


def predicted_places() -> list[str]:
    cells = Prediction.objects.values_list("cell_id", flat=True)
    return sorted(Place.objects.filter(cell__in=cells).values_list("name", flat=True))


@pytest.mark.parametrize("fault", ["unequal", "missing"])
def test_a_spoiled_location_costs_only_itself(open_meteo, owner, fault, caplog):
    make_place(owner, "bad", 50.0, 10.0)
    make_place(owner, "good", 36.1, -79.95)
    open_meteo.set(50.0, 10.0, fault)
    cycle()
    assert len(open_meteo.requests) == 1  # both in one request
    assert predicted_places() == ["good"]
    assert "cell 50.00,10.00 (id " in caplog.text and "skipped" in caplog.text
    assert FaultCount.objects.get(stage="fetch").count == 1


def test_a_refused_location_costs_only_itself(open_meteo, owner, caplog):
    """An error body (one coordinate refused): the request is asked again in
    halves, down to the location at fault."""
    make_place(owner, "bad", 50.0, 10.0)
    make_place(owner, "same request", 50.0, 10.2)
    make_place(owner, "good", 36.1, -79.95)
    open_meteo.set(50.0, 10.0, "error")
    cycle()
    assert predicted_places() == ["good", "same request"]
    assert "cell 50.00,10.00 (id " in caplog.text
    assert FaultCount.objects.get(stage="fetch").count == 1


def test_an_error_for_everyone_is_not_asked_location_by_location(
    open_meteo, owner, settings, caplog
):
    """A refusal that is everyone's (a bad key, say) is not split down to
    every location: about 2 log2(n) requests, not 2n; nor logged cell by
    cell."""
    for i in range(64):
        make_place(owner, f"p{i}", 10.0 + i, 10.0)
    open_meteo.default = "error"
    cycle()
    assert not Prediction.objects.exists()
    assert len(open_meteo.requests) <= 13  # 1 + 2 x log2(64)
    skipped = [r for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skipped) == 1 and " and 61 more skipped: " in skipped[0].getMessage()


@pytest.mark.parametrize("fault", ["500", "truncated"])
def test_a_failed_request_costs_only_its_locations(
    open_meteo, owner, fault, caplog, settings
):
    settings.OPEN_METEO_LOCATIONS_PER_REQUEST = 2
    make_place(owner, "bad", 50.0, 10.0)
    make_place(owner, "same request", 50.0, 10.2)
    make_place(owner, "good", 36.1, -79.95)
    open_meteo.set(50.0, 10.0, fault)
    cycle()
    assert predicted_places() == ["good"]
    assert "cell 50.00,10.00 (id " in caplog.text and "skipped" in caplog.text
    assert FaultCount.objects.get(stage="fetch").count == 2


def test_retried_cell_then_success(open_meteo, owner):
    make_place(owner)
    open_meteo.fail_next(36.1, -80.0, "500")
    cycle()
    assert Prediction.objects.count() == 1
    assert len(open_meteo.requests) == 2


def test_places_in_one_cell_share_one_probability(open_meteo, owner):
    make_place(owner, "a", 36.11, -79.91)
    make_place(owner, "b", 36.14, -79.94)
    cycle()
    (prediction,) = Prediction.objects.all()
    a, b = Place.objects.all()
    assert a.latest_prediction() == b.latest_prediction() == prediction


def test_a_chunk_out_of_time_stores_what_it_fetched(
    open_meteo, owner, caplog, settings
):
    """The time limit of every pool: slow cells past the deadline wait a cycle."""
    settings.OPEN_METEO_LOCATIONS_PER_REQUEST = 1
    for i, lat in enumerate((10.0, 20.0, 30.0)):
        make_place(owner, f"p{i}", lat, 10.0)
    open_meteo.set(10.0, 10.0, "slow")
    open_meteo.slow_seconds = 0.5
    (chunk,) = the_cycle.cycle_chunks()
    the_cycle.predict_cells(chunk, now=DAYTIME, fetch_seconds=0.2)
    assert predicted_places() == ["p0"]
    assert "2 of 3 cells left for the next cycle" in caplog.text
    the_cycle.predict_cells(chunk, now=DAYTIME, fetch_seconds=60)
    assert Prediction.objects.count() == 3


def test_a_chunk_reads_its_places_a_query_at_a_time(open_meteo, owner, monkeypatch):
    # A chunk of a dense city holds tens of thousands of places: they are
    # locked and decided in pieces of one transaction, each exactly once.
    monkeypatch.setattr(the_cycle, "PLACES_A_QUERY", 7)
    open_meteo.default = "rainy"
    centres = [(36.1, -79.9), (36.2, -79.9), (36.1, -79.8)]
    for i in range(60):
        lat, lon = centres[i % 3]
        make_place(owner, f"p{i}", lat + 0.01 * (i % 4), lon, threshold=0.3)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        alert_ids = cycle()
    assert len(alert_ids) == 60
    assert sorted(Alert.objects.values_list("place__name", flat=True)) == sorted(
        f"p{i}" for i in range(60)
    )
    assert not Place.objects.filter(decided_through__isnull=True).exists()
    reads = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith('SELECT "weatherapp_place"') and "LIMIT 7" in q["sql"]
    ]
    assert len(reads) == 9  # 60 places, 7 a query: the short ninth is the last
    assert cycle() == []  # decided: the next cycle alerts nobody again
