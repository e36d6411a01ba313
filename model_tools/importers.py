"""Raw observation files -> *hours* (see weatherapp/forecast/features.py)."""

from __future__ import annotations

import array
import csv
import gzip
import io
import json
import re
import zlib
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

# TMY3's present weather is a WMO "ww" code; 50-99 report precipitation
# (drizzle, rain, snow, showers, thunderstorms with precipitation) at the time
# of observation. tidy() uses it to find months whose gauge reported nothing.
TMY3_WEATHER = "PresWth (METAR code)"
WW_PRECIPITATION = 50
# A key of *hours* beside the variables: True where present weather reports
# precipitation. Importers add it when their source has it; tidy() drops it.
PRECIPITATION_REPORTED = "precipitation_reported"
# A month with at least this many hours of reported precipitation but no hour
# with measurable precipitation has a broken gauge, not dry weather (measured:
# Greensboro's February 1996 in the TMY3 file, 29 such hours, 0 mm).
SUSPECT_WEATHER_HOURS = 6


# NOAA names ISD-Lite files USAF-WBAN-YEAR(.gz); other names say no station.
NOAA_NAME = re.compile(r"([0-9A-Z]{6}-[0-9]{5})-[0-9]{4}\b")


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
    lines = dataset.csv_rows(path, text)
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
    for field, low, high in (
        ("utc_offset_hours", -12, 14),
        ("latitude", -90, 90),
        ("longitude", -180, 180),
    ):
        if not low <= station[field] <= high:  # NaN too
            raise DatasetError(
                f"{path}: line 1: {field} is {station[field]}, not within "
                f"[{low}, {high}]"
            )
    needed = ["Date (MM/DD/YYYY)", "Time (HH:MM)", *TMY3_COLUMNS]
    weather_col = header.index(TMY3_WEATHER) if TMY3_WEATHER in header else None
    missing = [c for c in needed if c not in header]
    if missing:
        raise DatasetError(f"{path}: missing TMY3 columns {', '.join(missing)}")
    col = {c: header.index(c) for c in needed}
    offset = np.timedelta64(int(round(-station["utc_offset_hours"] * 3600)), "s")
    times = []
    values: dict[str, list[float]] = {name: [] for name, _ in TMY3_COLUMNS.values()}
    weather: list[bool] = []
    for line, row in enumerate(rows, start=3):
        try:
            month, day, year = row[col["Date (MM/DD/YYYY)"]].split("/")
            hour, minute = row[col["Time (HH:MM)"]].split(":")
            midnight = np.datetime64(f"{year}-{month}-{day}T00:00", "s")
            times.append(midnight + np.timedelta64(int(hour) * 60 + int(minute), "m"))
            for source, (name, factor) in TMY3_COLUMNS.items():
                raw = float(row[col[source]])
                values[name].append(np.nan if raw == TMY3_MISSING else raw * factor)
            if weather_col is not None:
                code = row[weather_col].strip()
                weather.append(code.isdigit() and int(code) >= WW_PRECIPITATION)
        except (IndexError, ValueError):
            raise DatasetError(f"{path}:{line}: not a TMY3 data row") from None
    hours = {"time": np.array(times, dtype="datetime64[s]") + offset}
    hours.update({name: np.array(v) for name, v in values.items()})
    if weather_col is not None:
        hours[PRECIPITATION_REPORTED] = np.array(weather, dtype=bool)
    return hours, station


