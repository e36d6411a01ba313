"""Observations -> model input: the one path shared by training and runtime.

numpy only: model_tools imports this module too, and the web process loads it
only when it first predicts.

Vocabulary (see docs/DESIGN.md):
- *hours*: a mapping of Open-Meteo hourly variable names to equal-length
  arrays, plus ``time`` (``datetime64[s]``, UTC, hour-ending like Open-Meteo's
  ``precipitation``);
- *window*: ``WINDOW_HOURS`` consecutive hours; the model reads features of one
  window and predicts rain in the ``HORIZON_HOURS`` after its last hour.

Features are chosen to transfer between stations: tendencies, dew-point
depression, cloud cover and recent rain rather than absolute station pressure,
and time of day as local *solar* time from the longitude.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

# Re-exported (``x as x``): callers read the model's shape as features.X.
from .variables import FEATURES as FEATURES
from .variables import HORIZON_HOURS as HORIZON_HOURS
from .variables import HORIZONS as HORIZONS
from .variables import PRESSURE_ALIASES as PRESSURE_ALIASES
from .variables import VARIABLES as VARIABLES
from .variables import WINDOW_HOURS as WINDOW_HOURS

if TYPE_CHECKING:  # numpy.typing is for the checker only, never loaded at runtime
    import numpy.typing as npt

RAIN_MM = 0.1  # measurable precipitation


# Physical range of each variable (SI units as in the canonical CSV): values
# outside are errors in the input, not weather.
VALID_RANGES = {
    "temperature_2m": (-90.0, 60.0),
    "relative_humidity_2m": (0.0, 100.0),
    "dew_point_2m": (-100.0, 40.0),
    "surface_pressure": (300.0, 1100.0),
    "pressure_msl": (850.0, 1100.0),
    "cloud_cover": (0.0, 100.0),
    "wind_speed_10m": (0.0, 120.0),
    "wind_direction_10m": (0.0, 360.0),
    "precipitation": (0.0, 400.0),
}


# What an offline series that never reports a variable reads instead: a
# station without a ceilometer or a barometer (fill_unobserved). Cloud cover
# and wind speed are the training windows' means (the card's feature_stats:
# 32 %, 3.5 m/s), so the model reads "a typical hour" and not a made-up sky;
# pressure enters only as changes, which are then 0, and a constant wind
# direction leaves the wind vector's change to the wind speed's.
UNOBSERVED_VALUES = {
    "pressure_msl": 1013.25,
    "surface_pressure": 1013.25,
    "cloud_cover": 32.0,
    "wind_speed_10m": 3.5,
    "wind_direction_10m": 0.0,
}

HOUR = np.timedelta64(3600, "s")


class FeatureError(ValueError):
    """Input hours that cannot become a window; ``field`` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def pressure_variable(hours: Mapping[str, object]) -> str:
    """The pressure variable present in ``hours`` (station level preferred)."""
    for name in PRESSURE_ALIASES:
        if name in hours:
            return name
    raise FeatureError("surface_pressure", "missing (or give pressure_msl)")


def check_hours(hours: Mapping[str, npt.NDArray[Any]]) -> None:
    """Raise FeatureError unless ``hours`` holds finite, in-range, hourly data."""
    times = hours.get("time")
    if times is None:
        raise FeatureError("time", "missing")
    n = len(times)
    present = [v for v in VARIABLES if v != "surface_pressure"]
    present.append(pressure_variable(hours))
    for name in present:
        if name not in hours:
            raise FeatureError(name, "missing")
        values = np.asarray(hours[name], dtype=np.float64)
        if len(values) != n:
            raise FeatureError(name, f"has {len(values)} values but time has {n}")
        if not np.all(np.isfinite(values)):
            bad = int(np.flatnonzero(~np.isfinite(values))[0])
            raise FeatureError(name, f"value {bad} is not a finite number")
        low, high = VALID_RANGES[name]
        outside = np.flatnonzero((values < low) | (values > high))
        if outside.size:
            i = int(outside[0])
            raise FeatureError(
                name, f"value {i} ({values[i]:g}) is outside [{low:g}, {high:g}]"
            )
    steps = np.diff(np.asarray(times, dtype="datetime64[s]"))
    if np.any(steps != HOUR):
        i = int(np.flatnonzero(steps != HOUR)[0]) + 1
        raise FeatureError("time", f"hour {i} does not follow hour {i - 1} by 1 h")


