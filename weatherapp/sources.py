"""Weather sources: where the recent hours of a place come from.

``ReplaySource`` is the embedded default: it replays the committed hourly
observations (data/), optionally on a clock that runs faster than real time,
so a demo sees rain arrive. It serves one station's weather to every place.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from .ai import dataset, features

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
    ) -> dict[str, np.ndarray]:
        """The newest WINDOW_HOURS consecutive hours at ``now``."""
        k, lap = self.position(now)
        end = int(self.ends[k])
        window = slice(end - features.WINDOW_HOURS + 1, end + 1)
        hours = {name: values[window].copy() for name, values in self.hours.items()}
        hours["time"] = hours["time"] + lap * LAP
        return hours


_source = None
_lock = threading.Lock()


def get_source() -> ReplaySource:
    """The process-wide weather source chosen by settings (loaded on first use)."""
    global _source
    if _source is None:
        from django.conf import settings

        with _lock:
            if _source is None:
                if settings.WEATHER_SOURCE != "replay":
                    raise ValueError(
                        f"unknown WEATHER_SOURCE {settings.WEATHER_SOURCE!r}"
                    )
                _source = ReplaySource(
                    settings.WEATHER_REPLAY_PATH,
                    speed=settings.WEATHER_REPLAY_SPEED,
                    anchor=settings.WEATHER_REPLAY_ANCHOR,
                    start=settings.WEATHER_REPLAY_START,
                )
    return _source
