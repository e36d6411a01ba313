"""The shipped model against the single-station model it replaced, on that
model's own test blocks at Greensboro, window for window.

    .venv/bin/python bench/greensboro_single_station.py   (runtime requirements)

Issue 10 asks that Greensboro's held-out blocks be "no worse than today
(AUC 0.908)". The single-station model (v1, trained on Greensboro's other
blocks of the same typical year) is read from the commit that last shipped
it, with its card and its parity data (its test windows, raw); `git` and the
repository's history are needed. Both INT8 models forecast the same windows;
the difference is bootstrapped over whole weeks, paired. Prints a table and
one JSON line (about 5 s).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from model_tools import pipeline  # noqa: E402
from weatherapp.ai import scores  # noqa: E402
from weatherapp.ai.predictor import RainModel, interpreter_class  # noqa: E402

# The last commit with the single-station model (the next one, 7c62478,
# shipped the 48-station model).
SINGLE_STATION_COMMIT = "08e875f"
RESAMPLES = 2000
LEVEL = 0.9


def from_history(path: str) -> bytes:
    return subprocess.run(
        ["git", "show", f"{SINGLE_STATION_COMMIT}:{path}"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout


def single_station_forecasts() -> tuple[np.ndarray, np.ndarray]:
    """(end times, P(rain within 3 h)) of v1 on its own test windows."""
    card = json.loads(from_history("models/rain_int8.json"))
    reference = np.load(io.BytesIO(from_history("models/rain_int8.parity.npz")))
    interpreter = interpreter_class()(
        model_content=from_history("models/rain_int8.tflite"), num_threads=1
    )
    given, taken = (
        interpreter.get_input_details()[0],
        interpreter.get_output_details()[0],
    )
    mean = np.asarray(card["normalization"]["mean"], np.float32)
    std = np.asarray(card["normalization"]["std"], np.float32)
    # The explicit quantization of weatherapp/ai/predictor.py, with v1's card.
    x = (reference["x"] - mean) / std
    scale, zero = given["quantization"]
    q = np.clip(np.round(x / scale + zero), -128, 127).astype(np.int8)
    interpreter.resize_tensor_input(given["index"], q.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(given["index"], q)
    interpreter.invoke()
    out_scale, out_zero = taken["quantization"]
    out = interpreter.get_tensor(taken["index"]).astype(np.float64).reshape(-1)
    p = np.clip((out - out_zero) * out_scale, 0.0, 1.0)
    return reference["end_times"].astype("datetime64[s]"), p


def paired(
    y: np.ndarray, new: np.ndarray, old: np.ndarray, groups: np.ndarray
) -> tuple[float, float, float]:
    """AUC(new) - AUC(old) and its bootstrap interval over whole groups."""

    # bootstrap_interval resamples (y, p) pairs; indices carry both forecasts.
    def difference(rows: np.ndarray, _: np.ndarray) -> float:
        rows = rows.astype(np.int64)
        return scores.auc(y[rows], new[rows]) - scores.auc(y[rows], old[rows])

    index = np.arange(len(y))
    low, high = scores.bootstrap_interval(
        index, index, difference, groups, resamples=RESAMPLES, level=LEVEL
    )
    return difference(index, index), low, high


def main() -> None:
    old_times, old_p = single_station_forecasts()
    test = pipeline.greensboro_samples().part("test")
    new_p = RainModel().predict(test.x).astype(np.float64)
    # The shipped model scores windows with all six horizons' labels known:
    # a few fewer than v1's 3-hour windows.
    _, i_new, i_old = np.intersect1d(
        test.end_times.astype("datetime64[s]"), old_times, return_indices=True
    )
    y, onset, weeks = test.y[i_new], test.onset[i_new], test.block[i_new]
    new, old = new_p[i_new], old_p[i_old]
    result: dict[str, object] = {
        "windows": len(y),
        "weeks": len(np.unique(weeks)),
        "commit": SINGLE_STATION_COMMIT,
    }
    print(f"{len(y):,} windows in {result['weeks']} weeks, 3 h, INT8 both")
    print(f"{'windows':<10}{'v1':>8}{'shipped':>9}{'shipped - v1':>14}  90 % interval")
    for name, mask in (("all", np.ones(len(y), bool)), ("onset", onset)):
        diff, low, high = paired(y[mask], new[mask], old[mask], weeks[mask])
        row = {
            "v1": scores.auc(y[mask], old[mask]),
            "shipped": scores.auc(y[mask], new[mask]),
            "difference": diff,
            "interval": [low, high],
        }
        result[name] = row
        print(
            f"{name:<10}{row['v1']:>8.3f}{row['shipped']:>9.3f}{diff:>+14.4f}"
            f"  [{low:+.4f}, {high:+.4f}]"
        )
    print(json.dumps({"greensboro_single_station": result}))


if __name__ == "__main__":
    main()
