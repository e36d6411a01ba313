"""A real HTTP server on loopback standing in for Open-Meteo's forecast API.

It answers ``GET /v1/forecast`` in Open-Meteo's exact shape with windows of
the committed observations, relabelled so that the newest hour is ``end``.
Each cell's weather (``"rainy"``, ``"dry"``) or fault (``"error"``: an error
body, ``"500"``, ``"429"``, ``"slow"``, ``"drip"``: a byte every
``drip_seconds``, ``"truncated"`` JSON, ``"unequal"`` arrays, a ``"missing"``
variable) is set per (latitude, longitude) by the test; every request is
recorded. Like Open-Meteo it takes comma-separated coordinates and answers
several locations with a list (a fault of any one fails the request, except
"unequal" and "missing", which spoil only that location's element), keeps
connections alive (HTTP/1.1), adds ``forecast_hours`` after the past ones
with ``precipitation_probability`` when asked, and can be made slow
(``latency`` seconds a request) and unreliable (``failure_rate``: that share
of requests answered 500, from a seeded generator).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

HOUR = np.timedelta64(3600, "s")


class WeatherServer:
    def __init__(self, hours: dict[str, np.ndarray], rainy_end: int, dry_end: int):
        self.hours = hours
        self.ends = {"rainy": rainy_end, "dry": dry_end}
        self.weather: dict[tuple[str, str], str] = {}
        self.default = "dry"
        # Hours ago, so tests can step it forward without reaching the future.
        self.end = np.datetime64(int(time.time()) // 3600 * 3600 - 12 * 3600, "s")
        # With ``follow``, moving ``end`` walks through the record: the hours
        # once served as forecast come back later as past hours (verification).
        self.follow = False
        self.first_end = self.end
        self.requests: list[dict] = []
        self.faults: dict[tuple[str, str], list[str]] = {}  # consumed in order
        self.slow_seconds = 2.0
        self.drip_seconds = 1.0
        self.lock = threading.Lock()
        self.latency = 0.0
        self.failure_rate = 0.0
        self.rng = np.random.default_rng(0)
        # Open-Meteo's hourly chance of precipitation per location (%); by
        # default 80 for an hour with rain >= 0.1 mm in the data, else 10.
        self.chances: dict[tuple[str, str], list[float]] = {}
        # GET /v1/search (geocoding): names answered with canned places, and
        # faults consumed in order ("500", "429", "error", "slow", "invalid").
        self.places = dict(PLACES)
        self.search_faults: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as Open-Meteo does

            def do_GET(self):  # noqa: N802 (http.server's name)
                server.handle(self)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def set(self, latitude: float, longitude: float, weather: str) -> None:
        self.weather[_key(latitude, longitude)] = weather

    def fail_next(self, latitude: float, longitude: float, *faults: str) -> None:
        self.faults.setdefault(_key(latitude, longitude), []).extend(faults)

    def locations_asked(self) -> int:
        """Locations asked for so far (a request asks for one or several)."""
        return sum(len(r["locations"]) for r in self.requests)

    def requests_for(self, latitude: float, longitude: float) -> list[dict]:
        key = _key(latitude, longitude)
        return [r for r in self.requests if key in r["locations"]]

    def body(
        self,
        kind: str,
        past_hours: int,
        ahead: int = 1,
        chances: list[float] | None = None,
        key: tuple[str, str] = ("", ""),
    ) -> dict:
        end = self.ends[kind] + (self.shift() if self.follow else 0)
        # Open-Meteo adds the forecast hours after the past ones: here the
        # recorded hours that followed.
        rows = slice(end - past_hours + 1, end + 1 + ahead)
        n = past_hours + ahead
        times = self.end + (np.arange(n) - past_hours + 1) * HOUR
        hourly = {"time": [str(t.astype("datetime64[m]")) for t in times]}
        for name, values in self.hours.items():
            if name != "time":
                hourly[name] = [round(float(v), 2) for v in values[rows]]
        if chances is not None:
            given = self.chances.get(key)
            rain = np.asarray(self.hours["precipitation"][rows]) >= 0.1
            default = np.where(rain, 80.0, 10.0).tolist()
            hourly["precipitation_probability"] = (
                [*default[:past_hours], *given][:n] if given else default
            )
        return {
            "latitude": 0.0,
            "longitude": 0.0,
            "generationtime_ms": 0.05,
            "utc_offset_seconds": 0,
            "timezone": "GMT",
            "timezone_abbreviation": "GMT",
            "elevation": 100.0,
            "hourly_units": {
                "time": "iso8601",
                "temperature_2m": "°C",
                "relative_humidity_2m": "%",
                "dew_point_2m": "°C",
                "surface_pressure": "hPa",
                "cloud_cover": "%",
                "wind_speed_10m": "m/s",
                "wind_direction_10m": "°",
                "precipitation": "mm",
            },
            "hourly": hourly,
        }

    def shift(self) -> int:
        return int((self.end - self.first_end) // HOUR)

    def recorded(self, kind: str, valid_at: np.datetime64, hours: int = 6) -> list:
        """With ``follow``: the recorded precipitation of the ``hours`` after
        ``valid_at`` (an hour this server labelled)."""
        index = self.ends[kind] + int((valid_at - self.first_end) // HOUR)
        return [
            float(v) for v in self.hours["precipitation"][index + 1 : index + 1 + hours]
        ]

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        url = urllib.parse.urlsplit(request.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        lats = query.get("latitude", "").split(",")
        lons = query.get("longitude", "").split(",")
        keys = list(zip(lats, lons, strict=False))
        with self.lock:
            self.requests.append(
                {
                    "path": url.path,
                    "query": query,
                    "latitude": query.get("latitude", ""),
                    "longitude": query.get("longitude", ""),
                    "locations": keys,
                    "client_port": request.client_address[1],
                    "user_agent": request.headers.get("User-Agent", ""),
                }
            )
            faults = []
            for key in keys:
                pending = self.faults.get(key) or []
                fault = pending.pop(0) if pending else None
                weather = self.weather.get(key, self.default)
                faults.append(fault or (weather if weather not in self.ends else None))
            kinds = [
                w if w in self.ends else "dry"
                for w in (self.weather.get(k, self.default) for k in keys)
            ]
            failed = self.rng.random() < self.failure_rate
        if url.path == "/v1/search":
            return self.search(request, query)
        if self.latency:
            time.sleep(self.latency)
        if url.path != "/v1/forecast":
            return self.reply(request, 404, {"error": True, "reason": "Not Found"})
        if failed:
            return self.reply(request, 500, {"error": True, "reason": "internal"})
        # A fault of one location fails the whole request, as a server error
        # would; a spoiled element spoils only its location.
        whole = [f for f in faults if f not in (None, "unequal", "missing")]
        fault = whole[0] if whole else None
        if fault == "500":
            return self.reply(request, 500, {"error": True, "reason": "internal"})
        if fault == "429":
            return self.reply(
                request,
                429,
                {"error": True, "reason": "Too many requests"},
                {"Retry-After": "1"},
            )
        if fault == "error":
            return self.reply(
                request,
                400,
                {"error": True, "reason": "Latitude must be in range of -90 to 90°."},
            )
        if fault == "truncated":
            body = json.dumps(self.body("rainy", 26)).encode()[:200]
            return self.reply_raw(request, 200, body)
        if fault == "slow":
            time.sleep(self.slow_seconds)
        if fault == "drip":  # a valid answer, one byte every drip_seconds
            body = json.dumps(self.body("rainy", 26)).encode()
            return drip(request, 200, body, self.drip_seconds)
        past = int(query.get("past_hours", "26"))
        ahead = int(query.get("forecast_hours", "1"))
        wants_chances = "precipitation_probability" in query.get("hourly", "")
        bodies = []
        for key, kind, spoil in zip(keys, kinds, faults, strict=True):
            body = self.body(
                "rainy" if spoil in ("unequal", "missing") else kind,
                past,
                ahead,
                [] if wants_chances else None,
                key,
            )
            if spoil == "unequal":
                body["hourly"]["cloud_cover"] = body["hourly"]["cloud_cover"][:-3]
            elif spoil == "missing":
                del body["hourly"]["dew_point_2m"]
            bodies.append(body)
        self.reply(request, 200, bodies[0] if len(bodies) == 1 else bodies)

    def search(self, request: BaseHTTPRequestHandler, query: dict) -> None:
        """Open-Meteo's geocoding: ``{"results": [...]}``, no "results" key
        when nothing matches, ``{"error": true, "reason": ...}`` on errors."""
        with self.lock:
            fault = self.search_faults.pop(0) if self.search_faults else None
        if fault in ("500", "429", "error"):
            status = {"500": 500, "429": 429, "error": 400}[fault]
            headers = {"Retry-After": "1"} if fault == "429" else None
            reason = "Parameter count must be between 1 and 100."
            body = {"error": True, "reason": reason if fault == "error" else "busy"}
            return self.reply(request, status, body, headers)
        if fault == "invalid":
            return self.reply_raw(request, 200, b"<html>not json")
        if fault == "slow":
            time.sleep(self.slow_seconds)
        name = query.get("name", "").casefold()
        found = self.places.get(name, [])[: int(query.get("count", "10"))]
        body = {"generationtime_ms": 0.4}
        if found:
            body["results"] = found
        self.reply(request, 200, body)

    def reply(
        self, request, status: int, body: dict | list, headers: dict | None = None
    ) -> None:
        self.reply_raw(request, status, json.dumps(body).encode(), headers)

    def reply_raw(self, request, status: int, body: bytes, headers: dict | None = None):
        try:
            request.send_response(status)
            request.send_header("Content-Type", "application/json; charset=utf-8")
            request.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                request.send_header(name, value)
            request.end_headers()
            request.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)


def drip(request: BaseHTTPRequestHandler, status: int, body: bytes, every: float):
    """Answer one byte at a time, ``every`` seconds apart: each read of the
    client is quick, the whole answer takes minutes (never timing out a read)."""
    head = (
        f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    try:
        for i in range(len(head) + len(body)):
            request.wfile.write((head + body)[i : i + 1])
            request.wfile.flush()
            time.sleep(every)
    except OSError:
        pass  # the client gave up: what a deadline is for
    request.close_connection = True


def _place(name, latitude, longitude, timezone, country, admin1, **more) -> dict:
    return {
        "id": 1,
        "name": name,
        "latitude": latitude,
        "longitude": longitude,
        "elevation": 100.0,
        "feature_code": "PPL",
        "country_code": "XX",
        "timezone": timezone,
        "country": country,
        "admin1": admin1,
        **more,
    }


PLACES = {
    "springfield": [
        _place(
            "Springfield",
            39.80172,
            -89.64371,
            "America/Chicago",
            "United States",
            "Illinois",
            population=116250,
        ),
        _place(
            "Springfield",
            42.10148,
            -72.58981,
            "America/New_York",
            "United States",
            "Massachusetts",
        ),
        _place(
            "Springfield",
            -43.33333,
            171.93333,
            "Pacific/Auckland",
            "New Zealand",
            "Canterbury",
        ),
    ],
    "berlin": [
        _place("Berlin", 52.52437, 13.41053, "Europe/Berlin", "Germany", "Land Berlin")
    ],
}


def _key(latitude: float, longitude: float) -> tuple[str, str]:
    return f"{latitude:.4f}", f"{longitude:.4f}"
