"""The INT8 rain model, run in-process by tflite-runtime.

The interpreter is created on the first prediction, never at import time and
so never before gunicorn forks: every process builds its own, with one thread
(a dyno has few cores and the model is tiny). A TFLite interpreter is not
thread-safe, so each model serializes ``invoke()`` behind its lock; however
many threads gunicorn runs (gunicorn.conf.py), they then queue for a few
microseconds instead of corrupting state.

Free of Django: callers say which model file to use and may pass a hook that
hears each invoke's duration (the web app counts them for /metrics).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from weatherapp.forecast import features
from weatherapp.forecast.card import ModelError, read_card, verified_bytes

if TYPE_CHECKING:  # numpy.typing is for the checker only, never loaded at runtime
    import numpy.typing as npt

__all__ = [
    "DEFAULT_MODEL_PATH",
    "InvokeHook",
    "ModelError",
    "RainModel",
    "get_model",
    "interpreter_class",
    "loaded_model",
    "predict_rain",
    "predict_rain_batch",
]

DEFAULT_MODEL_PATH = Path(__file__).resolve().parents[2] / "models" / "rain_int8.tflite"

# Called after each invoke with its duration in seconds and the windows scored.
InvokeHook = Callable[[float, int], None]


def interpreter_class() -> type:
    """tflite-runtime where installed, else its successor ai-edge-litert."""
    try:
        from tflite_runtime.interpreter import Interpreter
    except ImportError:
        from ai_edge_litert.interpreter import Interpreter
    cls: type = Interpreter  # neither package ships type information
    return cls


class RainModel:
    """One INT8 model: raw features in, probabilities of rain out."""

    def __init__(
        self,
        model_path: str | Path = DEFAULT_MODEL_PATH,
        on_invoke: InvokeHook | None = None,
    ) -> None:
        self.path = Path(model_path)
        self.card = read_card(self.path)
        normalization = self.card["normalization"]
        self.mean = np.asarray(normalization["mean"], np.float32)
        self.std = np.asarray(normalization["std"], np.float32)
        self.threshold = float(self.card["threshold"])
        # A v2 card lists every horizon the model outputs (hours, ascending);
        # a single-output card has only its horizon_hours.
        self.horizons: tuple[int, ...] = tuple(
            int(k) for k in self.card.get("horizons", [self.card["horizon_hours"]])
        )
        self.default_column = self.horizons.index(int(self.card["horizon_hours"]))
        self.on_invoke = on_invoke
        self._lock = threading.Lock()
        self._interpreter: Any = None
        self._batch = 0

    @property
    def loaded(self) -> bool:
        return self._interpreter is not None

    def _load(self) -> None:
        # Called with the lock held.
        content = verified_bytes(self.path, self.card)
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
        outputs = int(self._output["shape"][-1]) if len(self._output["shape"]) else 1
        if outputs != len(self.horizons):
            raise ModelError(
                f"{self.path}: gives {outputs} outputs, "
                f"the card lists {len(self.horizons)} horizons"
            )
        self._in_scale, self._in_zero = self._input["quantization"]
        self._out_scale, self._out_zero = self._output["quantization"]
        self._interpreter = interpreter
        self._batch = int(self._input["shape"][0])
        interpreter.allocate_tensors()

    def predict(self, raw: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """P(rain within the card's horizon_hours) for a matrix of raw features
        (n, len(FEATURES)), one invoke."""
        column: npt.NDArray[np.float32] = self.predict_horizons(raw)[
            :, self.default_column
        ]
        return column

    def predict_horizons(
        self, raw: npt.ArrayLike, running_max: bool = True
    ) -> npt.NDArray[np.float32]:
        """P(rain within k hours) for every k in ``horizons``: (n, len(horizons)),
        one invoke; non-decreasing along each row (``running_max=False`` gives
        the network's own output, for the parity gate to check)."""
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
            elapsed = time.perf_counter() - started
            out = self._interpreter.get_tensor(self._output["index"])
        if self.on_invoke is not None:
            self.on_invoke(elapsed, len(q))
        p = (out.astype(np.float32) - self._out_zero) * self._out_scale
        p = np.clip(p.reshape(len(q), len(self.horizons)), 0.0, 1.0)
        # The network is monotone in k by construction, also in INT8 (see
        # model_tools/train.py); the running maximum only guards against a
        # model built otherwise and changes nothing for the committed one.
        probabilities: npt.NDArray[np.float32] = (
            np.maximum.accumulate(p, axis=1) if running_max else p
        )
        return probabilities

    def input_range(self) -> tuple[float, float]:
        """The standardized values the int8 input holds; beyond them an
        input is clipped to the nearest end before the network sees it."""
        with self._lock:
            if self._interpreter is None:
                self._load()
        return (
            float((-128 - self._in_zero) * self._in_scale),
            float((127 - self._in_zero) * self._in_scale),
        )

    def info(self) -> dict[str, str]:
        return {"version": self.card["version"], "sha256": self.card["model_sha256"]}


_model: RainModel | None = None
_model_lock = threading.Lock()


def get_model(
    model_path: str | Path | None = None, on_invoke: InvokeHook | None = None
) -> RainModel:
    """The process-wide model of ``model_path`` (default: the ``MODEL_PATH``
    environment variable, else the committed model). Its card is read now,
    its interpreter on first use; another path replaces it."""
    global _model
    path = Path(model_path or os.environ.get("MODEL_PATH") or DEFAULT_MODEL_PATH)
    model = _model
    if model is None or model.path != path:
        with _model_lock:
            if _model is None or _model.path != path:
                _model = RainModel(path, on_invoke)
            model = _model
    if on_invoke is not None:
        model.on_invoke = on_invoke
    return model


def loaded_model() -> RainModel | None:
    """The process-wide model if one was created, without creating it."""
    return _model


def predict_rain(
    hours: Mapping[str, npt.NDArray[Any]],
    longitude: float,
    model: RainModel | None = None,
) -> float:
    """P(rain >= 0.1 mm within the card's horizon_hours, the alert horizon)
    after the newest hour of ``hours``.

    ``hours`` needs at least WINDOW_HOURS consecutive hours (see features.py);
    raises features.FeatureError on bad input, ModelError on a broken model.
    """
    window, end = features.latest_window(hours)
    model = model or get_model()
    return float(
        model.predict(features.features(window[None], np.array([end]), longitude))[0]
    )


def predict_rain_batch(
    windows: npt.ArrayLike,
    end_times: npt.ArrayLike,
    longitudes: npt.NDArray[Any] | float,
    model: RainModel | None = None,
) -> npt.NDArray[np.float32]:
    """P(rain within k hours) for every k of ``model.horizons``, for many
    windows (see features.stack_windows) in one invoke: (n, len(horizons)),
    non-decreasing in k."""
    model = model or get_model()
    return model.predict_horizons(features.features(windows, end_times, longitudes))
