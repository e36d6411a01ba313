"""The INT8 rain model, run in-process by tflite-runtime.

The interpreter is created on the first prediction, never at import time and
so never before gunicorn forks: every process builds its own, with one thread
(a dyno has few cores and the model is tiny). A TFLite interpreter is not
thread-safe, so each model serializes ``invoke()`` behind its lock; gunicorn's
``--threads 2`` then queue for a few microseconds instead of corrupting state.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .. import metrics
from . import card_path, features

DEFAULT_MODEL_PATH = Path(__file__).resolve().parents[2] / "models" / "rain_int8.tflite"


class ModelError(RuntimeError):
    """The model file or its card is missing, unreadable or inconsistent."""


def load_card(model_path: str | Path) -> dict[str, Any]:
    path = card_path(model_path)
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"model card {path}: {exc}") from None
    if list(card.get("features", [])) != list(features.FEATURES):
        raise ModelError(f"model card {path}: features differ from this code's")
    return card


def interpreter_class() -> type:
    """tflite-runtime where installed, else its successor ai-edge-litert."""
    try:
        from tflite_runtime.interpreter import Interpreter
    except ImportError:
        from ai_edge_litert.interpreter import Interpreter
    return Interpreter


class RainModel:
    """One INT8 model: raw features in, probabilities of rain out."""

    def __init__(self, model_path: str | Path = DEFAULT_MODEL_PATH) -> None:
        self.path = Path(model_path)
        self.card = load_card(self.path)
        normalization = self.card["normalization"]
        self.mean = np.asarray(normalization["mean"], np.float32)
        self.std = np.asarray(normalization["std"], np.float32)
        self.threshold = float(self.card["threshold"])
        self._lock = threading.Lock()
        self._interpreter = None
        self._batch = 0

    @property
    def loaded(self) -> bool:
        return self._interpreter is not None

    def _load(self) -> None:
        # Called with the lock held. tflite-runtime can crash the process on a
        # malformed flatbuffer, so only bytes the card vouches for reach it.
        try:
            content = self.path.read_bytes()
        except OSError as exc:
            raise ModelError(f"cannot load {self.path}: {exc}") from None
        if hashlib.sha256(content).hexdigest() != self.card.get("model_sha256"):
            raise ModelError(f"{self.path.name} does not match its model card")
        try:
            interpreter = interpreter_class()(model_content=content, num_threads=1)
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"cannot load {self.path}: {exc}") from None
        self._input = interpreter.get_input_details()[0]
        self._output = interpreter.get_output_details()[0]
        if self._input["dtype"] != np.int8 or self._output["dtype"] != np.int8:
            raise ModelError(f"{self.path}: input and output must be int8")
        if self._input["shape"][-1] != len(features.FEATURES):
            raise ModelError(
                f"{self.path}: takes {self._input['shape'][-1]} features, "
                f"the card lists {len(features.FEATURES)}"
            )
        self._in_scale, self._in_zero = self._input["quantization"]
        self._out_scale, self._out_zero = self._output["quantization"]
        self._interpreter = interpreter
        self._batch = int(self._input["shape"][0])
        interpreter.allocate_tensors()

    def predict(self, raw: np.ndarray) -> np.ndarray:
        """Probabilities for a matrix of raw features (n, len(FEATURES)), one invoke."""
        x = features.standardize(np.atleast_2d(raw), self.mean, self.std)
        with self._lock:
            if self._interpreter is None:
                self._load()
            q = np.round(x / self._in_scale + self._in_zero)
            q = np.clip(q, -128, 127).astype(np.int8)
            if len(q) != self._batch:
                self._interpreter.resize_tensor_input(self._input["index"], q.shape)
                self._interpreter.allocate_tensors()
                self._batch = len(q)
            self._interpreter.set_tensor(self._input["index"], q)
            started = time.perf_counter()
            self._interpreter.invoke()
            metrics.observe_inference(time.perf_counter() - started, len(q))
            out = self._interpreter.get_tensor(self._output["index"])
        p = (out.astype(np.float32) - self._out_zero) * self._out_scale
        return np.clip(p.reshape(-1), 0.0, 1.0)

    def info(self) -> dict[str, str]:
        return {"version": self.card["version"], "sha256": self.card["model_sha256"]}


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


_model: RainModel | None = None
_model_lock = threading.Lock()


def get_model() -> RainModel:
    """The process-wide model (its card is read now, its interpreter on first use)."""
    global _model
    if _model is None:
        with _model_lock:
            if _model is None:
                _model = RainModel(_configured_path())
    return _model


def loaded_model() -> RainModel | None:
    """The process-wide model if one was created, without creating it."""
    return _model


def _configured_path() -> Path:
    from django.conf import settings

    if settings.configured:
        return Path(settings.MODEL_PATH)
    return DEFAULT_MODEL_PATH


def predict_rain(hours: Mapping[str, np.ndarray], longitude: float) -> float:
    """P(rain >= 0.1 mm within the horizon) after the newest hour of ``hours``.

    ``hours`` needs at least WINDOW_HOURS consecutive hours (see features.py);
    raises features.FeatureError on bad input, ModelError on a broken model.
    """
    features.check_hours(hours)
    n = len(hours["time"])
    if n < features.WINDOW_HOURS:
        raise features.FeatureError(
            "time", f"needs {features.WINDOW_HOURS} consecutive hours, got {n}"
        )
    windows = features.stack_windows(hours, [n - 1])
    end_times = np.asarray(hours["time"], dtype="datetime64[s]")[-1:]
    return float(predict_rain_batch(windows, end_times, longitude)[0])


def predict_rain_batch(
    windows: np.ndarray, end_times: np.ndarray, longitudes: np.ndarray | float
) -> np.ndarray:
    """Probabilities for many windows (see features.stack_windows) in one invoke."""
    return get_model().predict(features.features(windows, end_times, longitudes))
