"""Keras float model -> full-integer INT8 TFLite model (needs TensorFlow)."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

import numpy as np

from weatherapp.ai.predictor import ModelError

REPRESENTATIVE_WINDOWS = 300


def to_int8(model: Any, representative: np.ndarray, seed: int) -> bytes:
    """Quantize every tensor to int8, input and output included.

    ``representative`` are standardized training windows; a seeded random
    subset of REPRESENTATIVE_WINDOWS calibrates the activation ranges. Only
    TFLITE_BUILTINS_INT8 ops are allowed, so an op that cannot be quantized
    fails the conversion instead of silently staying float.
    """
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    size = min(REPRESENTATIVE_WINDOWS, len(representative))
    pick = rng.choice(len(representative), size=size, replace=False)
    calibration = representative[np.sort(pick)].astype(np.float32)

    def dataset():
        for row in calibration:
            yield [row[None, :]]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = dataset
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    # Keras' export prints to stdout, which belongs to the step's result.
    with contextlib.redirect_stdout(sys.stderr):
        try:
            return converter.convert()
        except Exception as exc:  # the converter raises many kinds
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise ModelError(
                f"INT8 conversion failed: {type(exc).__name__}: {first}"
            ) from None


def write(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
