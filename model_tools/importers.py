"""Raw observation files -> *hours* (see weatherapp/forecast/features.py)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from weatherapp.forecast import dataset, features
from weatherapp.forecast.dataset import DatasetError

TMY3_MISSING = -9900.0
# TMY3 column -> (canonical name, factor to canonical units).
TMY3_COLUMNS = {
    "Dry-bulb (C)": ("temperature_2m", 1.0),
    "RHum (%)": ("relative_humidity_2m", 1.0),
    "Dew-point (C)": ("dew_point_2m", 1.0),
    "Pressure (mbar)": ("surface_pressure", 1.0),
    "TotCld (tenths)": ("cloud_cover", 10.0),
    "Wspd (m/s)": ("wind_speed_10m", 1.0),
    "Wdir (degrees)": ("wind_direction_10m", 1.0),
    # Headed "(mm)", but the values are tenths of a millimetre: the smallest
    # non-zero amounts are 3, 5, 8, 10, 13 (0.01, 0.02, ... inch = 2.54 tenths)
    # and the yearly sum at Greensboro would otherwise be 8.3 m.
    "Lprecip depth (mm)": ("precipitation", 0.1),
}


def read_tmy3(path: str | Path) -> tuple[dict[str, np.ndarray], dict]:
    """Load an NREL TMY3 CSV as *hours* in UTC, plus the station metadata.

    TMY3 times are hour-ending local standard time ("24:00" ends the day), so
    each row is shifted by the station's UTC offset. Each month keeps its own
    source year, so the month boundaries of a TMY year show up as gaps in time
    and no window crosses them.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read ({exc})") from None
    lines = list(csv.reader(io.StringIO(text)))
    if len(lines) < 3:
        raise DatasetError(f"{path}: not a TMY3 file (needs metadata, header, rows)")
    meta_row, header, rows = lines[0], lines[1], lines[2:]
    try:
        station: dict[str, Any] = {
            "id": meta_row[0],
            "name": meta_row[1],
            "state": meta_row[2],
            "utc_offset_hours": float(meta_row[3]),
            "latitude": float(meta_row[4]),
            "longitude": float(meta_row[5]),
            "elevation_m": float(meta_row[6]),
        }
    except (IndexError, ValueError):
        raise DatasetError(f"{path}: line 1 is not TMY3 station metadata") from None
    needed = ["Date (MM/DD/YYYY)", "Time (HH:MM)", *TMY3_COLUMNS]
    missing = [c for c in needed if c not in header]
    if missing:
        raise DatasetError(f"{path}: missing TMY3 columns {', '.join(missing)}")
    col = {c: header.index(c) for c in needed}
    offset = np.timedelta64(int(round(-station["utc_offset_hours"] * 3600)), "s")
    times = []
    values: dict[str, list[float]] = {name: [] for name, _ in TMY3_COLUMNS.values()}
    for line, row in enumerate(rows, start=3):
        try:
            month, day, year = row[col["Date (MM/DD/YYYY)"]].split("/")
            hour, minute = row[col["Time (HH:MM)"]].split(":")
            midnight = np.datetime64(f"{year}-{month}-{day}T00:00", "s")
            times.append(midnight + np.timedelta64(int(hour) * 60 + int(minute), "m"))
            for source, (name, factor) in TMY3_COLUMNS.items():
                raw = float(row[col[source]])
                values[name].append(np.nan if raw == TMY3_MISSING else raw * factor)
        except (IndexError, ValueError):
            raise DatasetError(f"{path}:{line}: not a TMY3 data row") from None
    hours = {"time": np.array(times, dtype="datetime64[s]") + offset}
    hours.update({name: np.array(v) for name, v in values.items()})
    return hours, station


FORMATS = ("tmy3", "csv", "open-meteo")