def window_ends(
    times: npt.ArrayLike, window: int = WINDOW_HOURS
) -> npt.NDArray[np.int64]:
    """Indices ``i`` such that hours ``i-window+1 .. i`` are consecutive.

    Gaps (a missing hour, a month boundary of a TMY year) split the series, so
    no window ever spans one.
    """
    times = np.asarray(times, dtype="datetime64[s]")
    if len(times) < window:
        return np.empty(0, dtype=np.int64)
    breaks = np.concatenate([[True], np.diff(times) != HOUR])
    run_start = np.maximum.accumulate(np.where(breaks, np.arange(len(times)), 0))
    ends = np.arange(len(times), dtype=np.int64)
    result: npt.NDArray[np.int64] = ends[ends - run_start >= window - 1]
    return result


def stack_windows(
    hours: Mapping[str, npt.NDArray[Any]], ends: Sequence[int] | npt.NDArray[Any]
) -> npt.NDArray[np.float32]:
    """Windows ending at ``ends`` as a float32 array (n, WINDOW_HOURS, VARIABLES)."""
    pressure = pressure_variable(hours)
    columns: list[npt.NDArray[Any]] = [
        np.asarray(hours[pressure if v == "surface_pressure" else v], np.float64)
        for v in VARIABLES
    ]
    table = np.stack(columns, axis=1)
    rows = np.asarray(ends, dtype=np.int64)
    offsets = np.arange(-WINDOW_HOURS + 1, 1)
    windows: npt.NDArray[np.float64] = table[rows[:, None] + offsets[None, :]]
    return windows.astype(np.float32)


def fill_missing(
    hours: Mapping[str, npt.NDArray[Any]],
) -> dict[str, npt.NDArray[Any]]:
    """The missing-data policy, one function for training, evaluation and
    runtime: each input variable's missing hours (NaN) take the newest earlier
    observed value of the series; hours before its first observation take
    that first value. Precipitation is never filled: it is the label, and a
    window with missing past precipitation is not scored.

    Why this and nothing else: it adds no flag or sentinel the model could
    learn absence from (sky cover, as read, is missing in 35 % of ISD hours
    but 83 % of rainy ones, while Open-Meteo never lacks it), it drops no
    window for a missing input, and it looks only backwards, so a gap at a
    window's end never borrows a value from the hours being predicted. (At
    runtime the hours end with the window, so a first observation is never
    after it; offline windows that end before one are model_tools.samples'
    concern.)
    Complete hours (all Open-Meteo data) pass unchanged.
    """
    filled = dict(hours)
    for name, raw in hours.items():
        if name in ("time", "precipitation"):
            continue
        values = np.asarray(raw, dtype=np.float64)
        known = np.isfinite(values)
        if known.all() or not known.any():
            continue
        newest = np.maximum.accumulate(np.where(known, np.arange(len(values)), -1))
        newest[newest < 0] = int(np.argmax(known))
        filled[name] = values[newest]
    return filled


def fill_unobserved(
    hours: Mapping[str, npt.NDArray[Any]],
) -> tuple[dict[str, npt.NDArray[Any]], list[str]]:
    """Offline series only: a variable of UNOBSERVED_VALUES that the series
    never reports (not one hour) takes its constant; returns the filled hours
    and the names filled.

    Without it one missing sensor would leave every window of a station
    unscorable. It is not a flag the model could learn absence from: every
    training station reports every variable, and a constant sky or pressure
    reads as a typical, steady hour. The runtime never needs it: Open-Meteo
    reports every variable, and an API request that gives a variable no value
    at all is refused, naming it (check_hours).
    """
    filled = dict(hours)
    names = []
    for name, value in UNOBSERVED_VALUES.items():
        if name not in hours:
            continue
        values = np.asarray(hours[name], dtype=np.float64)
        if len(values) and not np.isfinite(values).any():
            filled[name] = np.full(len(values), value)
            names.append(name)
    return filled, names


