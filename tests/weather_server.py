"""A real HTTP server on loopback standing in for Open-Meteo's forecast API.

It answers ``GET /v1/forecast`` in Open-Meteo's exact shape with windows of
the committed observations, relabelled so that the newest hour is ``end``.
Each cell's weather (``"rainy"``, ``"dry"``) or fault (``"error"``: an error
body, ``"500"``, ``"429"``, ``"slow"``, ``"drip"``: a byte every
``drip_seconds``, ``"truncated"`` JSON, ``"unequal"`` arrays, a ``"missing"``
variable) is set per (latitude, longitude) by the test; every request is
recorded.
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
        self.requests: list[dict] = []
        self.faults: dict[tuple[str, str], list[str]] = {}  # consumed in order
        self.slow_seconds = 2.0
        self.drip_seconds = 1.0
        self.lock = threading.Lock()
        # GET /v1/search (geocoding): names answered with canned places, and
        # faults consumed in order ("500", "429", "error", "slow", "invalid").
        self.places = dict(PLACES)
        self.search_faults: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
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

    def requests_for(self, latitude: float, longitude: float) -> list[dict]:
        key = _key(latitude, longitude)
        return [r for r in self.requests if (r["latitude"], r["longitude"]) == key]

    def body(self, kind: str, past_hours: int) -> dict:
        end = self.ends[kind]
        window = slice(end - past_hours + 1, end + 1)
        times = self.end + (np.arange(past_hours) - past_hours + 1) * HOUR
        # Open-Meteo adds the forecast hours after the past ones.
        times = np.concatenate([times, [self.end + HOUR]])
        hourly = {"time": [str(t.astype("datetime64[m]")) for t in times]}
        for name, values in self.hours.items():
            if name != "time":
                series = [round(float(v), 2) for v in values[window]]
                hourly[name] = [*series, series[-1]]
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

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        url = urllib.parse.urlsplit(request.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        key = (query.get("latitude", ""), query.get("longitude", ""))
        with self.lock:
            self.requests.append(
                {
                    "path": url.path,
                    "query": query,
                    "latitude": key[0],
                    "longitude": key[1],
                    "user_agent": request.headers.get("User-Agent", ""),
                }
            )
            pending = self.faults.get(key) or []
            fault = pending.pop(0) if pending else None
            weather = self.weather.get(key, self.default)
        if url.path == "/v1/search":
            return self.search(request, query)
        fault = fault or (weather if weather not in self.ends else None)
        if url.path != "/v1/forecast":
            return self.reply(request, 404, {"error": True, "reason": "Not Found"})
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
        if fault in ("unequal", "missing"):
            body = self.body("rainy", int(query.get("past_hours", "26")))
            if fault == "unequal":
                body["hourly"]["cloud_cover"] = body["hourly"]["cloud_cover"][:-3]
            else:
                del body["hourly"]["dew_point_2m"]
            return self.reply(request, 200, body)
        if fault == "slow":
            time.sleep(self.slow_seconds)
        if fault == "drip":  # a valid answer, one byte every drip_seconds
            body = json.dumps(self.body("rainy", 26)).encode()
            return drip(request, 200, body, self.drip_seconds)
        past = int(query.get("past_hours", "26"))
        self.reply(
            request, 200, self.body(weather if weather in self.ends else "dry", past)
        )

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
        self, request, status: int, body: dict, headers: dict | None = None
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
