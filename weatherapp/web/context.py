"""Template context for every page."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def replay(request: HttpRequest) -> dict:
    """In the demo every place gets one station's recorded hours on the
    replay's own clock: each page says so (a place in Paris got Greensboro's
    rain without a word, and the forecast's 1980 clock stood beside today's)."""
    if settings.WEATHER_SOURCE != "replay":
        return {}
    from weatherapp.forecast.geocoding import REPLAY_STATION

    return {
        "replay": {
            "station": REPLAY_STATION.label,
            "speed": settings.WEATHER_REPLAY_SPEED,
        }
    }
