"""The full path with TensorFlow: retrain and reconvert from the committed data.

Each step runs in its own process, as `python -m model_tools all` does. The
cross-validation (12 fits) is not rerun here: convert reads the committed
out-of-fold forecasts for its thresholds.
"""

import json
import subprocess
import sys

import pytest

from support import ROOT

# Two retrains and reconversions take minutes on 2 cores.
pytestmark = [pytest.mark.tensorflow, pytest.mark.timeout(1800)]
COMMITTED = json.loads((ROOT / "models" / "rain_int8.json").read_text())


def step(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "model_tools", *args, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory):
    """Two independent rebuilds with the default seed."""
    runs = []
    for name in ("a", "b"):
        folder = tmp_path_factory.mktemp(name)
        step("train", "--out", str(folder / "float.keras"))
        step(
            "convert",
            "--float-model",
            str(folder / "float.keras"),
            "--out",
            str(folder / "rain_int8.tflite"),
            "--parity-data",
            str(folder / "parity.npz"),
        )
        card = json.loads((folder / "rain_int8.json").read_text())
        runs.append((folder, card))
    return runs


def test_rebuild_is_reproducible(rebuilt):
    (a, card_a), (b, card_b) = rebuilt
    assert (a / "rain_int8.tflite").read_bytes() == (
        b / "rain_int8.tflite"
    ).read_bytes()
    assert card_a["parity"] == card_b["parity"]


def test_rebuild_matches_the_committed_model_card(rebuilt):
    _, card = rebuilt[0]
    for key in ("horizons", "horizon_hours", "threshold", "thresholds", "features"):
        assert card[key] == COMMITTED[key]
    mine = card["metrics"]["greensboro_int8"]
    committed = COMMITTED["metrics"]["greensboro_int8"]
    assert mine["auc"] == pytest.approx(committed["auc"], abs=0.01)
    assert mine["onset"]["auc"] == pytest.approx(committed["onset"]["auc"], abs=0.01)
    for name, stats in card["feature_stats"].items():
        assert len(stats["edges"]) == 9 and len(stats["shares"]) == 10, name
        assert sum(stats["shares"]) == pytest.approx(1.0)


def test_rebuild_passes_the_parity_gate_at_every_horizon(rebuilt):
    folder, _ = rebuilt[0]
    result = step(
        "parity",
        "--model",
        str(folder / "rain_int8.tflite"),
        "--parity-data",
        str(folder / "parity.npz"),
    )
    assert result["ok"] is True
    assert sorted(result["horizons"], key=int) == ["1", "2", "3", "4", "5", "6"]
    assert result["monotone_int8"] is True


# A deliberately broken INT8 model: its float model standardizes inside its
# graph, so it is a good float model; but its int8 input tensor then has to
# cover raw features of very different ranges (pressure tendency, humidity, a
# sine) with one scale. Same six monotone outputs as the real one.
BROKEN = """
import json, sys
import numpy as np
from model_tools import convert, isd, paths, train
from weatherapp.forecast.card import file_sha256
out = sys.argv[1]
data = isd.all_samples()
rng = np.random.default_rng(1)
pick = rng.choice(len(data.y), 200000, replace=False)
x, labels = data.x[pick], data.labels[pick]
norm = train.normalization(x)
keras = train._keras(1)
inner = train.build_model(keras, x.shape[1])
inputs = keras.Input((x.shape[1],))
scaled = keras.layers.Normalization(
    mean=norm["mean"], variance=np.square(norm["std"])
)(inputs)
model = keras.Model(inputs, inner(scaled))
model.compile(optimizer="adam", loss="binary_crossentropy")
model.fit(x, labels.astype("float32"), epochs=2, batch_size=1024, verbose=0)
with open(f"{out}.tflite", "wb") as f:
    f.write(convert.to_int8(model, x, 1))
test = np.arange(len(data.y))[::50]
np.savez(f"{out}.npz", x=data.x[test], y=data.labels[test],
         p_float=train.predict_float(model, data.x[test]))
card = json.loads(paths.INT8_MODEL.with_suffix(".json").read_text())
card["model_sha256"] = file_sha256(f"{out}.tflite")
n = len(card["features"])
card["normalization"] = {"mean": [0.0] * n, "std": [1.0] * n}
with open(f"{out}.json", "w") as f:
    json.dump(card, f)
"""


def test_gate_rejects_a_model_quantized_from_unstandardized_inputs(tmp_path):
    out = tmp_path / "broken"
    subprocess.run(
        [sys.executable, "-c", BROKEN, str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=900,
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "model_tools",
            "parity",
            "--model",
            f"{out}.tflite",
            "--parity-data",
            f"{out}.npz",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    # Every horizon is checked, and more than one fails.
    failed = [line for line in done.stdout.splitlines() if line.startswith("FAILED")]
    assert (
        len({line.split(" at ")[1].split()[0] for line in failed if " at " in line}) > 1
    )
    assert "FAILED: mean |p_float - p_int8| at 3 h" in done.stdout
