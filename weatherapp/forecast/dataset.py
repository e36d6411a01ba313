"""The canonical hourly CSV: Open-Meteo variable names, one row per UTC hour.

Read at runtime by the replay weather source and written by model_tools; the
schema is documented in data/README.md.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .variables import VARIABLES

if TYPE_CHECKING:  # numpy.typing is for the checker only, never loaded at runtime
    import numpy.typing as npt

# Column order of the file; ``pressure_msl`` may follow as an optional column.
COLUMNS = ("time", *VARIABLES)
OPTIONAL_COLUMNS = ("pressure_msl",)
# One decimal more than any source reports, so a round trip is exact.
DECIMALS = 2


class DatasetError(ValueError):
    """A file that is not a valid canonical hourly CSV."""


def csv_rows(path: str | Path, text: str) -> list[list[str]]:
    """Every row of a CSV text; a malformed one (a field over the csv module's
    131,072 characters, a NUL) is a DatasetError naming its line."""
    reader = csv.reader(io.StringIO(text))
    try:
        return list(reader)
    except csv.Error as exc:
        raise DatasetError(f"{path}:{reader.line_num}: {exc}") from None


def read_csv(path: str | Path) -> dict[str, npt.NDArray[Any]]:
    """Load a canonical CSV into *hours* (see features.py); an empty cell is a
    missing value (NaN; features.fill_missing() says what becomes of it)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read ({exc})") from None
    rows = csv_rows(path, text)
    header = rows.pop(0) if rows else None
    if header is None:
        raise DatasetError(f"{path}: empty file")
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise DatasetError(f"{path}: missing columns {', '.join(missing)}")
    wanted = [c for c in header if c in COLUMNS or c in OPTIONAL_COLUMNS]
    index = {c: header.index(c) for c in wanted}
    if not rows:
        raise DatasetError(f"{path}: no rows")
    hours: dict[str, npt.NDArray[Any]] = {}
    for line, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise DatasetError(
                f"{path}:{line}: {len(row)} fields, expected {len(header)}"
            )
    try:
        hours["time"] = np.array(
            [row[index["time"]].rstrip("Z") for row in rows], dtype="datetime64[s]"
        )
    except ValueError as exc:
        raise DatasetError(f"{path}: column time: {exc}") from None
    (unknown,) = np.nonzero(np.isnat(hours["time"]))  # "" and "NaT" parse as NaT
    if len(unknown):
        raise DatasetError(f"{path}:{unknown[0] + 2}: no time")
    for name in wanted:
        if name == "time":
            continue
        try:
            hours[name] = np.array([_value(row[index[name]]) for row in rows])
        except ValueError as exc:
            raise DatasetError(f"{path}: column {name}: {exc}") from None
    return hours


def _value(cell: str) -> float:
    # An empty cell is a missing value (NaN), as write_csv writes one.
    return float(cell) if cell.strip() else math.nan


def write_csv(hours: Mapping[str, npt.NDArray[Any]], path: str | Path) -> None:
    """Write *hours* in the canonical layout (times as ``YYYY-MM-DDTHH:MMZ``)."""
    names = [*VARIABLES, *(c for c in OPTIONAL_COLUMNS if c in hours)]
    times = np.asarray(hours["time"], dtype="datetime64[m]")
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["time", *names])
        for i, t in enumerate(times):
            writer.writerow([f"{t}Z", *(_number(hours[n][i]) for n in names)])


def _number(value: float) -> str:
    if not math.isfinite(float(value)):
        return ""
    text = f"{float(value):.{DECIMALS}f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text