def latest_window(
    hours: Mapping[str, npt.NDArray[Any]],
) -> tuple[npt.NDArray[np.float32], np.datetime64]:
    """The window of the newest WINDOW_HOURS of ``hours`` and its end time.

    The one preparation of live hours for the model (the API and the cycle);
    raises FeatureError unless ``hours`` ends with enough consecutive hours.
    Missing inputs (NaN) are filled as offline (fill_missing); missing
    precipitation is an error.
    """
    hours = fill_missing(hours)
    check_hours(hours)
    n = len(hours["time"])
    if n < WINDOW_HOURS:
        raise FeatureError("time", f"needs {WINDOW_HOURS} consecutive hours, got {n}")
    window = stack_windows(hours, [n - 1])[0]
    return window, np.datetime64(hours["time"][-1], "s")


def features(
    windows: npt.ArrayLike,
    end_times: npt.ArrayLike,
    longitudes: npt.NDArray[Any] | float,
) -> npt.NDArray[np.float32]:
    """Raw (unstandardized) feature matrix (n, len(FEATURES)), float32.

    ``end_times`` are the UTC times of each window's last hour; ``longitudes``
    in degrees east turn them into local solar time.
    """
    w = np.asarray(windows, dtype=np.float64)
    if w.ndim != 3 or w.shape[1:] != (WINDOW_HOURS, len(VARIABLES)):
        raise FeatureError(
            "window", f"expected shape (n, {WINDOW_HOURS}, {len(VARIABLES)})"
        )
    temp, rh, dew, pres, cloud, wspd, wdir, rain = np.moveaxis(w, 2, 0)
    # Wind as a vector (calm is 0 whatever the direction says): its change
    # over 3 hours is a veer, a back or a gust, not where the wind comes from.
    radians = np.deg2rad(wdir)
    east, north = wspd * np.sin(radians), wspd * np.cos(radians)
    depression = temp - dew
    rained = rain >= RAIN_MM
    # Hours since the newest rainy hour; a full window when it did not rain.
    newest_rain = np.where(
        rained.any(axis=1), np.argmax(rained[:, ::-1], axis=1), WINDOW_HOURS
    )
    seconds = np.asarray(end_times, dtype="datetime64[s]").astype(np.int64)
    # Mid-hour of the last (hour-ending) observation, in local solar hours.
    solar = ((seconds - 1800) / 3600.0 + np.asarray(longitudes) / 15.0) % 24.0
    angle = 2 * np.pi * solar / 24.0
    columns: list[npt.NDArray[Any]] = [
        depression[:, -1],
        depression[:, -1] - depression[:, -4],
        rh[:, -1],
        rh[:, -1] - rh[:, -4],
        cloud[:, -1],
        pres[:, -1] - pres[:, -4],
        pres[:, -1] - pres[:, -13],
        temp[:, -1] - temp[:, -4],
        wspd[:, -1],
        np.log1p(rain[:, -1]),
        np.log1p(rain[:, -3:].sum(axis=1)),
        rained.sum(axis=1),
        newest_rain,
        np.sin(angle),
        np.cos(angle),
        pres[:, -1] - pres[:, -2],
        wspd[:, -1] - wspd[:, -4],
        dew[:, -1] - dew[:, -4],
        rh[:, -6:].max(axis=1),
        np.log1p(rain[:, -6:].sum(axis=1)),
        temp[:, -1] - temp[:, -2],
        depression[:, -1] - depression.mean(axis=1),
        rh[:, -1] - rh.mean(axis=1),
        pres[:, -1] - pres.mean(axis=1),
        temp[:, -1] - temp.mean(axis=1),
        wspd[:, -1] - wspd.mean(axis=1),
        dew[:, -1] - dew.mean(axis=1),
        pres[:, -1] - pres[:, -7],
        pres[:, -1] - pres[:, 0],
        (pres[:, -1] - pres[:, -4]) - (pres[:, -4] - pres[:, -7]),
        rh[:, -1] - rh[:, -7],
        depression[:, -1] - depression[:, -7],
        dew[:, -1] - dew[:, -7],
        dew[:, -1] - dew[:, 0],
        temp[:, -1] - temp[:, 0],
        temp[:, -1] - temp[:, -7],
        wspd[:, -6:].max(axis=1) - wspd.mean(axis=1),
        np.hypot(east[:, -1] - east[:, -4], north[:, -1] - north[:, -4]),
        rh[:, -1] - rh.max(axis=1),
        np.log1p(rain.max(axis=1)),
        np.log1p(rain.sum(axis=1)),
        rh[:, -1] - rh[:, -2],
        depression[:, -1] - depression[:, -2],
        wspd[:, -1] - wspd[:, -2],
        # Anomalies in units of the window's own spread (+1 so that a flat
        # day does not blow up): the same for a desert and a coast.
        (depression[:, -1] - depression.mean(axis=1)) / (depression.std(axis=1) + 1.0),
        (temp[:, -1] - temp.mean(axis=1)) / (temp.std(axis=1) + 1.0),
        pres[:, -1] - pres[:, -6:].mean(axis=1),
        # Absolute moisture (°C): what convection needs (model v4).
        dew[:, -1],
        dew.mean(axis=1),
        dew.max(axis=1),
    ]
    matrix: npt.NDArray[np.float64] = np.stack(columns, axis=1)
    return matrix.astype(np.float32)


