"""Open-Meteo hourly JSON -> *hours* in canonical units (see features.py).

Used by the predict API, the Open-Meteo weather source (sources.py) and the
model_tools importer: one reading of Open-Meteo's shape for the whole project.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .features import FeatureError
from .variables import PRESSURE_ALIASES, VARIABLES

if TYPE_CHECKING:  # numpy.typing is for the checker only, never loaded at runtime
    import numpy.typing as npt

MAX_HOURS = 24 * 120  # past_days=92 plus a 16-day forecast fits
# Open-Meteo's archive starts in 1940; the replay's typical year says 1980.
# Outside these, a time is a mistake (year -290000000000 was answered).
FIRST_TIME = np.datetime64("1900-01-01T00:00", "s")
END_TIME = np.datetime64("2200-01-01T00:00", "s")

# Open-Meteo's own defaults apply when ``hourly_units`` is absent.
DEFAULT_UNITS = {
    "temperature_2m": "°C",
    "dew_point_2m": "°C",
    "relative_humidity_2m": "%",
    "surface_pressure": "hPa",
    "pressure_msl": "hPa",
    "cloud_cover": "%",
    "wind_speed_10m": "km/h",
    "wind_direction_10m": "°",
    "precipitation": "mm",
}
# unit -> function to the canonical unit, per kind of quantity.
_TEMPERATURE = {"°C": lambda v: v, "°F": lambda v: (v - 32.0) * 5.0 / 9.0}
_SPEED = {
    "m/s": lambda v: v,
    "km/h": lambda v: v / 3.6,
    "mp/h": lambda v: v * 0.44704,
    "mph": lambda v: v * 0.44704,
    "kn": lambda v: v * 0.514444,
}
_LENGTH = {"mm": lambda v: v, "inch": lambda v: v * 25.4}
_PRESSURE = {"hPa": lambda v: v}
_PERCENT = {"%": lambda v: v}
_DEGREES = {"°": lambda v: v}
CONVERSIONS = {
    "temperature_2m": _TEMPERATURE,
    "dew_point_2m": _TEMPERATURE,
    "relative_humidity_2m": _PERCENT,
    "surface_pressure": _PRESSURE,
    "pressure_msl": _PRESSURE,
    "cloud_cover": _PERCENT,
    "wind_speed_10m": _SPEED,
    "wind_direction_10m": _DEGREES,
    "precipitation": _LENGTH,
}


class OpenMeteoError(ValueError):
    """An error body from Open-Meteo: ``{"error": true, "reason": "..."}``."""


def parse_hourly(
    body: Any, max_hours: int = MAX_HOURS, allow_missing: bool = False
) -> dict[str, npt.NDArray[Any]]:
    """The ``hourly`` block of an Open-Meteo response as canonical *hours*.

    Raises FeatureError naming the offending field. Times become UTC using
    ``utc_offset_seconds`` (Open-Meteo labels hours in the requested timezone).
    With ``allow_missing`` (archives), a ``null`` value becomes NaN.
    """
    if not isinstance(body, Mapping):
        raise FeatureError("body", "must be a JSON object")
    if body.get("error") is True:
        raise OpenMeteoError(str(body.get("reason", "unknown error")))
    hourly = body.get("hourly")
    if not isinstance(hourly, Mapping):
        raise FeatureError("hourly", "missing or not an object")
    units = body.get("hourly_units", {})
    if not isinstance(units, Mapping):
        raise FeatureError("hourly_units", "must be an object")
    offset = body.get("utc_offset_seconds", 0)
    if not (_is_number(offset) and _finite(offset)) or (
        abs(offset) > 18 * 3600 or offset != int(offset)
    ):
        raise FeatureError(
            "utc_offset_seconds", "must be a whole number of seconds within ±18 h"
        )

    raw_times = hourly.get("time")
    if not isinstance(raw_times, list) or not raw_times:
        raise FeatureError("hourly.time", "missing or not a non-empty list")
    if len(raw_times) > max_hours:
        raise FeatureError("hourly.time", f"more than {max_hours} hours")
    times, local = _times(raw_times, units.get("time"))
    if local:
        times = times - np.timedelta64(int(offset), "s")
    outside = np.flatnonzero((times < FIRST_TIME) | (times >= END_TIME))
    if len(outside):
        raise FeatureError(
            "hourly.time",
            f"value {outside[0]} is outside {FIRST_TIME.astype(object).year}–"
            f"{END_TIME.astype(object).year - 1}",
        )
    hours = {"time": times}

    wanted = [v for v in VARIABLES if v != "surface_pressure"]
    pressure = [p for p in PRESSURE_ALIASES if p in hourly]
    if not pressure:
        raise FeatureError("hourly.surface_pressure", "missing (or give pressure_msl)")
    for name in [*wanted, *pressure]:
        if name not in hourly:
            raise FeatureError(f"hourly.{name}", "missing")
        values = hourly[name]
        if not isinstance(values, list):
            raise FeatureError(f"hourly.{name}", "must be a list")
        if len(values) != len(raw_times):
            raise FeatureError(
                f"hourly.{name}",
                f"has {len(values)} values but time has {len(raw_times)}",
            )
        if allow_missing:
            values = [math.nan if v is None else v for v in values]
        array = _numbers(values, finite=not allow_missing)
        if array is None:  # the slow way, naming the first bad value
            bad = (i for i, v in enumerate(values) if not _acceptable(v, allow_missing))
            i = next(bad, None)
            if i is not None:
                raise FeatureError(
                    f"hourly.{name}", f"value {i} is not a finite number"
                )
            array = np.asarray(values, dtype=np.float64)  # e.g. float subclasses
        unit = units.get(name, DEFAULT_UNITS[name])
        if not isinstance(unit, str):  # a list is unhashable (found by an attack)
            raise FeatureError(f"hourly_units.{name}", "must be a string")
        convert = CONVERSIONS[name].get(unit)
        if convert is None:
            raise FeatureError(f"hourly_units.{name}", f"unknown unit {unit!r}")
        with np.errstate(over="ignore", invalid="ignore"):
            converted = convert(array)
        overflow = np.flatnonzero(np.isfinite(array) & ~np.isfinite(converted))
        if len(overflow):  # 1.7e308 °F is no number in °C
            raise FeatureError(
                f"hourly.{name}",
                f"value {overflow[0]} is out of range once converted from {unit}",
            )
        hours[name] = converted
    return hours


def _numbers(values: list[Any], finite: bool) -> npt.NDArray[np.float64] | None:
    """The values as floats, or None when one is no (finite) number. Checked
    in C, not value by value: a chunk's 200 locations bring ~50,000 values,
    and the loop was 7% of the cycle (docs/PERFORMANCE.md)."""
    if not set(map(type, values)) <= {int, float}:  # no bool, str, None, list
        return None
    try:
        array = np.asarray(values, dtype=np.float64)
    except OverflowError:  # JSON integers are unbounded: 10**400
        return None
    if finite and not np.isfinite(array).all():
        return None
    return array


def _acceptable(value: Any, allow_missing: bool) -> bool:
    """What _numbers accepts, one value at a time (to name the first bad one)."""
    if not _is_number(value):
        return False
    return _finite(value) or (allow_missing and isinstance(value, float))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _finite(value: int | float) -> bool:
    """JSON integers are unbounded: 10**400 is no float (found by fuzzing)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


