"""What a missing sensor costs the shipped model: three 2019 station files
scored as published and with one field blanked (ISD-Lite's -9999) in every
hour, as a station without a ceilometer or a barometer would report.

    .venv/bin/python bench/missing_sensor.py   (runtime requirements)

The shipped model trained on these stations, so the levels flatter it and
the differences are the point (docs/MODEL.md, "Missing data that cannot
leak"). Prints a table (AUC / onset AUC at the alert horizon) and one JSON
line.
"""

from __future__ import annotations

import gzip
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from model_tools import isd, paths, pipeline  # noqa: E402

STATIONS = {
    "Dallas-Fort Worth": "722590-03927-2019.gz",
    "Richmond": "724010-13740-2019.gz",
    "Boston": "725090-14739-2019.gz",
}
# ISD-Lite's fixed columns (0-based, split on whitespace).
FIELDS = {"all reported": (), "no sky cover": (9,), "no pressure": (6,)}


def blanked(source: Path, columns: tuple[int, ...], out: Path) -> Path:
    lines = []
    with gzip.open(source, "rt") as rows:
        for line in rows:
            cells = line.split()
            for c in columns:
                cells[c] = "-9999"
            date = "{:>4} {:>2} {:>2} {:>2}".format(*cells[:4])
            lines.append(date + "".join(f" {v:>5}" for v in cells[4:]))
    out.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    return out


def main() -> None:
    results: dict[str, dict[str, list[float]]] = {}
    longitude = {row["usaf"]: row["longitude"] for row in isd.stations()}
    with tempfile.TemporaryDirectory() as tmp:
        for name, file in STATIONS.items():
            source = paths.ISD / file
            results[name] = {}
            for label, columns in FIELDS.items():
                folder = Path(tmp) / label.replace(" ", "-")
                folder.mkdir(exist_ok=True)
                path = blanked(source, columns, folder / file)
                r = pipeline.step_evaluate(
                    [path], "isd-lite", longitude[file[:6]], paths.INT8_MODEL
                )
                results[name][label] = [round(r["auc"], 3), round(r["onset"]["auc"], 3)]
    print(f"{'station':<20}" + "".join(f"{label:>16}" for label in FIELDS))
    for name, row in results.items():
        cells = "".join(f"{a:>9.3f} / {o:.3f}" for a, o in row.values())
        print(f"{name:<20}{cells}")
    print(json.dumps({"missing_sensor": results}))


if __name__ == "__main__":
    main()
