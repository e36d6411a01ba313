"""model_tools: importers, the runtime-only steps, and the CLI's errors."""

import gzip
import json
import re
import subprocess
import sys

import numpy as np
import pytest

from model_tools import importers, paths
from support import DATASET, LONGITUDE, ROOT, open_meteo_body
from weatherapp.forecast import dataset, features
from weatherapp.forecast.dataset import DatasetError


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "model_tools", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def last_json(done: subprocess.CompletedProcess) -> dict:
    return json.loads(done.stdout.strip().splitlines()[-1])


def write_open_meteo(tmp_path, hours, end, n, **changes):
    body = open_meteo_body(hours, end, n=n)
    body.update(changes)
    path = tmp_path / "om.json"
    path.write_text(json.dumps(body))
    return path, body


def test_open_meteo_json_import_honours_units_and_unixtime(tmp_path, hours):
    end = int(features.window_ends(hours["time"])[1000])
    path, body = write_open_meteo(tmp_path, hours, end, 48)
    imported, station = importers.load(path)
    assert station["longitude"] == LONGITUDE
    window = slice(end - 47, end + 1)
    assert np.array_equal(imported["time"], hours["time"][window])
    # km/h in the file, m/s inside.
    np.testing.assert_allclose(
        imported["wind_speed_10m"], hours["wind_speed_10m"][window], atol=1e-3
    )
    body["hourly_units"]["time"] = "unixtime"
    times = np.array(body["hourly"]["time"], dtype="datetime64[s]")
    body["hourly"]["time"] = [int(t) for t in times.astype(np.int64)]
    path.write_text(json.dumps(body))
    again, _ = importers.load(path, "open-meteo")
    assert np.array_equal(again["time"], imported["time"])


def test_a_nan_utc_offset_is_named(tmp_path, hours):
    """Python's json reads NaN: it reached int() ("cannot convert float NaN")."""
    end = int(features.window_ends(hours["time"])[1000])
    path, _ = write_open_meteo(tmp_path, hours, end, 48)
    path.write_text(
        path.read_text().replace('"utc_offset_seconds": 0', '"utc_offset_seconds": NaN')
    )
    done = cli(
        "dataset",
        "--raw",
        str(path),
        "--format",
        "open-meteo",
        "--out",
        str(tmp_path / "o.csv"),
    )
    assert done.returncode == 1
    assert done.stderr == (
        f"error: {path}: utc_offset_seconds: must be a whole number of seconds "
        "within ±18 h\n"
    )


def test_open_meteo_error_body_carries_the_reason(tmp_path):
    path = tmp_path / "err.json"
    path.write_text(
        json.dumps({"error": True, "reason": "Cannot initialize WeatherVariable"})
    )
    with pytest.raises(DatasetError, match="Cannot initialize WeatherVariable"):
        importers.load(path)


def test_tidy_sorts_deduplicates_and_counts_but_drops_nothing(hours):
    part = {k: v[:200].copy() for k, v in hours.items()}
    # Swap two rows, duplicate one, drop two hours, blank values.
    order = np.r_[0:50, 51, 50, 52:100, 100, 100, 101:150, 152:200]
    messy = {k: v[order].copy() for k, v in part.items()}
    messy["temperature_2m"][10] = np.nan
    messy["cloud_cover"][30:32] = np.nan
    messy["relative_humidity_2m"][60] = 250.0  # out of range: missing
    clean, found = importers.tidy(messy)
    assert found == {
        "rows": 199,
        "out_of_order": 1,
        "duplicates": 1,
        "out_of_range": 1,
        "missing": {
            **dict.fromkeys(features.VARIABLES, 0),
            "temperature_2m": 1,
            "cloud_cover": 2,
            "relative_humidity_2m": 1,
        },
        "suspect_months": [],
        "gaps": 1,
        "missing_hours": 2,
    }
    assert len(clean["time"]) == 198  # every row kept, missing values too
    assert (np.diff(clean["time"]) > np.timedelta64(0, "s")).all()
    # Nothing invented here: filling is features.fill_missing's job, the
    # same at runtime.
    assert np.isnan(clean["temperature_2m"][10])
    assert np.isnan(clean["cloud_cover"][30:32]).all()
    assert np.isnan(clean["relative_humidity_2m"][60])
    for end in features.window_ends(clean["time"]):
        span = clean["time"][end] - clean["time"][end - features.WINDOW_HOURS + 1]
        assert span == np.timedelta64(3600 * (features.WINDOW_HOURS - 1), "s")


