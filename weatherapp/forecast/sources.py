"""Weather sources: where the recent hours of a location come from.

Both sources answer ``recent_weather(locations)`` with, per location, the
*hours* (see features.py) that end with the newest complete hour and, where
the source forecasts, its own chance of rain in the hours after them (the
baseline our model is verified against); ``recent_hours(latitude,
longitude)`` is the one-location shorthand. ``newest_hour()`` says which hour
a fetch now would end with, so a cell already predicted for it is not asked
again (the data changes hourly, the cycle runs more often).

- ``ReplaySource``, the embedded default, replays the committed observations
  (data/), optionally on a clock faster than real time so a demo sees rain
  arrive. It serves one station's weather to every location.
- ``OpenMeteoSource`` asks Open-Meteo's forecast API (no key needed).

Free of Django: alerting/cycle.py makes the one the settings choose.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import dataset, features
from .fetch import FetchError, JsonFetcher
from .variables import HORIZONS

if TYPE_CHECKING:  # numpy.typing is for the checker only, never loaded at runtime
    import numpy.typing as npt

log = logging.getLogger(__name__)


class SourceError(RuntimeError):
    """Weather for a location could not be had (after retries)."""


Location = tuple[float, float]  # latitude, longitude


@dataclass
class Weather:
    """One location's recent hours and the source's own forecast of rain:
    ``chances[k-1]`` = P(rain in any of the k hours after the last one), for
    k = 1...len(HORIZONS); None when the source makes no such forecast."""

    hours: dict[str, npt.NDArray[Any]]
    chances: tuple[float, ...] | None = None


def rain_chances(hourly_probabilities: Sequence[float]) -> tuple[float, ...]:
    """P(rain within k hours) from a forecast's hourly chances of rain: the
    largest hourly chance so far. Rain in any of k hours is at least as
    likely as in the likeliest one, and exactly that when the hours' rain is
    one system passing (the usual case within six hours); the product rule
    (1 - prod(1 - p)) would assume independent hours and overstate it."""
    chances: list[float] = []
    for p in hourly_probabilities:
        chances.append(max(p, chances[-1]) if chances else p)
    return tuple(chances)


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

    # Replayed hours cost nothing: the cycle hands over a chunk at once.
    locations_per_request = 1000

    def newest_hour(self, now: float | None = None) -> np.datetime64:
        k, lap = self.position(now)
        newest: np.datetime64 = self.hours["time"][int(self.ends[k])] + lap * LAP
        return newest

    def recent_weather(
        self, locations: Sequence[Location], now: float | None = None
    ) -> list[Weather | SourceError]:
        """The same recorded hours for every location; no forecast of its own."""
        hours = self.recent_hours(0.0, 0.0, now)
        return [Weather(dict(hours)) for _ in locations]

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


# Open-Meteo counts a request as one call per location, more when it asks
# for more than 10 variables or more than 7 days (fractional counts).
CALL_VARIABLES = 10
# Requested beside the model's variables: the provider's own hourly chance of
# precipitation, for the baseline (Open-Meteo's name).
PROVIDER_CHANCE = "precipitation_probability"

# Told after every HTTP request to the forecast API: (requests, calls as
# Open-Meteo counts them).
RequestHook = Callable[[int, float], None]


class OpenMeteoSource:
    """Open-Meteo's forecast API: the past hours of up to
    ``locations_per_request`` locations per request (comma-separated
    coordinates, answered with a list), asked the way fetch.JsonFetcher asks
    (one kept-alive connection, timeouts, total deadline, retries with backoff
    and ``Retry-After``); an error body raises with its reason. With an
    ``api_key`` it asks the customer endpoint (``base_url`` should then be
    https://customer-api.open-meteo.com).
    """

    PAST_HOURS = features.WINDOW_HOURS + 2
    AHEAD_HOURS = max(HORIZONS)
    # Open-Meteo takes up to 1,000 locations a call; 100 keep a GET's URL
    # near 4 KB (the server's limit is ~64 KB) and a failed request cheap.
    LOCATIONS_PER_REQUEST = 100

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
        api_key: str = "",
        locations_per_request: int = LOCATIONS_PER_REQUEST,
        on_request: RequestHook | None = None,
    ) -> None:
        if not 1 <= locations_per_request <= 1000:
            raise ValueError("locations_per_request must be within 1..1000")
        self.api_key = api_key
        self.locations_per_request = locations_per_request
        self.on_request = on_request
        self.fetcher = JsonFetcher(
            base_url,
            what="Open-Meteo",
            setting="OPEN_METEO_URL",
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries=retries,
            backoff=backoff,
            max_wait=max_wait,
            user_agent=user_agent,
            deadline=deadline,
            max_body=MAX_BODY + BODY_PER_LOCATION * locations_per_request,
            on_attempt=self._attempted,
        )
        self._locations = 0

    def newest_hour(self, now: float | None = None) -> np.datetime64:
        """The last of the ``past_hours``: the hour before the current one."""
        now = time.time() if now is None else now
        return np.datetime64(int(now) // 3600 * 3600 - 3600, "s")

    def variables(self) -> tuple[str, ...]:
        return (*features.VARIABLES, PROVIDER_CHANCE)

    def query(self, locations: Sequence[Location]) -> str:
        params: dict[str, object] = {
            "latitude": ",".join(f"{lat:.4f}" for lat, _ in locations),
            "longitude": ",".join(f"{lon:.4f}" for _, lon in locations),
            "hourly": ",".join(self.variables()),
            "past_hours": self.PAST_HOURS,
            "forecast_hours": self.AHEAD_HOURS,
            "wind_speed_unit": "ms",
            "timezone": "GMT",
        }
        if self.api_key:
            params["apikey"] = self.api_key
        return self.fetcher.path("/v1/forecast", params)

    def _attempted(self) -> None:
        if self.on_request is not None:
            weight = max(1.0, len(self.variables()) / CALL_VARIABLES)
            self.on_request(1, weight * max(1, self._locations))

    def recent_weather(
        self, locations: Sequence[Location], now: float | None = None
    ) -> list[Weather | SourceError]:
        """Each location's weather, or the SourceError that cost it: a failed
        request costs its locations, a bad element only its own."""
        results: list[Weather | SourceError] = []
        step = self.locations_per_request
        for i in range(0, len(locations), step):
            results += self._request(locations[i : i + step], now)
        return results

    def recent_hours(
        self, latitude: float, longitude: float, now: float | None = None
    ) -> dict[str, npt.NDArray[Any]]:
        (result,) = self.recent_weather([(latitude, longitude)], now)
        if isinstance(result, SourceError):
            raise result
        return result.hours

    def _request(
        self, locations: Sequence[Location], now: float | None, isolate: bool = True
    ) -> list[Weather | SourceError]:
        self._locations = len(locations)
        try:
            body = self.fetcher.get(self.query(locations))
        except FetchError as exc:
            return [SourceError(str(exc)) for _ in locations]
        # One location is answered with an object, several with a list.
        if isinstance(body, dict) and body.get("error") is True:
            if len(locations) > 1 and isolate:
                # A refused request (e.g. one coordinate it will not take)
                # must not cost the others: ask each half again, down to the
                # location at fault. When the first half is refused whole,
                # the second is asked once, not split (an error that is
                # everyone's, a bad key, costs ~2 log2(n) requests, not 2n).
                half = len(locations) // 2
                first = self._request(locations[:half], now)
                whole = all(isinstance(r, SourceError) for r in first)
                return first + self._request(locations[half:], now, not whole)
            error = SourceError(f"Open-Meteo: {body.get('reason', 'unknown error')}")
            return [error for _ in locations]
        items = body if isinstance(body, list) else [body]
        if len(items) != len(locations):
            error = SourceError(
                f"Open-Meteo answered {len(items)} locations for {len(locations)}"
            )
            return [error for _ in locations]
        now = time.time() if now is None else now
        return [self._weather(item, now) for item in items]

    def _weather(self, body: object, now: float) -> Weather | SourceError:
        from .openmeteo import OpenMeteoError, parse_hourly

        try:
            hours = parse_hourly(body)
        except (OpenMeteoError, features.FeatureError) as exc:
            return SourceError(f"Open-Meteo: {exc}")
        # Open-Meteo answers past_hours hours before the current one, then
        # forecast_hours from the current one on: the past ones are the
        # window, the rest the hours whose rain the forecast is about.
        past = hours["time"] <= np.datetime64(int(now), "s")
        past[self.PAST_HOURS :] = False
        weather = Weather({name: values[past] for name, values in hours.items()})
        if past.any():
            weather.chances = _provider_chances(body, hours["time"], past)
        return weather


def _provider_chances(
    body: Any, times: npt.NDArray[np.datetime64], past: npt.NDArray[np.bool_]
) -> tuple[float, ...] | None:
    """The provider's P(rain within k h) after the last past hour, or None
    when it gave no chance for each of those hours."""
    raw = body.get("hourly", {}).get(PROVIDER_CHANCE)
    if not isinstance(raw, list) or len(raw) != len(times):
        return None
    last = int(np.flatnonzero(past)[-1])
    wanted = [times[last] + k * np.timedelta64(3600, "s") for k in HORIZONS]
    ahead = list(range(last + 1, min(last + 1 + len(HORIZONS), len(times))))
    if [times[i] for i in ahead] != wanted:
        return None
    values = [raw[i] for i in ahead]
    if not all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        for v in values
    ):
        return None
    return rain_chances([min(max(float(v), 0.0), 100.0) / 100.0 for v in values])


MAX_BODY = 4 * 1024 * 1024
# 32 hours of 9 variables take ~4 KB a location.
BODY_PER_LOCATION = 64 * 1024
