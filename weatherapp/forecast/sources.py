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

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import dataset, features
from .fetch import FetchError, JsonFetcher

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
    """Open-Meteo's forecast API: the past hours of one location per request,
    asked the way fetch.JsonFetcher asks (timeouts, total deadline, retries
    with backoff and ``Retry-After``); an error body raises with its reason.
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
            max_body=MAX_BODY,
        )

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
        return self.fetcher.path("/v1/forecast", params)

    def recent_hours(
        self, latitude: float, longitude: float, now: float | None = None
    ) -> dict[str, npt.NDArray[Any]]:
        from .openmeteo import OpenMeteoError, parse_hourly

        try:
            body = self.fetcher.get(self.query(latitude, longitude))
        except FetchError as exc:
            raise SourceError(str(exc)) from None
        try:
            hours = parse_hourly(body)
        except (OpenMeteoError, features.FeatureError) as exc:
            raise SourceError(f"Open-Meteo: {exc}") from None
        # Forecast hours are not observations: keep what has already happened.
        now = time.time() if now is None else now
        past = hours["time"] <= np.datetime64(int(now), "s")
        return {name: values[past] for name, values in hours.items()}


MAX_BODY = 4 * 1024 * 1024
