"""ISD-Lite parsing against hand-checked lines (NOAA's isd-lite-format)."""

import gzip
import json

import numpy as np
import pytest

from model_tools import importers, isd
from model_tools.cli import main
from weatherapp.forecast.dataset import DatasetError

# year month day hour | T dewpoint SLP | dir speed | sky | precip 1 h, 6 h
LINES = [
    "2019 07 01 00   250   200 10132   180    51     4     0 -9999",
    "2019 07 01 01   240   210 10135     0     0     8    -1 -9999",  # calm, trace
    "2019 07 01 02 -9999   210 -9999   360    30     9    25    30",  # missing, fog
    # 03 is missing entirely
    "2019 07 01 04   230   220 10140   200    40    10 -9999 -9999",  # partial obsc.
    "2019 07 01 05   231   220 10141   200    40    15     3 -9999",  # broken
]


def write_gz(path, lines):
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    return path


def test_hand_checked_lines(tmp_path):
    hours, _ = importers.read_isd_lite(write_gz(tmp_path / "x-y-2019.gz", LINES))
    assert [str(t) for t in hours["time"]] == [
        "2019-07-01T00:00:00",
        "2019-07-01T01:00:00",
        "2019-07-01T02:00:00",
        "2019-07-01T04:00:00",
        "2019-07-01T05:00:00",
    ]
    assert hours["temperature_2m"][0] == pytest.approx(25.0)
    assert np.isnan(hours["temperature_2m"][2])  # -9999
    assert np.isnan(hours["relative_humidity_2m"][2])  # needs the temperature
    # RH of 25 °C with a 20 °C dew point: 73.8 % (Magnus).
    assert hours["relative_humidity_2m"][0] == pytest.approx(73.8, abs=0.2)
    assert hours["pressure_msl"][1] == pytest.approx(1013.5)
    assert "surface_pressure" not in hours  # ISD-Lite has sea level only
    assert np.isnan(hours["pressure_msl"][2])
    assert hours["wind_speed_10m"][1] == 0 and hours["wind_direction_10m"][1] == 0
    assert hours["wind_direction_10m"][2] == 0  # 360 is north
    assert hours["wind_speed_10m"][0] == pytest.approx(5.1)
    # Sky: 4 oktas, 8 oktas, obscured, partial obscuration (unknown), broken.
    assert hours["cloud_cover"].tolist()[:3] == [50.0, 100.0, 100.0]
    assert np.isnan(hours["cloud_cover"][3])
    assert hours["cloud_cover"][4] == 75.0
    # Precipitation: 0, trace -> 0, 2.5 mm, missing, 0.3 mm.
    rain = hours["precipitation"]
    assert rain[[0, 1, 2, 4]].tolist() == pytest.approx([0.0, 0.0, 2.5, 0.3])
    assert np.isnan(rain[3])


def test_concatenated_members_and_several_files_are_one_series(tmp_path):
    one = write_gz(tmp_path / "a-b-2019.gz", LINES)
    first = gzip.compress(("\n".join(LINES[:2]) + "\n").encode())
    rest = gzip.compress(("\n".join(LINES[2:]) + "\n").encode())
    joined = tmp_path / "c-d-2019.gz"
    joined.write_bytes(first + rest)
    split_a = write_gz(tmp_path / "e-f-2018.gz", LINES[2:])
    split_b = write_gz(tmp_path / "e-f-2019.gz", LINES[:2])
    reference, _ = importers.read_isd_lite(one)
    for source in (joined, [split_a, split_b]):
        hours, _ = importers.load(source, "isd-lite")
        order = np.argsort(hours["time"])
        for name, values in reference.items():
            np.testing.assert_array_equal(np.asarray(hours[name])[order], values)


def test_bad_lines_are_one_line_errors(tmp_path):
    bad = write_gz(tmp_path / "x-y-2019.gz", [LINES[0], "2019 07 01 01 250"])
    with pytest.raises(DatasetError, match=r":2: not an ISD-Lite line"):
        importers.read_isd_lite(bad)
    broken = tmp_path / "z-z-2019.gz"
    broken.write_bytes(gzip.compress(b"x")[:8])
    with pytest.raises(DatasetError, match="cannot read"):
        importers.read_isd_lite(broken)