# Open-Meteo's own shape (local to utc_offset_seconds), or with "Z" (UTC). An
# offset such as +05:00 would be applied twice, with utc_offset_seconds.
_ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?(Z?)")


def _times(raw: list[Any], unit: Any) -> tuple[npt.NDArray[np.datetime64], bool]:
    """The times, and whether they are local to utc_offset_seconds: ISO times
    without "Z" are; unix seconds are UTC whatever the offset (Open-Meteo's
    documentation: "all timestamps are in GMT+0")."""
    if unit == "unixtime" or all(_is_number(t) for t in raw):
        if not all(_is_number(t) and _finite(t) for t in raw):
            raise FeatureError("hourly.time", "unixtime values must be numbers")
        seconds = np.asarray(raw, dtype=np.float64)
        if np.any(np.abs(seconds) > 2**40):
            raise FeatureError("hourly.time", "unixtime value out of range")
        return seconds.astype(np.int64).astype("datetime64[s]"), False
    matches = [_ISO_TIME.fullmatch(t) if isinstance(t, str) else None for t in raw]
    if not all(matches):
        raise FeatureError(
            "hourly.time", "must be ISO 8601 times like 2026-11-28T01:00"
        )
    zones = {m.group(2) for m in matches if m}
    if len(zones) > 1:
        raise FeatureError("hourly.time", "mixes times with and without Z")
    try:
        times = np.array([t.rstrip("Z") for t in raw], dtype="datetime64[s]")
    except ValueError:  # e.g. month 13
        raise FeatureError(
            "hourly.time", "must be ISO 8601 times like 2026-11-28T01:00"
        ) from None
    return times, zones != {"Z"}
