"""Rain model runtime: features (numpy) and the lazy TFLite predictor.

This package's top level stays free of numpy, so that code which only needs
to know *where* the model is (health checks) does not load it.
"""

from pathlib import Path


def card_path(model_path: str | Path) -> Path:
    """The model card beside a ``.tflite`` file: ``x.tflite`` -> ``x.json``."""
    return Path(model_path).with_suffix(".json")