def test_committed_stations_parse_with_their_metadata():
    rows = isd.stations()
    assert len(rows) == 48 and all(len(r["files"]) == 3 for r in rows)
    hours, station = importers.load([str(p) for p in rows[0]["files"]], "isd-lite")
    assert station["name"] == rows[0]["name"]
    assert station["longitude"] == rows[0]["longitude"]
    assert hours["time"][0] == np.datetime64("2017-01-01T01:00")  # as published
    assert hours["time"][-1] == np.datetime64("2019-12-31T23:00")


def test_folds_keep_neighbours_together():
    rows = isd.stations()
    fold_of = isd.folds(rows)
    miami = {fold_of[s] for s in ("722020", "722024", "722029")}
    assert len(miami) == 1
    assert fold_of["725750"] == fold_of["725785"]  # Ogden with Idaho Falls
    assert len(set(fold_of.values())) == isd.FOLDS
    sizes = np.bincount(list(fold_of.values()))
    assert sizes.max() - sizes.min() <= 2


def test_evaluate_isd_station_json(capsys):
    """The issue's command: one JSON object, last, with every field."""
    row = isd.stations()[8]  # Dallas-Fort Worth
    code = main(
        [
            "evaluate",
            "--data",
            *[str(p) for p in row["files"]],
            "--format",
            "isd-lite",
            "--longitude",
            str(row["longitude"]),
            "--json",
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("auc", "brier", "bss", "coverage", "windows", "skipped", "baselines"):
        assert key in result
    assert result["coverage"] >= 0.9
    assert set(result["onset"]) >= {"auc", "brier", "bss", "windows"}
    assert sorted(result["horizons"], key=int) == ["1", "2", "3", "4", "5", "6"]
    for k, scores in result["horizons"].items():
        assert set(scores) >= {"auc", "brier", "bss"}, k
    assert result["auc"] == result["horizons"]["3"]["auc"]
    assert 0.5 < result["auc"] <= 1 and result["onset"]["windows"] < result["windows"]
    assert set(result["sky"]) == {"observed", "filled"}


def _one_field_missing(row: dict, field: int, tmp_path) -> str:
    """The station's 2019 file with one ISD-Lite field -9999 in every line."""
    path = next(p for p in row["files"] if p.name.endswith("-2019.gz"))
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    blanked = []
    for line in lines:
        parts = line.split()
        parts[field] = "-9999"
        blanked.append(" ".join(parts))
    return str(write_gz(tmp_path / f"blank{field}-{path.name}", blanked))


@pytest.mark.parametrize("field, name", [(9, "cloud_cover"), (6, "surface_pressure")])
def test_a_station_that_never_reports_sky_or_pressure_is_still_scored(
    field, name, tmp_path, capsys
):
    """A station without a ceilometer (or a barometer) used to leave no
    window to score; it now reads a constant and says so."""
    row = isd.stations()[8]
    path = _one_field_missing(row, field, tmp_path)
    args = ["evaluate", "--data", path, "--format", "isd-lite"]
    code = main([*args, "--longitude", str(row["longitude"]), "--json"])
    assert code == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]

    def refuse(constant):
        raise AssertionError(f"{constant} is not JSON")

    # With no observed sky, that group's figures are null, never NaN.
    result = json.loads(last, parse_constant=refuse)
    assert result["unobserved"] == [name]
    assert result["coverage"] == 1.0
    assert result["auc"] > 0.8  # the other inputs still forecast


def test_a_station_that_never_reports_dew_point_is_refused_by_name(tmp_path, capsys):
    row = isd.stations()[8]
    path = _one_field_missing(row, 5, tmp_path)
    args = ["evaluate", "--data", path, "--format", "isd-lite"]
    code = main([*args, "--longitude", str(row["longitude"]), "--json"])
    assert code != 0
    err = capsys.readouterr().err
    assert "too few windows to score (0 windows" in err
    assert "dew point is reported in under 50% of the hours of 12 month(s)" in err


def evaluate(capsys, *args: str) -> tuple[int, str, dict | None]:
    """Exit code, the last stderr line and the strict JSON (None if absent)."""

    def refuse(constant):
        raise AssertionError(f"{constant} is not JSON")

    code = main(["evaluate", "--format", "isd-lite", "--json", *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    lines = out.strip().splitlines()
    result = json.loads(lines[-1], parse_constant=refuse) if code == 0 else None
    return code, (err.strip().splitlines() or [""])[-1], result


def station_lines(year: str = "2019") -> tuple[list[str], float]:
    row = isd.stations()[8]
    path = next(p for p in row["files"] if p.name.endswith(f"-{year}.gz"))
    return gzip.decompress(path.read_bytes()).decode().splitlines(), row["longitude"]


def test_evaluate_says_whether_the_shipped_model_trained_on_the_hours(tmp_path, capsys):
    lines, lon = station_lines()
    row = isd.stations()[8]
    committed = next(p for p in row["files"] if p.name.endswith("-2019.gz"))
    code, _, result = evaluate(
        capsys, "--data", str(committed), "--longitude", str(lon)
    )
    assert code == 0 and result["in_training"]
    # The same station in a year no fit has read.
    later = write_gz(tmp_path / "722590-03927-2021.gz", [f"2021{x[4:]}" for x in lines])
    code, _, result = evaluate(capsys, "--data", str(later), "--longitude", str(lon))
    assert code == 0 and not result["in_training"]


def test_evaluate_warns_when_few_windows_with_a_known_gauge_are_scored(capsys):
    """Ellsworth AFB reports 1-hour precipitation mostly when it rains: the
    58 windows scored are 40 % rainy, and their figures are no station's."""
    row = next(r for r in isd.stations() if r["usaf"] == "726625")
    path = next(p for p in row["files"] if p.name.endswith("-2019.gz"))
    code, _, result = evaluate(capsys, "--data", str(path))
    assert code == 0 and result["eligible_share"] < 0.05
    assert any("only 0.9% of the windows" in w for w in result["warnings"])
    assert any("58 windows scored" in w for w in result["warnings"])
    main(["evaluate", "--data", str(path)])
    assert "warning: only 0.9% of the windows" in capsys.readouterr().out


def test_evaluate_warns_of_a_longitude_that_puts_the_warmest_hour_at_night(
    tmp_path, capsys
):
    lines, lon = station_lines()
    path = write_gz(tmp_path / "dfw.gz", lines)  # no listing: no listed longitude
    code, _, right = evaluate(capsys, "--data", str(path), "--longitude", str(lon))
    assert code == 0 and right["warnings"] == []
    assert right["period"] == ["2019-01-02T00:00:00", "2019-12-31T17:00:00"]
    code, _, wrong = evaluate(capsys, "--data", str(path), "--longitude", str(-lon))
    assert code == 0 and len(wrong["warnings"]) == 1
    assert "warmest hour falls at 4.2 h" in wrong["warnings"][0]
    assert wrong["auc"] < right["auc"]  # the solar-hour inputs are off
    # Beside the station listing, a longitude that differs is named too.
    committed = next(p for p in isd.stations()[8]["files"] if "-2019" in p.name)
    code, _, result = evaluate(capsys, "--data", str(committed), "--longitude", "0")
    assert (
        "--longitude 0 overrides the station's listed -97.02" in result["warnings"][0]
    )


def test_a_committed_file_under_another_name_is_known_as_trained_on(tmp_path, capsys):
    lines, lon = station_lines()
    committed = next(p for p in isd.stations()[8]["files"] if "-2019" in p.name)
    renamed = tmp_path / "dallas.gz"
    renamed.write_bytes(committed.read_bytes())
    code, _, result = evaluate(capsys, "--data", str(renamed), "--longitude", str(lon))
    assert code == 0 and result["in_training"]


def test_files_not_named_by_noaa_are_one_station(tmp_path, capsys):
    lines, lon = station_lines()
    later = [f"2020{x[4:]}" for x in lines]
    names = [tmp_path / "KDFW-2019-isdlite.gz", tmp_path / "KDFW-2020-isdlite.gz"]
    write_gz(names[0], lines)
    write_gz(names[1], later)
    code, err, result = evaluate(
        capsys, "--data", *map(str, names), "--longitude", str(lon)
    )
    assert code == 0, err
    assert result["period"][0].startswith("2019-01-02")
    assert result["period"][1].startswith("2020-12-")


def with_field(lines: list[str], at: int, field: int, value: str) -> list[str]:
    parts = lines[at].split()
    parts[field] = value
    return [*lines[:at], " ".join(parts), *lines[at + 1 :]]


@pytest.mark.parametrize(
    "value",
    ["99999999999999999999999", "+233", "2_3_3", "1e3", "nan", "123456"],
)
def test_a_field_that_is_not_a_short_integer_is_refused_by_line(
    value, tmp_path, capsys
):
    lines, lon = station_lines()
    path = write_gz(tmp_path / "x-y-2019.gz", with_field(lines, 100, 4, value))
    code, err, _ = evaluate(capsys, "--data", str(path), "--longitude", str(lon))
    assert code == 1 and f"{path}:101: not an ISD-Lite line" in err


@pytest.mark.parametrize("year", ["0", "-5", "99999", "1900"])
def test_an_impossible_year_is_refused_by_line(year, tmp_path, capsys):
    lines, lon = station_lines()
    path = write_gz(tmp_path / "x-y-2019.gz", with_field(lines, 100, 0, year))
    code, err, _ = evaluate(capsys, "--data", str(path), "--longitude", str(lon))
    assert code == 1 and f"{path}:101: " in err


def test_a_bad_date_names_its_own_file_and_line(tmp_path, capsys):
    lines, lon = station_lines()
    good = write_gz(tmp_path / "722590-03927-2019.gz", lines)
    feb30 = with_field(with_field(lines, 6, 1, "02"), 6, 2, "30")
    feb30.insert(3, "")  # blank lines count as lines
    bad = write_gz(tmp_path / "722590-03927-2018.gz", feb30)
    args = ["--data", str(good), str(bad), "--longitude", str(lon)]
    code, err, _ = evaluate(capsys, *args)
    assert code == 1 and f"{bad}:8: bad date" in err


def test_files_of_two_stations_are_refused(capsys):
    a, b = isd.stations()[8], isd.stations()[20]
    args = ["--data", str(a["files"][0]), str(b["files"][0])]
    code, err, _ = evaluate(capsys, *args)
    assert code == 1 and "files of different stations" in err


@pytest.mark.parametrize("longitude", ["nan", "inf", "400", "-180.5"])
def test_a_longitude_outside_the_globe_is_refused(longitude, tmp_path, capsys):
    lines, _ = station_lines()
    path = write_gz(tmp_path / "x-y-2019.gz", lines)
    code, err, _ = evaluate(capsys, "--data", str(path), "--longitude", longitude)
    assert code == 1 and "is not a number of degrees in [-180, 180]" in err


def test_a_broken_station_listing_matters_only_without_a_longitude(tmp_path, capsys):
    lines, lon = station_lines()
    path = write_gz(tmp_path / "722590-03927-2019.gz", lines)
    listing = "usaf,wban,latitude\n\n700000,1,2\n\n722590,03927,x\n"
    (tmp_path / "stations.csv").write_text(listing)
    code, err, _ = evaluate(capsys, "--data", str(path))
    assert code == 1 and "stations.csv:5: bad station row" in err
    code, _, result = evaluate(capsys, "--data", str(path), "--longitude", str(lon))
    assert code == 0 and result["windows"] > 5000


def test_the_same_hours_in_any_file_order_score_the_same(tmp_path, capsys):
    """A copy of the year without sky cover adds nothing and changes nothing;
    a copy that disagrees on a value is refused, whichever file comes first."""
    lines, lon = station_lines()
    real = write_gz(tmp_path / "722590-03927-2019.gz", lines)
    nosky = [with_field([x], 0, 9, "-9999")[0] for x in lines]
    copy = write_gz(tmp_path / "722590-03927-2019b.gz", nosky)
    aucs = set()
    for order in ((real, copy), (copy, real)):
        args = ["--data", *map(str, order), "--longitude", str(lon)]
        code, _, result = evaluate(capsys, *args)
        assert code == 0 and result["unobserved"] == []
        aucs.add(result["auc"])
    assert len(aucs) == 1
    other = write_gz(tmp_path / "722590-03927-2019c.gz", with_field(lines, 50, 4, "21"))
    for order in ((real, other), (other, real)):
        args = ["--data", *map(str, order), "--longitude", str(lon)]
        code, err, _ = evaluate(capsys, *args)
        assert code == 1 and "is given twice with different temperature_2m" in err


def test_humidity_is_not_derived_from_an_impossible_temperature(tmp_path):
    line = "2019 07 01 00  9000   200 10132   180    51     4     0 -9999"
    hours, _ = importers.read_isd_lite(write_gz(tmp_path / "x-y-2019.gz", [line]))
    assert np.isnan(hours["temperature_2m"][0])
    assert np.isnan(hours["relative_humidity_2m"][0])


def test_too_few_rain_events_are_refused_not_scored(capsys):
    # Gunnison's gauge reports 1-hour precipitation in few hours: 18 windows.
    row = next(r for r in isd.stations() if r["usaf"] == "724677")
    code, err, _ = evaluate(capsys, "--data", str(row["files"][0]))
    assert code == 1 and "too few windows to score" in err
    assert "precipitation is missing or out of range" in err


def test_a_temperature_read_once_is_not_carried_over_a_year(tmp_path, capsys):
    lines, lon = station_lines()
    blank = [with_field([x], 0, 4, "-9999")[0] for x in lines]
    path = write_gz(tmp_path / "722590-03927-2019.gz", [lines[0], *blank[1:]])
    code, err, _ = evaluate(capsys, "--data", str(path), "--longitude", str(lon))
    assert code == 1 and "too few windows to score (0 windows" in err
    assert "under 50% of the hours of 12 month(s) (first 2019-01)" in err
    # Given with a complete year, the year without temperature is not
    # scored either (it would read 31 December's last temperature).
    older, _ = station_lines("2018")
    full = write_gz(tmp_path / "722590-03927-2018.gz", older)
    args = ["--data", str(full), str(path), "--longitude", str(lon)]
    code, _, result = evaluate(capsys, *args)
    assert code == 0 and len(result["sparse_months"]) == 12
    assert result["sparse_months"][0] == "2019-01"
    assert 0.45 < result["coverage"] < 0.55
    alone = ["--data", str(full), "--longitude", str(lon)]
    assert evaluate(capsys, *alone)[2]["windows"] == result["windows"]


def test_an_oversized_file_is_refused_before_it_fills_memory(
    monkeypatch, tmp_path, capsys
):
    lines, lon = station_lines()
    path = write_gz(tmp_path / "x-y-2019.gz", lines)
    monkeypatch.setattr(importers, "MAX_ISD_BYTES", 100_000)
    code, err, _ = evaluate(capsys, "--data", str(path), "--longitude", str(lon))
    assert code == 1 and "oversized" in err
    monkeypatch.setattr(importers, "MAX_ISD_BYTES", 10**8)
    monkeypatch.setattr(importers, "MAX_ISD_HOURS", 5000)
    code, err, _ = evaluate(capsys, "--data", str(path), "--longitude", str(lon))
    assert code == 1 and "more than 5,000 hours" in err


def test_plain_isd_lite_text_is_recognised_without_format(tmp_path):
    lines, _ = station_lines()
    path = tmp_path / "x-y-2019.txt"
    path.write_text("\r\n".join(lines) + "\r\n")
    assert importers.detect_format(path) == "isd-lite"
    plain, _ = importers.load(path)
    gz, _ = importers.load(write_gz(tmp_path / "x-y-2019.gz", lines))
    for name, values in gz.items():
        np.testing.assert_array_equal(plain[name], values)


def test_station_spread_tells_place_from_weather():
    from model_tools.audit import station_spread

    rng = np.random.default_rng(1)
    station = np.repeat(np.array(["a", "b", "c"]), 500)
    weather = rng.normal(0, 1, 1500)  # every station alike
    offset = {"a": -2.0, "b": 0.0, "c": 2.0}
    place = rng.normal(0, 1, 1500) + np.array([offset[s] for s in station])
    constant = np.full(1500, 3.0)
    spread = station_spread(np.c_[weather, place, constant], station)
    assert spread[0] < 0.1
    # Means -2, 0, 2 (standard deviation 1.63) over unit spread within.
    assert spread[1] == pytest.approx(1.63, abs=0.1)
    assert spread[2] == 0.0