def detect_format(path: str | Path) -> str:
    """Guess a file's format from its name and first line."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        return "open-meteo"
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            first = f.readline()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc})") from None
    return "csv" if first.startswith("time,") else "tmy3"


def read_open_meteo(path: str | Path) -> tuple[dict[str, np.ndarray], dict]:
    """An Open-Meteo forecast or archive API response saved as JSON."""
    from weatherapp.forecast.features import FeatureError
    from weatherapp.forecast.openmeteo import OpenMeteoError, parse_hourly

    try:
        body = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DatasetError(f"{path}: not readable JSON ({exc})") from None
    try:
        hours = parse_hourly(body, max_hours=10**7, allow_missing=True)
    except OpenMeteoError as exc:
        raise DatasetError(f"{path}: Open-Meteo error: {exc}") from None
    except FeatureError as exc:
        raise DatasetError(f"{path}: {exc}") from None
    if "surface_pressure" not in hours:
        hours["surface_pressure"] = hours.pop("pressure_msl")
    station = {k: body.get(k) for k in ("latitude", "longitude", "elevation")}
    return hours, station


def load(
    path: str | Path, fmt: str | None = None
) -> tuple[dict[str, np.ndarray], dict]:
    """Any supported file as (*hours*, station metadata); see FORMATS."""
    fmt = fmt or detect_format(path)
    if fmt == "tmy3":
        return read_tmy3(path)
    if fmt == "open-meteo":
        return read_open_meteo(path)
    if fmt == "csv":
        return dataset.read_csv(path), {}
    raise DatasetError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")


def tidy(hours: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Sorted, de-duplicated hours with what was found, counted.

    Out-of-range values count as missing. A value missing for one isolated
    hour is interpolated from its neighbours; a row missing more than that is
    dropped, leaving a gap that no window spans. Nothing is interpolated
    across more than one missing hour.
    """
    times = np.asarray(hours["time"], dtype="datetime64[s]")
    report = {"rows": int(len(times))}
    report["out_of_order"] = int(np.sum(np.diff(times) < np.timedelta64(0, "s")))
    order = np.argsort(times, kind="stable")
    times = times[order]
    keep = np.concatenate([[True], np.diff(times) != np.timedelta64(0, "s")])
    report["duplicates"] = int(np.sum(~keep))
    names = [n for n in features.VARIABLES if n in hours]
    if len(names) != len(features.VARIABLES):
        absent = sorted(set(features.VARIABLES) - set(names))
        raise DatasetError(f"missing variables {', '.join(absent)}")
    columns = {n: np.asarray(hours[n], np.float64)[order][keep] for n in names}
    times = times[keep]
    out_of_range = interpolated = 0
    missing: dict[str, int] = {}
    hour = np.timedelta64(3600, "s")
    for name, values in columns.items():
        low, high = features.VALID_RANGES[name]
        bad = ~np.isfinite(values) | (values < low) | (values > high)
        missing[name] = int(bad.sum())
        out_of_range += int(np.sum(np.isfinite(values) & bad))
        values[bad] = np.nan
        for i in np.flatnonzero(bad):
            if (
                0 < i < len(values) - 1
                and not bad[i - 1]
                and not bad[i + 1]
                and times[i] - times[i - 1] == hour
                and times[i + 1] - times[i] == hour
            ):
                values[i] = (values[i - 1] + values[i + 1]) / 2
                interpolated += 1
    complete = np.all([np.isfinite(v) for v in columns.values()], axis=0)
    report["out_of_range"] = out_of_range
    report["interpolated"] = interpolated
    report["dropped_rows"] = int(np.sum(~complete))
    times = times[complete]
    steps = np.diff(times)
    report["gaps"] = int(np.sum(steps > hour))
    report["missing_hours"] = int(np.sum((steps[steps > hour] // hour) - 1))
    tidy_hours = {"time": times, **{n: v[complete] for n, v in columns.items()}}
    if len(features.window_ends(times)) == 0:
        worst = max(missing, key=lambda name: missing[name])
        why = (
            f" ({worst} is missing in {missing[worst]} rows)" if missing[worst] else ""
        )
        raise DatasetError(
            f"too few consecutive hours: no {features.WINDOW_HOURS}-hour window "
            f"in {len(times)} usable rows{why}"
        )
    return tidy_hours, report