def test_tidy_refuses_too_few_hours(hours):
    with pytest.raises(DatasetError, match="too few consecutive hours"):
        importers.tidy({k: v[:20] for k, v in hours.items()})


def test_evaluate_on_the_canonical_csv():
    done = cli(
        "evaluate", "--data", str(DATASET), "--longitude", str(LONGITUDE), "--json"
    )
    assert done.returncode == 0, done.stderr
    result = last_json(done)
    assert {"auc", "brier", "bss", "windows", "baselines"} <= set(result)
    # 12 runs of consecutive hours (11 month boundaries), each with
    # len - 24 - 6 + 1 windows followed by six known hours.
    runs = np.diff(
        np.r_[
            0,
            np.flatnonzero(
                np.diff(dataset.read_csv(DATASET)["time"]) != np.timedelta64(3600, "s")
            )
            + 1,
            8760,
        ]
    )
    assert result["candidates"] == int(np.sum(runs - 24 - 6 + 1))
    assert result["windows"] + result["skipped"] == result["candidates"]
    assert result["coverage"] == 1.0 and result["skipped"] == 0
    assert result["auc"] > result["baselines"]["persistence"]["auc"]
    assert result["bss"] > result["baselines"]["persistence"]["bss"] > 0
    assert "tensorflow" not in done.stderr.lower()
    assert "AUC" in done.stdout  # the human table comes first
    assert result["in_training"] and "the shipped model trained on" in done.stdout


