"""Score raw features with an INT8 model in a process of its own.

TensorFlow and tflite-runtime each bundle the TFLite kernels; loaded into one
process they clash (``Interpreter()`` fails with "vector::reserve"). The
convert step therefore runs the runtime's predictor here, in a fresh
interpreter process: ``python -m model_tools.score MODEL IN.npy OUT.npz``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np


def score_in_subprocess(model_path: Path, x: np.ndarray) -> dict[str, np.ndarray]:
    """Probabilities (n, horizons) as the network gives them (no running
    maximum) and the tensors' quantization, computed by tflite-runtime."""
    with tempfile.TemporaryDirectory() as tmp:
        x_path, out_path = Path(tmp) / "x.npy", Path(tmp) / "out.npz"
        np.save(x_path, x)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "model_tools.score",
                str(model_path),
                str(x_path),
                str(out_path),
            ],
            check=True,
        )
        with np.load(out_path) as out:
            return {k: out[k] for k in out.files}


def main(model_path: str, x_path: str, out_path: str) -> None:
    from weatherapp.ai.predictor import RainModel

    model = RainModel(model_path)
    p = model.predict_horizons(np.load(x_path), running_max=False)
    np.savez(
        out_path,
        p=p.astype(np.float64),
        input_quantization=np.array(model._input["quantization"], dtype=np.float64),
        output_quantization=np.array(model._output["quantization"], dtype=np.float64),
    )


if __name__ == "__main__":
    main(*sys.argv[1:4])