def rain_labels(
    hours: Mapping[str, npt.NDArray[Any]],
    ends: npt.ArrayLike,
    horizon: int = HORIZON_HOURS,
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.bool_]]:
    """(labels, known): rain >= RAIN_MM in any of the ``horizon`` hours after each end.

    ``known`` is False where those hours are not all present and consecutive.
    """
    times = np.asarray(hours["time"], dtype="datetime64[s]")
    rain = np.asarray(hours["precipitation"], dtype=np.float64)
    rows = np.asarray(ends, dtype=np.int64)
    labels = np.zeros(len(rows), dtype=np.int8)
    known: npt.NDArray[np.bool_] = rows + horizon < len(times)
    for k in np.flatnonzero(known):
        i = rows[k]
        later = times[i + 1 : i + horizon + 1]
        if np.any(later - times[i] != HOUR * np.arange(1, horizon + 1)):
            known[k] = False
            continue
        labels[k] = np.any(rain[i + 1 : i + horizon + 1] >= RAIN_MM)
    return labels, known


def horizon_labels(
    hours: Mapping[str, npt.NDArray[Any]],
    ends: npt.ArrayLike,
    horizons: Sequence[int] = HORIZONS,
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.bool_]]:
    """(labels (n, len(horizons)), known): column j is 1 when rain >= RAIN_MM
    falls in any of the ``horizons[j]`` hours after each end.

    ``known`` is False unless all max(horizons) hours after the end are
    present, consecutive and have a measured precipitation, so every horizon
    of a known window is labelled from the same hours.
    """
    times = np.asarray(hours["time"], dtype="datetime64[s]")
    rain = np.asarray(hours["precipitation"], dtype=np.float64)
    rows = np.asarray(ends, dtype=np.int64)
    longest = max(horizons)
    offsets = np.arange(1, longest + 1)
    known: npt.NDArray[np.bool_] = rows + longest < len(times)
    later = np.minimum(rows[:, None] + offsets[None, :], len(times) - 1)
    step = (times[later] - times[rows][:, None]) == HOUR * offsets[None, :]
    ahead = rain[later]
    known &= step.all(axis=1) & np.isfinite(ahead).all(axis=1)
    wet = np.cumsum(np.nan_to_num(ahead) >= RAIN_MM, axis=1) > 0
    labels = wet[:, [h - 1 for h in horizons]].astype(np.int8)
    labels[~known] = 0
    return labels, known


def standardize(
    x: npt.NDArray[Any], mean: npt.ArrayLike, std: npt.ArrayLike
) -> npt.NDArray[np.float32]:
    """Scale raw features by the statistics that travel in the model card."""
    return ((x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)).astype(
        np.float32
    )
