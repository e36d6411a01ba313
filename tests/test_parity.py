"""INT8 vs float parity from the committed reference outputs (no TensorFlow)."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from model_tools import parity
from support import ROOT
from weatherapp.forecast import features

MODELS = ROOT / "models"


def test_committed_int8_model_agrees_with_the_float_model():
    result, broken = parity.check(
        MODELS / "rain_int8.tflite", MODELS / "rain_int8.parity.npz"
    )
    assert broken == []
    assert result["windows"] >= 1000
    assert result["label_agreement"] >= 0.99
    assert result["mean_abs_diff"] <= 0.01
    assert result["auc_diff"] <= 0.005
    assert sorted(result["horizons"], key=int) == ["1", "2", "3", "4", "5", "6"]
    for k, r in result["horizons"].items():
        assert r["label_agreement"] >= 0.99, k
        assert r["mean_abs_diff"] <= 0.01, k
        assert r["auc_diff"] <= 0.005, k
    assert result["monotone_int8"] is True


def test_parity_names_the_windows_whose_inputs_the_int8_input_clips(tmp_path):
    """The worst |dp| lives where a standardized input lies beyond the int8
    input's range; one more such window is counted."""
    model = MODELS / "rain_int8.tflite"
    with np.load(MODELS / "rain_int8.parity.npz") as data:
        reference = {k: data[k] for k in data.files}
    before, _ = parity.check(model, MODELS / "rain_int8.parity.npz")
    clipped = before["clipped"]
    low, high = clipped["range"]
    assert low < -3 and high > 3 and 0 < clipped["windows"] < 0.01 * len(reference["y"])
    assert clipped["mean_abs_diff"] > clipped["mean_abs_diff_rest"]
    column = features.FEATURES.index("pressure_tendency_3h")
    quiet = int(np.argmin(np.abs(reference["x"][:, column])))
    reference["x"][quiet, column] = 1000.0  # hPa in 3 h: far beyond any range
    changed = tmp_path / "changed.npz"
    np.savez(changed, **reference)
    after, _ = parity.check(model, changed)
    assert after["clipped"]["windows"] == clipped["windows"] + 1
    sentence = parity.clipped_sentence(after["clipped"])
    assert sentence.startswith(f"{clipped['windows'] + 1:,} windows (")


def test_the_gate_covers_every_horizon(tmp_path):
    """Reference outputs that differ at 6 h only fail at 6 h only."""
    with np.load(MODELS / "rain_int8.parity.npz") as data:
        reference = {k: data[k] for k in data.files}
    reference["p_float"][:, 5] = np.clip(reference["p_float"][:, 5] + 0.05, 0, 1)
    shifted = tmp_path / "shifted.npz"
    np.savez(shifted, **reference)
    _, broken = parity.check(MODELS / "rain_int8.tflite", shifted)
    assert broken and all(" at 6 h " in b for b in broken)


def test_card_records_what_parity_measures():
    card = json.loads((MODELS / "rain_int8.json").read_text())
    result, _ = parity.check(
        MODELS / "rain_int8.tflite", MODELS / "rain_int8.parity.npz"
    )
    # Recorded with tflite-runtime at conversion; its successor ai-edge-litert
    # rounds a few outputs differently, hence a tolerance.
    assert card["parity"]["mean_abs_diff"] == pytest.approx(
        result["mean_abs_diff"], abs=1e-4
    )
    assert card["parity"]["label_agreement"] == pytest.approx(
        result["label_agreement"], abs=0.002
    )


@pytest.fixture
def broken_copy(tmp_path):
    """A copy of the model whose card's normalization does not match it."""
    model = tmp_path / "rain_int8.tflite"
    shutil.copy(MODELS / "rain_int8.tflite", model)
    card = json.loads((MODELS / "rain_int8.json").read_text())
    card["normalization"]["mean"] = [0.0] * len(card["normalization"]["mean"])
    card["normalization"]["std"] = [1.0] * len(card["normalization"]["std"])
    (tmp_path / "rain_int8.json").write_text(json.dumps(card))
    return model


def test_gate_rejects_a_mismatched_normalization(broken_copy):
    _, broken = parity.check(broken_copy, MODELS / "rain_int8.parity.npz")
    assert any("mean |p_float - p_int8|" in b for b in broken)


def test_cli_exits_non_zero_with_the_failed_table(broken_copy):
    args = [sys.executable, "-m", "model_tools", "parity", "--model", str(broken_copy)]
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 1
    assert "FAILED: mean |p_float - p_int8|" in done.stdout
    assert "Traceback" not in done.stderr


def test_parity_never_imports_tensorflow():
    script = (
        "import sys\n"
        "from model_tools.cli import main\n"
        "assert main(['parity']) == 0\n"
        "assert not any(m.startswith('tensorflow') for m in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True)
    assert done.returncode == 0, done.stderr


def test_cli_passes_on_the_committed_model():
    done = subprocess.run(
        [sys.executable, "-m", "model_tools", "parity", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1])["ok"] is True


def test_cli_missing_file_is_one_line_error(tmp_path):
    args = [
        sys.executable,
        "-m",
        "model_tools",
        "parity",
        "--model",
        str(tmp_path / "x"),
    ]
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr
