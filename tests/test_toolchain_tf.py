"""The full path with TensorFlow: retrain and reconvert from the committed dataset.

Each step runs in its own process, as `python -m model_tools all` does.
"""

import json
import subprocess
import sys

import pytest

from support import DATASET, ROOT

pytestmark = pytest.mark.tensorflow
COMMITTED = json.loads((ROOT / "models" / "rain_int8.json").read_text())


def step(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "model_tools", *args, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory):
    """Two independent rebuilds with the default seed."""
    runs = []
    for name in ("a", "b"):
        folder = tmp_path_factory.mktemp(name)
        step("train", "--data", str(DATASET), "--out", str(folder / "float.keras"))
        card = step(
            "convert",
            "--data",
            str(DATASET),
            "--float-model",
            str(folder / "float.keras"),
            "--out",
            str(folder / "rain_int8.tflite"),
            "--parity-data",
            str(folder / "parity.npz"),
        )
        runs.append((folder, card))
    return runs


def test_rebuild_is_reproducible(rebuilt):
    (a, card_a), (b, card_b) = rebuilt
    assert (a / "rain_int8.tflite").read_bytes() == (
        b / "rain_int8.tflite"
    ).read_bytes()
    for name, scores in card_a["metrics"].items():
        for key, value in scores.items():
            assert card_b["metrics"][name][key] == pytest.approx(value, abs=1e-6)


def test_rebuild_matches_the_committed_model_card(rebuilt):
    folder, card = rebuilt[0]
    for name in ("float", "int8"):
        assert card["metrics"][name]["auc"] == pytest.approx(
            COMMITTED["metrics"][name]["auc"], abs=0.02
        )
        assert card["metrics"][name]["bss"] == pytest.approx(
            COMMITTED["metrics"][name]["bss"], abs=0.03
        )
    # The float model beats both baselines on the held-out blocks.
    for base in ("climatology", "persistence"):
        assert card["margins"]["float"][base]["auc"] > 0
        assert card["margins"]["float"][base]["bss"] > 0


def test_rebuild_passes_the_parity_gate(rebuilt):
    folder, _ = rebuilt[0]
    result = step(
        "parity",
        "--model",
        str(folder / "rain_int8.tflite"),
        "--parity-data",
        str(folder / "parity.npz"),
    )
    assert result["ok"] is True


def test_gate_rejects_a_model_quantized_from_unstandardized_inputs(tmp_path):
    out = tmp_path / "broken"
    subprocess.run(
        [sys.executable, "-m", "tests.tf_broken_model", str(out)],
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
    assert "FAILED: mean |p_float - p_int8|" in done.stdout
