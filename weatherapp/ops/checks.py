"""System checks about the deployment (the model's own is in health.py).

Registered without ``deploy=True`` so that ``migrate`` (Heroku's release
phase) runs them too, not only ``check --deploy``.
"""

from __future__ import annotations

import ipaddress
import os
import re
import urllib.parse
from typing import Any

from django.core import checks


def site_url_problem(site_url: str) -> str | None:
    """Why ``site_url`` cannot be the address in emails people open, if so."""
    try:
        parts = urllib.parse.urlsplit(site_url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        return f"SITE_URL {site_url!r} is not a valid URL"
    if parts.scheme not in ("http", "https") or not host:
        return f"SITE_URL {site_url!r} is not an http(s) address with a host"
    if host == "localhost" or host.endswith(".localhost"):
        return f"SITE_URL {site_url!r} points at this machine (localhost)"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if address.is_loopback or address.is_unspecified:
        return f"SITE_URL {site_url!r} points at this machine ({host})"
    return None


@checks.register(checks.Tags.security)
def check_site_url(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    """On a dyno, links in emails (alerts, unsubscribe, password reset) must
    lead to the app: an unset SITE_URL (default http://localhost:8000) stops
    the release instead of sending dead links."""
    from django.conf import settings

    if "DYNO" not in os.environ:
        return []
    if not os.environ.get("SITE_URL", "").strip():
        problem: str | None = "SITE_URL is not set"
    else:
        problem = site_url_problem(settings.SITE_URL)
    if problem is None:
        return []
    return [
        checks.Error(
            f"{problem}: links in emails would not lead to the app.",
            hint="heroku config:set SITE_URL=https://<app>.herokuapp.com",
            id="weatherapp.E002",
        )
    ]


RATE_LIMITS = (
    "PREDICT_RATE_LIMIT",
    "LOGIN_RATE_LIMIT",
    "LOGIN_ADDRESS_RATE_LIMIT",
    "LOGIN_USERNAME_RATE_LIMIT",
    "PASSWORD_RESET_EMAIL_RATE_LIMIT",
    "PASSWORD_RESET_ADDRESS_RATE_LIMIT",
)
WEATHER_SOURCES = ("replay", "open-meteo")
REDIS_SCHEMES = ("redis", "rediss", "unix")
# Each setting's smallest sensible value: below it the app misbehaves without
# failing (0 s between cycles queued 1,619 cycles in 5 s; 0° cells divide by
# zero when a place is saved). The demo and the tests run cycles seconds apart.
AT_LEAST = {
    "PREDICTION_INTERVAL_SECONDS": 1,
    "CYCLE_CHUNK_CELLS": 1,
    "OPEN_METEO_LOCATIONS_PER_REQUEST": 1,
    "OPEN_METEO_RETRIES": 0,
    "WEBHOOK_RETRIES": 0,
    "MAX_PLACES_PER_ACCOUNT": 1,
    "EVENT_END_HOURS": 1,
    "UNSUBSCRIBE_MAX_AGE_DAYS": 1,
    "OPEN_METEO_BACKOFF": 0,  # a negative sleep raises inside a chunk
    "WEBHOOK_BACKOFF": 0,
}
ABOVE_ZERO = (
    "CELL_DEGREES",
    "CHUNK_FETCH_SECONDS",
    "OPEN_METEO_CONNECT_TIMEOUT",
    "OPEN_METEO_READ_TIMEOUT",
    "OPEN_METEO_DEADLINE",
    "WEBHOOK_TIMEOUT",
    "DELIVERY_DEADLINE",
    "EMAIL_TIMEOUT",
    "DYNO_MEMORY_QUOTA_MB",
    "CACHE_CONNECT_TIMEOUT",
    "CACHE_TIMEOUT",
    "WEATHER_REPLAY_SPEED",
)


def rate_limit_problem(limit: str) -> str | None:
    """Why ``limit`` is not COUNT/SECONDS with both whole and above zero."""
    match = re.fullmatch(r"([0-9]+)/([0-9]+)", limit)
    if match and int(match[1]) > 0 and int(match[2]) > 0:
        return None
    return f"{limit!r} is not COUNT/SECONDS, whole numbers above 0 (e.g. 120/60)"


def settings_problems(values: dict[str, Any]) -> list[str]:
    """What is wrong with the settings named here, each as a sentence naming
    its config var; ``values`` maps names to the settings' values."""
    problems = []
    for name in RATE_LIMITS:
        if (why := rate_limit_problem(str(values[name]))) is not None:
            problems.append(f"{name}={why}")
    for name, low in AT_LEAST.items():
        if values[name] < low:
            problems.append(f"{name}={values[name]:g} is below {low}")
    for name in ABOVE_ZERO:
        if not values[name] > 0:
            problems.append(f"{name}={values[name]:g} must be above 0")
    if not 0 <= values["ALERT_HYSTERESIS"] < 1:
        problems.append(
            f"ALERT_HYSTERESIS={values['ALERT_HYSTERESIS']:g} is not in [0, 1)"
        )
    if not 0 < values["MEMORY_WARN_SHARE"] <= 1:
        problems.append(
            f"MEMORY_WARN_SHARE={values['MEMORY_WARN_SHARE']:g} is not in (0, 1]"
        )
    if values["WEATHER_SOURCE"] not in WEATHER_SOURCES:
        problems.append(
            f"WEATHER_SOURCE={values['WEATHER_SOURCE']!r} is not one of "
            f"{', '.join(WEATHER_SOURCES)}"
        )
    redis_url = values["REDIS_URL"]
    if redis_url and urllib.parse.urlsplit(redis_url).scheme not in REDIS_SCHEMES:
        problems.append(
            f"REDIS_URL is not a redis://, rediss:// or unix:// address "
            f"(scheme {urllib.parse.urlsplit(redis_url).scheme!r})"
        )
    return problems


@checks.register()
def check_settings(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    """Config vars the app would misread at run time (a 500 on every log-in,
    a worker that never connects) stop the release instead: on Heroku a
    changed config var makes a release, whose phase runs these checks."""
    from django.conf import settings

    names = (*RATE_LIMITS, *AT_LEAST, *ABOVE_ZERO)
    names += ("ALERT_HYSTERESIS", "MEMORY_WARN_SHARE", "WEATHER_SOURCE", "REDIS_URL")
    values = {name: getattr(settings, name) for name in names}
    return [
        checks.Error(problem, id="weatherapp.E010")
        for problem in settings_problems(values)
    ]
