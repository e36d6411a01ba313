"""The Open-Meteo client against a real HTTP server on loopback."""

import time

import numpy as np
import pytest

from support import DATASET
from weatherapp.forecast import features
from weatherapp.forecast.fetch import retry_after
from weatherapp.forecast.sources import OpenMeteoSource, ReplaySource, SourceError


def source(server, **options) -> OpenMeteoSource:
    defaults = {"retries": 2, "backoff": 0.01, "user_agent": "weatheralert-test/1"}
    return OpenMeteoSource(server.url, **{**defaults, **options})


def test_fetches_the_past_hours_in_si_units(weather_server):
    weather_server.end = np.datetime64(int(time.time()) // 3600 * 3600, "s")
    hours = source(weather_server).recent_hours(36.1, -79.95)
    (request,) = weather_server.requests
    assert request["path"] == "/v1/forecast"
    assert request["query"]["wind_speed_unit"] == "ms"
    assert request["query"]["timezone"] == "GMT"
    assert int(request["query"]["past_hours"]) >= features.WINDOW_HOURS
    assert request["query"]["hourly"].split(",") == [
        *features.VARIABLES,
        "precipitation_probability",
    ]
    assert request["user_agent"] == "weatheralert-test/1"
    # The forecast hour is dropped: the newest hour is the server's "now".
    assert hours["time"][-1] == weather_server.end
    features.check_hours(hours)
    assert len(hours["time"]) >= features.WINDOW_HOURS


def test_retries_5xx_then_succeeds(weather_server):
    weather_server.fail_next(36.1, -79.95, "500", "500")
    hours = source(weather_server, retries=2).recent_hours(36.1, -79.95)
    assert len(weather_server.requests) == 3
    assert len(hours["time"]) >= features.WINDOW_HOURS


def test_gives_up_after_the_retries(weather_server):
    weather_server.fail_next(36.1, -79.95, "500", "500", "500")
    with pytest.raises(SourceError, match="after 3 tries: HTTP 500"):
        source(weather_server, retries=2).recent_hours(36.1, -79.95)


def test_429_waits_forretry_after(weather_server):
    weather_server.fail_next(36.1, -79.95, "429")
    started = time.monotonic()
    source(weather_server, backoff=0.01).recent_hours(36.1, -79.95)
    assert time.monotonic() - started >= 1.0  # the server said Retry-After: 1
    assert len(weather_server.requests) == 2


def test_error_body_raises_with_its_reason(weather_server):
    weather_server.set(36.1, -79.95, "error")
    with pytest.raises(SourceError, match="Latitude must be in range"):
        source(weather_server).recent_hours(36.1, -79.95)
    assert len(weather_server.requests) == 1  # a 400 is not retried


def test_truncated_json_is_an_error(weather_server):
    weather_server.set(36.1, -79.95, "truncated")
    with pytest.raises(SourceError, match="invalid JSON"):
        source(weather_server).recent_hours(36.1, -79.95)


def test_read_timeout(weather_server):
    weather_server.set(36.1, -79.95, "slow")
    weather_server.slow_seconds = 1.0
    with pytest.raises(SourceError, match="timed out"):
        source(weather_server, retries=1, read_timeout=0.2).recent_hours(36.1, -79.95)


def test_connection_refused_is_retried_then_an_error():
    closed = OpenMeteoSource("http://127.0.0.1:9", retries=1, backoff=0.01)
    with pytest.raises(SourceError, match="ConnectionRefusedError"):
        closed.recent_hours(0, 0)


@pytest.mark.parametrize(
    ("header", "seconds"), [(None, 0), ("7", 7), ("-3", 0), ("soon", 0)]
)
def test_retry_after_header(header, seconds):
    assert retry_after(header) == seconds


def test_retry_after_http_date():
    from email.utils import formatdate

    assert 8 <= retry_after(formatdate(time.time() + 10, usegmt=True)) <= 10


def test_replay_serves_consecutive_windows_and_loops():
    replay = ReplaySource(DATASET, speed=3600, anchor=0, start="")
    first = replay.recent_hours(0, 0, now=0)
    second = replay.recent_hours(0, 0, now=1)  # one replayed hour later
    assert second["time"][-1] - first["time"][-1] == np.timedelta64(3600, "s")
    features.check_hours(first)
    lap = replay.recent_hours(0, 0, now=len(replay.ends))  # one lap later
    assert lap["time"][-1] - first["time"][-1] == np.timedelta64(364 * 86400, "s")
    assert np.array_equal(lap["precipitation"], first["precipitation"])


def test_a_stopping_process_ends_the_wait_between_tries_at_once():
    """SIGTERM during the backoff (Retry-After may hold it 30 s): the fetch
    gives up then, after the one try made, not after the wait and another."""
    import http.server
    import threading

    from weatherapp.forecast.fetch import STOP_RETRYING, FetchError

    class Busy(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            self.send_response(503)
            self.send_header("Retry-After", "30")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Busy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    source = OpenMeteoSource(
        f"http://127.0.0.1:{server.server_address[1]}", retries=3, backoff=10
    )
    stopper = threading.Timer(0.5, STOP_RETRYING.set)
    stopper.start()
    started = time.monotonic()
    try:
        with pytest.raises(FetchError, match="after 1 tries: HTTP 503 .not retried"):
            source.fetcher.get("/v1/forecast?latitude=1&longitude=2")
    finally:
        STOP_RETRYING.clear()
        server.shutdown()
    assert time.monotonic() - started < 20  # not the 30 s Retry-After