def test_evaluate_help_gives_units_and_no_path_of_this_machine():
    done = cli("evaluate", "--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())  # argparse wraps to the terminal
    assert "degrees east (west negative" in text
    assert "(default: None)" not in text and str(ROOT) not in text
    assert "(default: models/rain_int8.tflite)" in text


def test_a_reader_that_stops_reading_gets_no_traceback():
    """`evaluate ... | head -1`: the pipe closes before the output is flushed."""
    args = [sys.executable, "-m", "model_tools", "evaluate", "--data", str(DATASET)]
    args += ["--longitude", str(LONGITUDE)]
    with subprocess.Popen(
        args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as run:
        run.stdout.close()
        err = run.stderr.read().decode()
        assert run.wait(timeout=300) == 1
    assert "Traceback" not in err and "BrokenPipeError" not in err


def test_evaluate_knows_the_model_trained_on_greensboros_typical_year():
    """The raw TMY3 file, not only the committed CSV made from it."""
    done = cli("evaluate", "--data", str(paths.RAW_TMY3), "--json")
    assert done.returncode == 0, done.stderr
    assert last_json(done)["in_training"]
    assert "the shipped model trained on these hours" in done.stdout


def test_evaluate_reads_every_file_given_however_it_is_given():
    files = [
        str(ROOT / "data" / "isd-lite" / f"722020-12839-{y}.gz") for y in (2018, 2019)
    ]
    together = last_json(cli("evaluate", "--data", *files, "--json"))
    repeated = last_json(
        cli("evaluate", "--data", files[0], "--data", files[1], "--json")
    )
    alone = last_json(cli("evaluate", "--data", files[1], "--json"))
    del repeated["seconds"], together["seconds"]
    assert repeated == together
    assert together["windows"] > alone["windows"] + 8000


def test_dataset_reads_every_raw_file_however_it_is_given(tmp_path):
    files = [
        str(ROOT / "data" / "isd-lite" / f"722020-12839-{y}.gz") for y in (2018, 2019)
    ]
    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    assert cli("dataset", "--raw", *files, "--out", str(one)).returncode == 0
    done = cli("dataset", "--raw", files[0], "--raw", files[1], "--out", str(two))
    assert done.returncode == 0, done.stderr
    assert one.read_bytes() == two.read_bytes()
    assert len(dataset.read_csv(one)["time"]) > 17000  # two years of hours


def test_audit_tells_place_from_weather():
    done = cli("audit", "--json")
    assert done.returncode == 0, done.stderr
    result = last_json(done)
    assert result["stations"] == 46 and list(result["spread"]) == list(
        features.FEATURES
    )
    assert result["spread"]["dew_point_mean_24h"] > 0.8  # a climate
    assert result["spread"]["pressure_tendency_3h"] < 0.05  # weather
    assert "dew_point_mean_24h" in done.stdout.splitlines()[1]  # most dependent first


def test_evaluate_on_an_open_meteo_file(tmp_path, hours):
    end = int(features.window_ends(hours["time"])[-1])
    path, _ = write_open_meteo(tmp_path, hours, end, 700)
    done = cli("evaluate", "--data", str(path), "--json")
    assert done.returncode == 0, done.stderr
    result = last_json(done)
    assert result["longitude"] == LONGITUDE
    assert result["windows"] == 700 - 24 - 6 + 1


@pytest.mark.parametrize("longitude", [[1], {}, True, "east"])
def test_evaluate_refuses_a_longitude_that_is_not_a_number(tmp_path, hours, longitude):
    end = int(features.window_ends(hours["time"])[-1])
    path, _ = write_open_meteo(tmp_path, hours, end, 700, longitude=longitude)
    done = cli("evaluate", "--data", str(path), "--json")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "is not a number" in done.stderr


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (None, [], "cannot read"),
        ("time,temperature_2m\n2026-01-01T00:00Z,1\n", [], "missing columns"),
        ("SHORT", ["--longitude", "0"], "too few consecutive hours"),
        ("NORAIN", ["--longitude", "0"], "too few windows to score"),
        ("HEADER", [], "pass --longitude"),
        ('{"hourly": {"time": 5}}', ["--format", "open-meteo"], "hourly.time"),
        ("", [], "the file is empty"),
        ("GZIP", ["--format", "csv"], "a gzip file, which only --format isd-lite"),
    ],
)
def test_evaluate_errors_are_one_line(tmp_path, content, args, message):
    path = tmp_path / "data.csv"
    if content is not None:
        lines = DATASET.read_text().splitlines()
        if content in ("SHORT", "HEADER"):
            content = "\n".join(lines[: 20 if content == "SHORT" else 300]) + "\n"
        elif content == "NORAIN":
            # Precipitation missing in every hour: no window has a label.
            rows = [line.split(",") for line in lines[1:100]]
            for row in rows:
                row[8] = ""
            content = "\n".join([lines[0], *(",".join(r) for r in rows)]) + "\n"
        path.write_text(content)
        if content == "GZIP":
            path.write_bytes(gzip.compress(DATASET.read_bytes()))
    done = cli("evaluate", "--data", str(path), *args)
    assert done.returncode == 1
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "args", [["nosuchstep"], ["evaluate", "--data", "x", "--format", "xls"]]
)
def test_unknown_step_or_format_is_a_usage_error(args):
    done = cli(*args)
    assert done.returncode == 2
    assert "invalid choice" in done.stderr and "Traceback" not in done.stderr


def test_every_step_has_help():
    for step in (
        "dataset",
        "crossval",
        "train",
        "convert",
        "parity",
        "evaluate",
        "inspect",
        "report",
        "all",
    ):
        done = cli(step, "--help")
        assert done.returncode == 0 and "--json" in done.stdout


