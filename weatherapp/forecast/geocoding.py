"""Finding a place by name: Open-Meteo's geocoding API (no key needed).

``OpenMeteoGeocoder.search(name)`` returns up to ``count`` ``Found`` places,
each with the IANA time zone Open-Meteo gives for it. The client follows the
forecast client's conventions (sources.OpenMeteoSource): separate connect and
read timeouts, retries with exponential backoff on network errors, 5xx and
429 (honouring ``Retry-After``), a User-Agent, error bodies
``{"error": true, "reason": ...}`` raised with their reason, and a total
``Deadline`` per request. Standard library only (no numpy, no Django): the
place form imports it at the top of a module.

``REPLAY_STATION`` is what the search offers when the weather is the
committed observations replayed: they come from one station.
"""

from __future__ import annotations

import functools
import math
import zoneinfo
from dataclasses import dataclass

from .fetch import FetchError, JsonFetcher

MAX_BODY = 1024 * 1024
MAX_QUERY = 100  # characters of a name sent; longer names match nothing anyway
MAX_NAME = 100  # Place.name's length


class GeocodingError(RuntimeError):
    """The search could not be answered (after retries); the message says why."""


@dataclass(frozen=True)
class Found:
    """One place a search found."""

    name: str
    latitude: float
    longitude: float
    timezone: str  # an IANA zone, or "" when none (or an unknown one) was given
    country: str = ""
    admin1: str = ""  # the state, province or region

    @property
    def label(self) -> str:
        """ "Greensboro, North Carolina, United States": enough to tell apart
        places of one name."""
        parts = [self.name]
        parts += [p for p in (self.admin1, self.country) if p and p not in parts]
        return ", ".join(parts)


# The committed observations (data/README.md): NREL TMY3 at Greensboro, NC.
REPLAY_STATION = Found(
    name="Greensboro",
    latitude=36.1,
    longitude=-79.95,
    timezone="America/New_York",
    country="United States",
    admin1="North Carolina",
)


class OpenMeteoGeocoder:
    def __init__(
        self,
        base_url: str,
        connect_timeout: float = 3.05,
        read_timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 0.5,
        max_wait: float = 5.0,
        user_agent: str = "weatheralert",
        deadline: float = 10.0,
    ) -> None:
        self.fetcher = JsonFetcher(
            base_url,
            what="the place search",
            setting="OPEN_METEO_GEOCODING_URL",
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries=retries,
            backoff=backoff,
            max_wait=max_wait,
            user_agent=user_agent,
            deadline=deadline,
            max_body=MAX_BODY,
        )

    def query(self, name: str, count: int = 10) -> str:
        params = {"name": name, "count": count, "language": "en", "format": "json"}
        return self.fetcher.path("/v1/search", params)

    def search(self, name: str, count: int = 10) -> list[Found]:
        """Places called ``name``, best first; [] when nothing matches.

        Raises GeocodingError when the service cannot answer."""
        name = " ".join(name.split())[:MAX_QUERY]
        if len(name) < 2:  # Open-Meteo answers one character with nothing
            return []
        try:
            body = self.fetcher.get(self.query(name, count))
        except FetchError as exc:
            raise GeocodingError(str(exc)) from None
        if not isinstance(body, dict):
            raise GeocodingError("the place search answered something unexpected")
        if body.get("error"):
            raise GeocodingError(f"the place search refused: {_reason(body)}")
        results = body.get("results", [])
        if not isinstance(results, list):
            raise GeocodingError("the place search answered something unexpected")
        found = [place for place in map(parse_result, results) if place is not None]
        return found[:count]


def parse_result(item: object) -> Found | None:
    """One entry of ``results``, or None when it lacks a usable name or
    position (such an entry is skipped, not an error)."""
    if not isinstance(item, dict):
        return None
    name, latitude, longitude = (
        item.get("name"),
        item.get("latitude"),
        item.get("longitude"),
    )
    if not isinstance(name, str) or not name.strip():
        return None
    if not all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        for v in (latitude, longitude)
    ):
        return None
    assert isinstance(latitude, int | float) and isinstance(longitude, int | float)
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    zone = item.get("timezone")
    if not isinstance(zone, str) or not is_zone(zone):
        zone = ""
    return Found(
        name=_text(name, MAX_NAME),
        latitude=float(latitude),
        longitude=float(longitude),
        timezone=zone,
        country=_text(item.get("country"), 60),
        admin1=_text(item.get("admin1"), 60),
    )


# The IANA regions whose zones are places; the tz database's other names are
# aliases kept for old software ("US/Pacific", "Etc/GMT+5", "GMT", "Zulu"),
# a placeholder ("Factory") or files of the machine ("localtime", "posix/...").
REGIONS = (
    "Africa",
    "America",
    "Antarctica",
    "Arctic",
    "Asia",
    "Atlantic",
    "Australia",
    "Europe",
    "Indian",
    "Pacific",
)


@functools.cache
def real_zones() -> tuple[str, ...]:
    """IANA zones a person would choose from, sorted: "UTC" and every
    Region/City zone this machine knows."""
    zones = zoneinfo.available_timezones()
    return tuple(sorted(z for z in zones if z == "UTC" or z.split("/")[0] in REGIONS))


def is_zone(name: str) -> bool:
    """Whether ``name`` is one of ``real_zones()``."""
    return name in real_zones()


def _text(value: object, limit: int) -> str:
    if not isinstance(value, str):
        return ""
    printable = "".join(c if c.isprintable() else " " for c in value)
    return " ".join(printable.split())[:limit]


def _reason(body: dict[str, object]) -> str:
    return _text(body.get("reason"), 200) or "no reason given"
