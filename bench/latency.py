"""Latency of the INT8 predictor in this process (runtime requirements only).

    .venv/bin/python bench/latency.py [--repeat 5000]

Measures, on the committed model and real windows of the committed data:
first prediction including the lazy interpreter load; one window through the
interpreter (``RainModel.predict``); one window through the whole runtime path
(``predict_rain``: checks, features, standardize, quantize, invoke,
dequantize); and a batch of 1,000 windows in one invoke. Prints a table and,
last, one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from weatherapp.ai.predictor import RainModel, predict_rain  # noqa: E402
from weatherapp.forecast import features  # noqa: E402
from weatherapp.forecast.dataset import read_csv  # noqa: E402

LONGITUDE = -79.95


def timings(call, repeat: int) -> np.ndarray:
    out = np.empty(repeat)
    for i in range(repeat):
        started = time.perf_counter_ns()
        call(i)
        out[i] = time.perf_counter_ns() - started
    return out / 1000.0  # µs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5000)
    args = parser.parse_args()

    hours = read_csv(ROOT / "data" / "greensboro_723170_hourly.csv")
    ends = features.window_ends(hours["time"])
    x = features.features(
        features.stack_windows(hours, ends), hours["time"][ends], LONGITUDE
    )
    model = RainModel()
    started = time.perf_counter()
    model.predict(x[:1])
    first_ms = (time.perf_counter() - started) * 1000

    single = timings(lambda i: model.predict(x[i % len(x)]), args.repeat)
    recent = [
        {k: v[e - features.WINDOW_HOURS + 1 : e + 1] for k, v in hours.items()}
        for e in ends[:500]
    ]
    predict_rain(recent[0], LONGITUDE)  # the module-wide model, loaded
    full = timings(lambda i: predict_rain(recent[i % 500], LONGITUDE), args.repeat)
    batch = x[:1000]
    model.predict(batch)
    batch_us = timings(lambda i: model.predict(batch), 200)

    rows = {
        "first_prediction_ms": round(first_ms, 2),
        "interpreter_single_us": {
            "median": round(float(np.median(single)), 1),
            "p99": round(float(np.percentile(single, 99)), 1),
        },
        "predict_rain_single_us": {
            "median": round(float(np.median(full)), 1),
            "p99": round(float(np.percentile(full, 99)), 1),
        },
        "batch_1000_windows_per_s": round(1000 / (np.median(batch_us) / 1e6)),
        "model_bytes": (ROOT / "models" / "rain_int8.tflite").stat().st_size,
    }
    print(f"{'measure':<40}{'value':>14}")
    print(f"{'first prediction (lazy load), ms':<40}{rows['first_prediction_ms']:>14}")
    for key, label in (
        ("interpreter_single_us", "RainModel.predict, 1 window, µs"),
        ("predict_rain_single_us", "predict_rain (whole path), µs"),
    ):
        r = rows[key]
        print(f"{label:<40}{r['median']:>7} / {r['p99']:<6}  (median / p99)")
    print(
        f"{'batch of 1,000 in one invoke, windows/s':<40}"
        f"{rows['batch_1000_windows_per_s']:>14}"
    )
    print(f"{'model size, bytes':<40}{rows['model_bytes']:>14}")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
