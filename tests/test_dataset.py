"""The canonical dataset and its TMY3 importer."""

import json
from pathlib import Path

import numpy as np
import pytest

from model_tools import importers, pipeline
from support import DATASET, ROOT
from weatherapp.forecast import dataset
from weatherapp.forecast.card import file_sha256
from weatherapp.forecast.dataset import DatasetError

HEADER = (
    "Date (MM/DD/YYYY),Time (HH:MM),Dry-bulb (C),Dew-point (C),RHum (%),"
    "Pressure (mbar),Wdir (degrees),Wspd (m/s),TotCld (tenths),Lprecip depth (mm)"
)


def tmy3(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "station.csv"
    meta = '999999,"TEST STATION",XX,-5.0,36.1,-79.95,273'
    path.write_text("\n".join([meta, HEADER, *rows]) + "\n")
    return path


def test_tmy3_times_become_utc_and_precipitation_millimetres(tmp_path):
    path = tmy3(
        tmp_path,
        [
            "01/31/1988,23:00,1.0,0.0,90,990,180,2.0,10,3",
            "01/31/1988,24:00,1.5,0.5,91,991,190,2.5,9,0",
            "02/01/1996,01:00,2.0,1.0,92,992,200,3.0,8,-9900",
        ],
    )
    hours, station = importers.read_tmy3(path)
    assert station["utc_offset_hours"] == -5.0
    # Hour-ending local standard time (UTC-5): 24:00 is 05:00 UTC next day.
    assert [str(t) for t in hours["time"]] == [
        "1988-02-01T04:00:00",
        "1988-02-01T05:00:00",
        "1996-02-01T06:00:00",
    ]
    assert hours["precipitation"][0] == pytest.approx(0.3)
    assert hours["cloud_cover"][0] == 100
    assert np.isnan(hours["precipitation"][2])
    # Months from different years are never consecutive.
    assert len(pipeline.features.window_ends(hours["time"], window=2)) == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "not a TMY3 file"),
        ("a,b\nc,d\ne,f\n", "station metadata"),
        ('1,"X",XX,-5,36,-79,273\nDate (MM/DD/YYYY)\n01/01/1988\n', "missing TMY3"),
    ],
)
def test_tmy3_errors_name_the_problem(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DatasetError, match=message):
        importers.read_tmy3(path)


def test_committed_dataset_is_the_one_the_model_was_trained_on():
    card = json.loads((ROOT / "models" / "rain_int8.json").read_text())
    assert card["dataset"]["sha256"] == file_sha256(DATASET)


def test_committed_dataset_shape(hours):
    assert len(hours["time"]) == 8760
    assert set(dataset.COLUMNS) <= set(hours)
    assert int((hours["precipitation"] >= 0.1).sum()) == 358
    steps = np.diff(hours["time"]).astype(int)
    # Sorted, no duplicates; gaps only where a TMY month ends.
    assert (steps > 0).all()
    assert int((steps != 3600).sum()) == 11


def test_canonical_csv_round_trip(hours, tmp_path):
    out = tmp_path / "copy.csv"
    dataset.write_csv(hours, out)
    assert out.read_bytes() == DATASET.read_bytes()


def test_dataset_step_reproduces_the_committed_csv(tmp_path):
    raw = ROOT.parent / "shared" / "data" / "723170TYA.CSV"
    if not raw.exists():
        pytest.skip("the raw TMY3 file is not beside this checkout")
    result = pipeline.step_dataset(raw, tmp_path / "out.csv")
    assert result["sha256"] == file_sha256(DATASET)


def test_read_csv_rejects_missing_columns(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("time,temperature_2m\n2026-01-01T00:00Z,1\n")
    with pytest.raises(DatasetError, match="missing columns"):
        dataset.read_csv(path)
