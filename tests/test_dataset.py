"""The canonical dataset and its TMY3 importer."""

import json
from pathlib import Path

import numpy as np
import pytest

from model_tools import importers, pipeline
from model_tools.samples import make_samples
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
        # Found by an attack: an offset of inf raised OverflowError, NaN said
        # only "cannot convert float NaN to integer", 99 h and a latitude of
        # inf were read.
        ('1,"X",XX,inf,36,-79,273\na\nb\n', "utc_offset_hours is inf, not within"),
        ('1,"X",XX,nan,36,-79,273\na\nb\n', "utc_offset_hours is nan, not within"),
        ('1,"X",XX,99,36,-79,273\na\nb\n', "utc_offset_hours is 99.0, not within"),
        ('1,"X",XX,-5,inf,-79,273\na\nb\n', "latitude is inf, not within"),
        ('1,"X",XX,-5,36,999,273\na\nb\n', r"longitude is 999.0, not within \[-180"),
        ("1,2\n" + "x" * 140_000 + "\n3\n", "bad.csv:2: field larger than"),
    ],
)
def test_tmy3_errors_name_the_problem(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DatasetError, match=message):
        importers.read_tmy3(path)


def test_committed_isd_files_are_the_ones_the_model_was_trained_on():
    card = json.loads((ROOT / "models" / "rain_int8.json").read_text())
    listing = ROOT / "data" / "isd-lite" / "SHA256SUMS"
    assert card["dataset"]["sha256sums_sha256"] == file_sha256(listing)
    for line in listing.read_text().splitlines():
        digest, name = line.split()
        assert file_sha256(listing.parent / name) == digest, name


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
    result = pipeline.step_dataset([raw], tmp_path / "out.csv")
    # Byte for byte, except that February 1996 (present weather reports rain
    # and snow in 29 hours, the gauge nothing) is now missing, not dry. The
    # committed replay file keeps its zeros: the demo replays every month.
    assert result["found"]["suspect_months"] == ["1996-02"]
    assert list(pipeline.GREENSBORO_SUSPECT_MONTHS) == ["1996-02"]
    rebuilt = dataset.read_csv(tmp_path / "out.csv")
    committed = dataset.read_csv(DATASET)
    february = rebuilt["time"].astype("datetime64[M]") == np.datetime64("1996-02")
    assert february.sum() == 28 * 24  # the TMY February has 28 days
    assert np.isnan(rebuilt["precipitation"][february]).all()
    assert (committed["precipitation"][february] == 0).all()
    rebuilt["precipitation"][february] = 0.0
    for name, values in committed.items():
        np.testing.assert_array_equal(rebuilt[name], values)


def test_tidy_marks_a_month_of_reported_weather_without_rain_missing(tmp_path):
    rows = []
    for day in range(1, 29):
        for hour in range(1, 25):
            rainy = day == 5 and hour <= 8  # 8 h of "61" (rain), 0 mm measured
            rows.append(
                f"02/{day:02d}/1996,{hour:02d}:00,5,1,75,990,180,3,10,0,"
                f"{61 if rainy else 0:02d}"
            )
    for hour in range(1, 25):  # March: reported and measured
        rows.append(
            f"03/01/1996,{hour:02d}:00,5,1,75,990,180,3,10,"
            f"{13 if hour == 3 else 0},{61 if hour < 10 else 0:02d}"
        )
    path = tmp_path / "station.csv"
    meta = '999999,"TEST STATION",XX,-5.0,36.1,-79.95,273'
    header = HEADER + ",PresWth (METAR code)"
    path.write_text("\n".join([meta, header, *rows]) + "\n")
    hours, _ = importers.read_tmy3(path)
    tidy, found = importers.tidy(hours)
    assert found["suspect_months"] == ["1996-02"]
    february = tidy["time"] < np.datetime64("1996-03-01T05:00")
    assert np.isnan(tidy["precipitation"][february]).all()
    assert np.isfinite(tidy["precipitation"][~february]).all()
    assert found["missing"]["precipitation"] == 28 * 24
    assert importers.PRECIPITATION_REPORTED not in tidy


def test_empty_cells_are_missing_values(tmp_path):
    path = tmp_path / "gappy.csv"
    path.write_text(
        "time,temperature_2m,relative_humidity_2m,dew_point_2m,surface_pressure,"
        "cloud_cover,wind_speed_10m,wind_direction_10m,precipitation\n"
        "2026-01-01T00:00Z,1,90,0.5,1000,,3,180,0\n"
        "2026-01-01T01:00Z,1.5,,0.5,1001,50,3,180,\n"
    )
    hours = dataset.read_csv(path)
    assert np.isnan(hours["cloud_cover"][0]) and hours["cloud_cover"][1] == 50
    assert np.isnan(hours["relative_humidity_2m"][1])
    assert np.isnan(hours["precipitation"][1]) and hours["precipitation"][0] == 0
    out = tmp_path / "again.csv"
    dataset.write_csv(hours, out)
    assert out.read_text() == path.read_text()


@pytest.mark.parametrize(
    ("time", "line"),
    [("", "x.csv:3: no time"), ("NaT", "x.csv:3: no time")],
)
def test_read_csv_refuses_a_row_without_a_time(tmp_path, time, line):
    """Found by an attack: an empty or NaT time was written out as "NaTZ"."""
    path = tmp_path / "x.csv"
    path.write_text(
        "time,temperature_2m,relative_humidity_2m,dew_point_2m,surface_pressure,"
        "cloud_cover,wind_speed_10m,wind_direction_10m,precipitation\n"
        "2026-01-01T00:00Z,1,90,0.5,1000,50,3,180,0\n"
        f"{time},1.5,90,0.5,1001,50,3,180,0\n"
    )
    with pytest.raises(DatasetError, match=line):
        dataset.read_csv(path)


def test_read_csv_names_a_field_too_long_to_read(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("time,temperature_2m\n" + "1" * 140_000 + ",1\n")
    with pytest.raises(DatasetError, match="x.csv:2: field larger than field limit"):
        dataset.read_csv(path)


def test_read_csv_rejects_missing_columns(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("time,temperature_2m\n2026-01-01T00:00Z,1\n")
    with pytest.raises(DatasetError, match="missing columns"):
        dataset.read_csv(path)


def test_the_model_never_reads_the_suspect_month():
    """Greensboro's committed February 1996 keeps its zeros for the replay;
    the windows the model trains and is scored on hold none of it."""
    february = np.datetime64("1996-02")
    replayed = make_samples(dataset.read_csv(DATASET), pipeline.DEFAULT_LONGITUDE)
    assert february in replayed.end_times.astype("datetime64[M]")
    data = pipeline.greensboro_samples()
    assert february not in data.end_times.astype("datetime64[M]")
    assert set(data.station) == {pipeline.GREENSBORO}
    assert len(data.y) > 6000