ISD_MISSING = -9999
ISD_FIELDS = 12
# ISD-Lite "sky condition total coverage code" -> cloud cover in %. 0 clear;
# 1-8 oktas (k/8); 9 sky obscured (fog, heavy precipitation: Open-Meteo calls
# that overcast); 11-13 thin/plain/dark scattered (3-4 oktas), 14-16 broken
# (5-7 oktas), 17-19 overcast. 10 (partial obscuration) says nothing about the
# cloud above: missing, like -9999. NOAA's isd-lite-format document lists the
# codes.
ISD_SKY_PERCENT = {
    0: 0.0,
    **{k: 100.0 * k / 8 for k in range(1, 9)},
    9: 100.0,
    11: 43.75,
    12: 43.75,
    13: 43.75,
    14: 75.0,
    15: 75.0,
    16: 75.0,
    17: 100.0,
    18: 100.0,
    19: 100.0,
}
ISD_TRACE = -1  # precipitation below 0.1 mm: no measurable rain


def relative_humidity(temperature: np.ndarray, dew_point: np.ndarray) -> np.ndarray:
    """RH in % from temperature and dew point (°C), Magnus formula over water
    (Alduchov & Eskridge 1996), the formula Open-Meteo's models use."""
    a, b = 17.625, 243.04
    t, td = np.asarray(temperature, np.float64), np.asarray(dew_point, np.float64)
    rh = 100.0 * np.exp(a * td / (b + td) - a * t / (b + t))
    return np.minimum(rh, 100.0)


# Limits of what one read takes: ISD-Lite is about 0.55 MB and 8,760 lines a
# station-year, so these allow some 22 station-years and refuse a file that
# would decompress into gigabytes before it can exhaust memory. Measured:
# evaluate peaks at 2.0 GB RSS on 498,000 hours (4 KB a window, mostly the
# feature arrays), so 200,000 hours stay under 1 GB.
MAX_ISD_HOURS = 200_000
MAX_ISD_BYTES = 32 * 2**20
# Every ISD-Lite field is an integer of at most 5 digits (-9999 is missing).
ISD_FIELD = re.compile(r"-?\d{1,5}")
FIRST_ISD_YEAR = 1901  # ISD's first year


def _isd_text(path: Path) -> str:
    """A file's text, gzip (every member of a concatenated file) or plain."""
    try:
        with open(path, "rb") as f:
            head = f.read(2)
            f.seek(0)
            if head == b"\x1f\x8b":
                raw = gzip.GzipFile(fileobj=f).read(MAX_ISD_BYTES + 1)
            else:
                raw = f.read(MAX_ISD_BYTES + 1)
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DatasetError(f"{path}: cannot read ({exc})") from None
    if len(raw) > MAX_ISD_BYTES:
        raise DatasetError(
            f"{path}: oversized (over {MAX_ISD_BYTES // 2**20} MB of text; "
            f"one station-year is about 0.55 MB)"
        )
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        raise DatasetError(f"{path}: not ISD-Lite text") from None