def test_inspect_with_tflite_runtime_only():
    script = (
        "import sys, json\n"
        "from model_tools.cli import main\n"
        "main(['inspect', '--json'])\n"
        "assert not any(m.startswith('tensorflow') for m in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    result = last_json(done)
    card = json.loads((ROOT / "models" / "rain_int8.json").read_text())
    assert result["inputs"][0]["dtype"] == "int8"
    assert result["outputs"][0]["dtype"] == "int8"
    assert result["inputs"][0]["shape"][-1] == len(features.FEATURES)
    # Dense layers, the concatenation of base logit and increments, sigmoid.
    assert set(result["ops"]) == {"FULLY_CONNECTED", "CONCATENATION", "LOGISTIC"}
    assert result["outputs"][0]["shape"][-1] == len(card["horizons"]) == 6
    assert result["inputs"][0]["scale"] == pytest.approx(
        card["quantization"]["input"]["scale"]
    )
    assert result["bytes"] == card["model_bytes"]


def test_inspect_rejects_a_non_model(tmp_path):
    bad = tmp_path / "x.tflite"
    bad.write_bytes(b"\x00" * 64)
    done = cli("inspect", str(bad))
    assert done.returncode == 1 and done.stderr.startswith("error: cannot load")


def test_inspect_refuses_a_truncated_model_without_crashing(tmp_path):
    """The runtime does not verify the flatbuffer: reading the first 1,000
    bytes of the model killed the process (SIGSEGV or SIGBUS, no message)."""
    bad = tmp_path / "cut.tflite"
    bad.write_bytes((ROOT / "models" / "rain_int8.tflite").read_bytes()[:1000])
    done = cli("inspect", str(bad))
    assert done.returncode == 1, done
    assert done.stderr.startswith(f"error: cannot load {bad}: not a valid TFLite")
    assert len(done.stderr.strip().splitlines()) == 1


def test_parity_refuses_a_file_that_is_not_parity_data(tmp_path):
    bad = tmp_path / "cut.npz"
    bad.write_bytes((ROOT / "models" / "rain_int8.parity.npz").read_bytes()[:500])
    done = cli("parity", "--parity-data", str(bad))
    assert done.returncode == 1
    assert done.stderr == f"error: {bad}: not parity data (File is not a zip file)\n"


def test_report_refuses_a_file_that_is_not_crossval_forecasts(tmp_path):
    bad = tmp_path / "cut.npz"
    bad.write_bytes((ROOT / "models" / "rain_crossval.npz").read_bytes()[:500])
    done = cli("report", "--crossval", str(bad), "--out", str(tmp_path / "r.md"))
    assert done.returncode == 1
    assert done.stderr == (
        f"error: {bad}: not cross-validation forecasts (File is not a zip file)\n"
    )


def test_deeply_nested_open_meteo_json_is_one_line(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text('{"hourly": ' + "[" * 5000 + "]" * 5000 + "}")
    done = cli("evaluate", "--data", str(path), "--format", "open-meteo")
    assert done.returncode == 1
    assert done.stderr == f"error: {path}: not readable JSON (nested too deeply)\n"


def test_report_writes_markdown_and_plots(tmp_path):
    out = tmp_path / "report.md"
    done = cli("report", "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8")
    for heading in (
        "Held-out stations and year",
        "Per horizon",
        "Seed spread",
        "Per station",
        "Greensboro's held-out blocks",
        "Float vs INT8, every horizon",
    ):
        assert heading in text
    # One row per held-out station, one per horizon in the parity table.
    assert sum(bool(re.match(r"\| \d{6} ", line)) for line in text.splitlines()) == 48
    # The committed report is this one: it cannot drift from the committed
    # model, card and forecasts. It is exact because the bootstrap is seeded
    # and the INT8 figures come from the locked tflite-runtime wheel.
    assert text == (ROOT / "docs" / "model-report.md").read_text(encoding="utf-8")
    for name in (
        "roc.png",
        "reliability.png",
        "parity.png",
        "horizons.png",
        "stations.png",
    ):
        assert (tmp_path / "img" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_dataset_step_from_open_meteo_round_trips(tmp_path, hours):
    end = int(features.window_ends(hours["time"])[2000])
    path, _ = write_open_meteo(tmp_path, hours, end, 100)
    out = tmp_path / "canonical.csv"
    done = cli("dataset", "--raw", str(path), "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    again = dataset.read_csv(out)
    window = slice(end - 99, end + 1)
    np.testing.assert_allclose(again["cloud_cover"], hours["cloud_cover"][window])
