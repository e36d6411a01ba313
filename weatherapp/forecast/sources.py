"""Weather sources: where the recent hours of a location come from.

Both sources have one method, ``recent_hours(latitude, longitude)``, returning
*hours* (see features.py) that end with the newest complete hour.

- ``ReplaySource``, the embedded default, replays the committed observations
  (data/), optionally on a clock faster than real time so a demo sees rain
  arrive. It serves one station's weather to every location.
- ``OpenMeteoSource`` asks Open-Meteo's forecast API (no key needed).

Free of Django: alerting/cycle.py makes the one the settings choose.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import logging
import time
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from weatherapp.deadline import Deadline

from . import dataset, features

if TYPE_CHECKING:  # numpy.typing is for the checker only, never loaded at runtime
    import numpy.typing as npt

log = logging.getLogger(__name__)


class SourceError(RuntimeError):
    """Weather for a location could not be had (after retries)."""


# A replay lap is shifted by whole weeks, so local time of day is unchanged.
LAP = np.timedelta64(364 * 86400, "s")


class ReplaySource:
    """The committed observations, one hour per ``3600 / speed`` seconds.

    At unix time ``anchor`` the newest hour served is ``start`` (an hour of the
    file); the replay then walks through every window of consecutive hours in
    file order, looping with times shifted by 364 days per lap.
    """

    def __init__(
        self, path: str | Path, speed: float = 1.0, anchor: float = 0.0, start: str = ""
    ) -> None:
        self.hours = dataset.read_csv(path)
        self.ends = features.window_ends(self.hours["time"])
        if not len(self.ends):
            raise dataset.DatasetError(
                f"{path}: no {features.WINDOW_HOURS}-hour window"
            )
        self.speed = speed
        self.anchor = anchor
        self.start = 0
        if start:
            wanted = np.datetime64(start.rstrip("Z"), "s")
            self.start = int(np.searchsorted(self.hours["time"][self.ends], wanted))

    def position(self, now: float | None = None) -> tuple[int, int]:
        """(index into ``ends``, lap) of the hour that is newest at ``now``."""
        now = time.time() if now is None else now
        step = self.start + int(np.floor((now - self.anchor) * self.speed / 3600.0))
        return step % len(self.ends), step // len(self.ends)

    def recent_hours(
        self, latitude: float, longitude: float, now: float | None = None
    ) -> dict[str, npt.NDArray[Any]]:
        """The newest WINDOW_HOURS consecutive hours at ``now``."""
        k, lap = self.position(now)
        end = int(self.ends[k])
        window = slice(end - features.WINDOW_HOURS + 1, end + 1)
        hours = {name: values[window].copy() for name, values in self.hours.items()}
        hours["time"] = hours["time"] + lap * LAP
        return hours


class OpenMeteoSource:
    """Open-Meteo's forecast API: the past hours of one location per request.

    Connect and read timeouts are separate; 5xx answers, 429 (honouring
    ``Retry-After``) and network errors are retried with exponential backoff;
    an error body ``{"error": true, "reason": ...}`` raises with its reason.
    """

    PAST_HOURS = features.WINDOW_HOURS + 2

    def __init__(
        self,
        base_url: str,
        connect_timeout: float = 3.05,
        read_timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.5,
        max_wait: float = 30.0,
        user_agent: str = "weatheralert",
        deadline: float = 30.0,
    ) -> None:
        url = urllib.parse.urlsplit(base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"OPEN_METEO_URL {base_url!r} is not an http(s) URL")
        self.url = url
        self.host: str = url.hostname
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.retries = retries
        self.backoff = backoff
        self.max_wait = max_wait
        self.user_agent = user_agent
        self.deadline = deadline

    def query(self, latitude: float, longitude: float) -> str:
        params = {
            "latitude": f"{latitude:.4f}",
            "longitude": f"{longitude:.4f}",
            "hourly": ",".join(features.VARIABLES),
            "past_hours": self.PAST_HOURS,
            "forecast_hours": 1,
            "wind_speed_unit": "ms",
            "timezone": "GMT",
        }
        path = self.url.path.rstrip("/") + "/v1/forecast"
        return f"{path}?{urllib.parse.urlencode(params)}"

    def recent_hours(
        self, latitude: float, longitude: float, now: float | None = None
    ) -> dict[str, npt.NDArray[Any]]:
        from .openmeteo import OpenMeteoError, parse_hourly

        body = self._get_json(self.query(latitude, longitude))
        try:
            hours = parse_hourly(body)
        except (OpenMeteoError, features.FeatureError) as exc:
            raise SourceError(f"Open-Meteo: {exc}") from None
        # Forecast hours are not observations: keep what has already happened.
        now = time.time() if now is None else now
        past = hours["time"] <= np.datetime64(int(now), "s")
        return {name: values[past] for name, values in hours.items()}

    def _get_json(self, target: str) -> object:
        problem = ""
        for attempt in range(self.retries + 1):
            wait = self.backoff * 2**attempt
            try:
                status, headers, body = self._get(target)
            except (OSError, http.client.HTTPException) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if status == 200 or (400 <= status < 500 and status != 429):
                    return _json_body(status, body)
                problem = f"HTTP {status}"
                wait = max(wait, _retry_after(headers.get("Retry-After")))
            if attempt == self.retries:
                break
            wait = min(wait, self.max_wait)
            log.warning("Open-Meteo %s; retrying in %.1f s", problem, wait)
            time.sleep(wait)
        tries = self.retries + 1
        raise SourceError(f"Open-Meteo unavailable after {tries} tries: {problem}")

    def _get(self, target: str) -> tuple[int, http.client.HTTPMessage, bytes]:
        kind = (
            http.client.HTTPSConnection
            if self.url.scheme == "https"
            else http.client.HTTPConnection
        )
        conn = kind(self.host, self.url.port, timeout=self.connect_timeout)
        headers = {"User-Agent": self.user_agent, "Accept": "application/json"}
        # Read timeouts bound each wait; the deadline bounds the whole request.
        with Deadline(self.deadline, lambda: conn.sock) as deadline:
            try:
                conn.connect()
                conn.sock.settimeout(self.read_timeout)
                conn.request("GET", target, headers=headers)
                response = conn.getresponse()
                answer = response.status, response.headers, response.read(MAX_BODY)
            except (OSError, http.client.HTTPException):
                if deadline.expired:  # the cut, not the server, broke the answer
                    raise TimeoutError(deadline.explain("")) from None
                raise
            finally:
                conn.close()
        if deadline.expired:  # the body may be cut short: never parse it
            raise TimeoutError(deadline.explain(""))
        return answer


MAX_BODY = 4 * 1024 * 1024


def _json_body(status: int, body: bytes) -> object:
    """A 200's JSON, or a 4xx's error body (which parse_hourly raises on)."""
    try:
        data = json.loads(body)
    except ValueError:
        raise SourceError(f"Open-Meteo answered {status} with invalid JSON") from None
    if status != 200 and not (isinstance(data, dict) and data.get("error")):
        raise SourceError(f"Open-Meteo answered {status}")
    return data


def _retry_after(value: str | None) -> float:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date)."""
    if not value:
        return 0.0
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 0.0
    return max(0.0, when.timestamp() - time.time())
