"""The geocoding client (forecast/geocoding.py) against the loopback
Open-Meteo: results, no results, error bodies, 5xx and 429 retried, timeouts
and the total deadline, invalid JSON, and entries that are unusable."""

from __future__ import annotations

import math
import time

import pytest

from weatherapp.forecast.geocoding import (
    REPLAY_STATION,
    GeocodingError,
    OpenMeteoGeocoder,
    parse_result,
    real_zones,
)

from .weather_server import WeatherServer


@pytest.fixture
def server():
    server = WeatherServer({}, 0, 0)  # the search needs no weather
    yield server
    server.close()


def client(server, **more) -> OpenMeteoGeocoder:
    options = {"retries": 1, "backoff": 0.01, "read_timeout": 2.0, **more}
    return OpenMeteoGeocoder(server.url, user_agent="weatheralert-test", **options)


def searches(server) -> list[dict]:
    return [r for r in server.requests if r["path"] == "/v1/search"]


def test_results_carry_position_zone_and_a_label(server):
    found = client(server).search("  Springfield ")
    assert [f.timezone for f in found] == [
        "America/Chicago",
        "America/New_York",
        "Pacific/Auckland",
    ]
    first = found[0]
    assert (first.name, first.latitude, first.longitude) == (
        "Springfield",
        39.80172,
        -89.64371,
    )
    assert first.label == "Springfield, Illinois, United States"
    (request,) = searches(server)
    assert request["query"] == {
        "name": "Springfield",
        "count": "10",
        "language": "en",
        "format": "json",
    }
    assert request["user_agent"] == "weatheralert-test"


def test_count_limits_the_results(server):
    assert len(client(server).search("springfield", count=2)) == 2


def test_no_results_is_an_empty_list(server):
    assert client(server).search("Nowhere at all") == []
    assert len(searches(server)) == 1


def test_one_letter_asks_nobody(server):
    assert client(server).search(" x ") == []
    assert searches(server) == []


def test_a_500_is_retried(server):
    server.search_faults = ["500"]
    assert len(client(server).search("Berlin")) == 1
    assert len(searches(server)) == 2


def test_a_429_waits_for_retry_after(server):
    server.search_faults = ["429"]
    started = time.monotonic()
    assert len(client(server).search("Berlin")) == 1
    assert time.monotonic() - started >= 0.9  # Retry-After: 1
    assert len(searches(server)) == 2


def test_a_500_every_time_gives_up_after_the_retries(server):
    server.search_faults = ["500", "500", "500"]
    with pytest.raises(GeocodingError, match="after 2 tries.*HTTP 500"):
        client(server).search("Berlin")
    assert len(searches(server)) == 2


def test_an_error_body_says_its_reason_and_is_not_retried(server):
    server.search_faults = ["error"]
    with pytest.raises(GeocodingError, match="count must be between"):
        client(server).search("Berlin")
    assert len(searches(server)) == 1


def test_invalid_json_is_an_error(server):
    server.search_faults = ["invalid"]
    with pytest.raises(GeocodingError, match="invalid JSON"):
        client(server).search("Berlin")


def test_a_slow_server_times_out(server):
    server.slow_seconds = 1.5
    server.search_faults = ["slow", "slow"]
    with pytest.raises(GeocodingError, match="TimeoutError"):
        client(server, read_timeout=0.2).search("Berlin")


def test_the_deadline_bounds_the_whole_request(server):
    server.slow_seconds = 3.0
    server.search_faults = ["slow"]
    started = time.monotonic()
    with pytest.raises(GeocodingError, match="no complete answer within 0.3 s"):
        client(server, retries=0, read_timeout=10, deadline=0.3).search("Berlin")
    assert time.monotonic() - started < 2.0


def test_an_unreachable_server_is_an_error():
    with pytest.raises(GeocodingError, match="after 1 tries"):
        OpenMeteoGeocoder("http://127.0.0.1:9", retries=0).search("Berlin")


def test_a_bad_url_is_refused():
    with pytest.raises(ValueError, match="OPEN_METEO_GEOCODING_URL"):
        OpenMeteoGeocoder("ftp://example.com")


@pytest.mark.parametrize(
    "item",
    [
        None,
        [],
        {"latitude": 1, "longitude": 2},
        {"name": " ", "latitude": 1, "longitude": 2},
        {"name": "X", "latitude": "1", "longitude": 2},
        {"name": "X", "latitude": math.nan, "longitude": 2},
        {"name": "X", "latitude": 91, "longitude": 2},
        {"name": "X", "latitude": 1, "longitude": True},
    ],
)
def test_unusable_entries_are_skipped(item):
    assert parse_result(item) is None


def test_unknown_zones_and_control_characters_are_dropped():
    found = parse_result(
        {
            "name": "A\nB\u0000",
            "latitude": 1,
            "longitude": 2,
            "timezone": "Mars/Olympus",
            "admin1": 5,
        }
    )
    assert found is not None
    assert (found.name, found.timezone, found.admin1) == ("A B", "", "")


def test_only_real_zones_are_offered():
    zones = real_zones()
    assert "UTC" in zones and "America/New_York" in zones
    assert list(zones) == sorted(zones)
    for clutter in ("Factory", "localtime", "posixrules", "US/Pacific", "Etc/GMT+5"):
        assert clutter not in zones
    assert not any(z.startswith(("posix/", "right/", "Etc/")) for z in zones)
    assert REPLAY_STATION.timezone in zones