def _isd_table(path: Path, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """One file's lines as an int64 table (n, ISD_FIELDS), every line checked,
    and the UTC time of each."""
    # Flat machine integers, not a list per line: 8 bytes a field.
    values = array.array("q")
    numbers = array.array("q")  # each row's line number, for messages
    # Lines one at a time (a file of newlines must not become a list of
    # millions of strings), split on newlines only, as line numbers count.
    for line_no, line in enumerate(io.StringIO(_isd_text(path), newline=None), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != ISD_FIELDS or not all(map(ISD_FIELD.fullmatch, fields)):
            raise DatasetError(
                f"{path}:{line_no}: not an ISD-Lite line "
                f"(expected {ISD_FIELDS} integers of at most 5 digits)"
            )
        values.extend(map(int, fields))
        numbers.append(line_no)
        if len(numbers) > limit:
            raise DatasetError(
                f"{path}: oversized (more than {MAX_ISD_HOURS:,} hours in one "
                "read; give fewer files)"
            )
    table = np.frombuffer(values, dtype=np.int64).reshape(-1, ISD_FIELDS).copy()
    year, month, day, hour = table[:, :4].T
    last_year = np.datetime64("today", "Y").astype(np.int64) + 1970 + 1
    bad = (
        (year < FIRST_ISD_YEAR)
        | (year > last_year)
        | (month < 1)
        | (month > 12)
        | (day < 1)
        | (day > 31)
        | (hour < 0)
        | (hour > 23)
    )
    if not bad.any():
        first = ((year - 1970) * 12 + month - 1).astype("datetime64[M]")
        dates = first.astype("datetime64[D]") + (day - 1)
        bad = dates.astype("datetime64[M]") != first  # 30 February
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        y, m, d, h = table[i, :4]
        raise DatasetError(f"{path}:{numbers[i]}: bad date {y} {m} {d} {h}")
    times = dates.astype("datetime64[s]") + hour * np.timedelta64(3600, "s")
    return table, times


def read_isd_lite(
    paths: str | Path | list[str | Path],
) -> tuple[dict[str, np.ndarray], dict]:
    """NOAA ISD-Lite files of one station (gzip as published, or plain text) as
    *hours*; several files, or gzip members concatenated in one file, are one
    series (tidy() sorts and de-duplicates).

    ISD-Lite hours are UTC and the observation nearest the top of the hour;
    its 1-hour precipitation is read as the hour ending then (the canonical
    convention). Sea-level pressure becomes ``pressure_msl`` (ISD-Lite has no
    station pressure; only its tendencies are features), relative humidity is
    derived from temperature and dew point, trace precipitation is 0 mm, the
    sky-cover code maps to % by ISD_SKY_PERCENT, and -9999 is NaN (missing).
    Files named for different stations (USAF-WBAN-YEAR) are refused: one
    series is one station.
    """
    files = [Path(p) for p in ([paths] if isinstance(paths, str | Path) else paths)]
    named = {m[1] for p in files if (m := NOAA_NAME.match(p.name))}
    if len(named) > 1:
        raise DatasetError(
            f"files of different stations ({', '.join(sorted(named))}): "
            "evaluate one station at a time"
        )
    tables: list[np.ndarray] = []
    stamps: list[np.ndarray] = []
    for path in files:
        left = MAX_ISD_HOURS - sum(len(t) for t in tables)
        table, times = _isd_table(path, left)
        tables.append(table)
        stamps.append(times)
    table, times = np.concatenate(tables), np.concatenate(stamps)
    if not len(table):
        raise DatasetError(f"{files[0]}: no ISD-Lite lines")

    def scaled(column: int, factor: float = 0.1) -> np.ndarray:
        values = table[:, column].astype(np.float64)
        return np.where(table[:, column] == ISD_MISSING, np.nan, values * factor)

    def in_range(values: np.ndarray, name: str) -> np.ndarray:
        low, high = features.VALID_RANGES[name]
        return np.where((values >= low) & (values <= high), values, np.nan)

    # Range-checked before humidity is derived from them: a 900 °C reading
    # must not leave a valid-looking humidity behind (tidy() checks the rest).
    temperature = in_range(scaled(4), "temperature_2m")
    dew_point = in_range(scaled(5), "dew_point_2m")
    direction = scaled(7, 1.0)
    speed = scaled(8)
    # Calm: direction 0 with speed 0. Direction is then meaningless; north
    # keeps it in range (Open-Meteo reports calm the same way).
    sky = np.array(
        [ISD_SKY_PERCENT.get(int(code), np.nan) for code in table[:, 9]], np.float64
    )
    precipitation = np.where(table[:, 10] == ISD_TRACE, 0.0, scaled(10))
    hours = {
        "time": times,
        "temperature_2m": temperature,
        "relative_humidity_2m": relative_humidity(temperature, dew_point),
        "dew_point_2m": dew_point,
        "pressure_msl": scaled(6),
        "cloud_cover": sky,
        "wind_speed_10m": speed,
        "wind_direction_10m": np.where(direction == 360.0, 0.0, direction),
        "precipitation": precipitation,
    }
    station: dict[str, Any] = {}
    for path in files:
        station = _isd_station(path)
        if "longitude" in station or "listing_error" in station:
            break
    if noaa := NOAA_NAME.match(files[0].name):
        station.setdefault("id", noaa[1].split("-")[0])
    return hours, station


def _isd_station(path: Path) -> dict[str, Any]:
    """The station's row of a ``stations.csv`` beside the file, if any. A
    listing that cannot be read is reported (``listing_error``), not raised:
    it matters only when no longitude is given."""
    listing = path.parent / "stations.csv"
    named = NOAA_NAME.match(path.name)
    if named is None or not listing.exists():
        return {}
    usaf = named[1].split("-")[0]
    try:
        with open(listing, encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            for row in reader:
                if row.get("usaf") != usaf:
                    continue
                line_no = reader.line_num
                try:
                    return {
                        "id": usaf,
                        "name": row.get("name"),
                        "state": row.get("state"),
                        "latitude": float(row["latitude"]),
                        "longitude": float(row["longitude"]),
                        "elevation_m": float(row["elevation_m"]),
                    }
                except (KeyError, TypeError, ValueError) as exc:
                    return {
                        "id": usaf,
                        "listing_error": f"{listing}:{line_no}: bad station row "
                        f"({type(exc).__name__}: {exc})",
                    }
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        return {"listing_error": f"{listing}: cannot read ({exc})"}
    return {}


FORMATS = ("tmy3", "csv", "open-meteo", "isd-lite")


def detect_format(path: str | Path) -> str:
    """Guess a file's format from its name and first line."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        return "open-meteo"
    if path.suffix.lower() == ".gz":
        return "isd-lite"
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            first = f.readline()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc})") from None
    if first.startswith("time,"):
        return "csv"
    fields = first.split()
    if len(fields) == ISD_FIELDS and all(map(ISD_FIELD.fullmatch, fields)):
        return "isd-lite"  # uncompressed
    return "tmy3"


def read_open_meteo(path: str | Path) -> tuple[dict[str, np.ndarray], dict]:
    """An Open-Meteo forecast or archive API response saved as JSON."""
    from weatherapp.forecast.features import FeatureError
    from weatherapp.forecast.openmeteo import OpenMeteoError, parse_hourly

    try:
        body = json.loads(Path(path).read_text(encoding="utf-8"))
    except RecursionError:
        raise DatasetError(f"{path}: not readable JSON (nested too deeply)") from None
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
    path: str | Path | list[str | Path], fmt: str | None = None
) -> tuple[dict[str, np.ndarray], dict]:
    """Any supported file as (*hours*, station metadata); see FORMATS. Only
    ISD-Lite takes several files (one station's years)."""
    if isinstance(path, list):
        if len(path) == 1:
            path = path[0]
        elif fmt == "isd-lite" or (
            fmt is None and all(detect_format(p) == "isd-lite" for p in path)
        ):
            return read_isd_lite(path)
        else:
            raise DatasetError("several files are read only as --format isd-lite")
    fmt = fmt or detect_format(path)
    _refuse_a_mismatch(Path(path), fmt)
    if fmt == "isd-lite":
        return read_isd_lite(path)
    if fmt == "tmy3":
        return read_tmy3(path)
    if fmt == "open-meteo":
        return read_open_meteo(path)
    if fmt == "csv":
        return dataset.read_csv(path), {}
    raise DatasetError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")


def _refuse_a_mismatch(path: Path, fmt: str) -> None:
    """An empty file, or a gzip file given another format, named as such
    (the readers would say "not a TMY3 file" or quote a decoding error)."""
    try:
        with open(path, "rb") as f:
            head = f.read(2)
    except OSError:
        return  # the reader says why
    if not head:
        raise DatasetError(f"{path}: the file is empty")
    if head == b"\x1f\x8b" and fmt != "isd-lite":
        raise DatasetError(f"{path}: a gzip file, which only --format isd-lite reads")


def _merge_duplicates(
    times: np.ndarray, columns: dict[str, np.ndarray], keep: np.ndarray
) -> None:
    """Give each kept hour the values of all its copies, whatever their order:
    a value missing in one copy is taken from another; two copies that report
    different values are refused (which file is right cannot be known)."""
    head = np.maximum.accumulate(np.where(keep, np.arange(len(keep)), 0))
    for i in np.flatnonzero(~keep):
        first = head[i]
        for name, values in columns.items():
            a, b = values[first], values[i]
            if np.isnan(a):
                values[first] = b
            elif not np.isnan(b) and a != b:
                raise DatasetError(
                    f"hour {times[i]} is given twice with different {name} "
                    f"({a:g} and {b:g}): give each hour once"
                )


def tidy(hours: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict]:
    """Sorted, de-duplicated hours with what was found, counted.

    No row is dropped and nothing is invented here: out-of-range values become
    missing (NaN, an empty cell in the canonical CSV) and stay missing; the
    one missing-data policy, applied the same way offline and at runtime, is
    features.fill_missing(). A month whose present weather reports
    precipitation in SUSPECT_WEATHER_HOURS hours or more but whose gauge
    measured none has its precipitation marked missing ("suspect_months"),
    so that its windows are neither labelled dry nor fed a dry past.
    """
    times = np.asarray(hours["time"], dtype="datetime64[s]")
    report: dict[str, Any] = {"rows": int(len(times))}
    report["out_of_order"] = int(np.sum(np.diff(times) < np.timedelta64(0, "s")))
    order = np.argsort(times, kind="stable")
    times = times[order]
    keep = np.concatenate([[True], np.diff(times) != np.timedelta64(0, "s")])
    report["duplicates"] = int(np.sum(~keep))
    source = dict(hours)
    if "surface_pressure" not in source and "pressure_msl" in source:
        # Only pressure tendencies are features (features.PRESSURE_ALIASES).
        source["surface_pressure"] = source["pressure_msl"]
    names = [n for n in features.VARIABLES if n in source]
    if len(names) != len(features.VARIABLES):
        absent = sorted(set(features.VARIABLES) - set(names))
        raise DatasetError(f"missing variables {', '.join(absent)}")
    columns = {n: np.asarray(source[n], np.float64)[order] for n in names}
    _merge_duplicates(times, columns, keep)
    columns = {n: values[keep] for n, values in columns.items()}
    times = times[keep]
    out_of_range = 0
    missing: dict[str, int] = {}
    for name, values in columns.items():
        low, high = features.VALID_RANGES[name]
        bad = ~np.isfinite(values) | (values < low) | (values > high)
        out_of_range += int(np.sum(np.isfinite(values) & bad))
        values[bad] = np.nan
        missing[name] = int(bad.sum())
    report["out_of_range"] = out_of_range
    report["missing"] = missing
    suspect: list[str] = []
    if PRECIPITATION_REPORTED in source:
        reported = np.asarray(source[PRECIPITATION_REPORTED], bool)[order][keep]
        rain = columns["precipitation"]
        months = times.astype("datetime64[M]")
        for month in np.unique(months):
            inside = months == month
            measured = np.nansum(rain[inside] >= features.RAIN_MM)
            if reported[inside].sum() >= SUSPECT_WEATHER_HOURS and measured == 0:
                rain[inside] = np.nan
                suspect.append(str(month))
    report["suspect_months"] = suspect
    missing["precipitation"] = int(np.isnan(columns["precipitation"]).sum())
    hour = np.timedelta64(3600, "s")
    steps = np.diff(times)
    report["gaps"] = int(np.sum(steps > hour))
    report["missing_hours"] = int(np.sum((steps[steps > hour] // hour) - 1))
    tidy_hours = {"time": times, **columns}
    if len(features.window_ends(times)) == 0:
        raise DatasetError(
            f"too few consecutive hours: no {features.WINDOW_HOURS}-hour window "
            f"in {len(times)} rows"
        )
    return tidy_hours, report
