"""Raw observation files -> *hours* (see weatherapp/ai/features.py)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from weatherapp.ai.dataset import DatasetError

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
        station = {
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
