"""The steps of `python -m model_tools`; each returns a JSON-able result."""

from __future__ import annotations

import datetime as dt
import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from weatherapp.ai.predictor import ModelError, RainModel
from weatherapp.forecast import dataset, features
from weatherapp.forecast.card import card_path, file_sha256

from . import importers, metrics, parity, paths
from .samples import BLOCK_CYCLE, BLOCK_DAYS, Samples, make_samples
from .score import score_in_subprocess

# The canonical CSV does not carry its station; the committed one is Greensboro.
DEFAULT_LONGITUDE = -79.95
RAINED_LAST_HOUR = features.FEATURES.index("hours_since_rain")


def step_dataset(raw: Path, out: Path, fmt: str | None = None) -> dict:
    """Any supported file -> canonical hourly CSV (UTC, Open-Meteo names)."""
    hours, station = importers.load(raw, fmt)
    hours, found = importers.tidy(hours)
    out.parent.mkdir(parents=True, exist_ok=True)
    dataset.write_csv(hours, out)
    return {
        "rows": int(len(hours["time"])),
        "windows": int(len(features.window_ends(hours["time"]))),
        "rain_hours": int(np.sum(hours["precipitation"] >= features.RAIN_MM)),
        "found": found,
        "station": station,
        "source_sha256": file_sha256(raw),
        "sha256": file_sha256(out),
        "path": str(out),
    }


def load_samples(data_path: Path, longitude: float) -> Samples:
    return make_samples(dataset.read_csv(data_path), longitude)


def step_train(
    data_path: Path, out: Path, longitude: float, seed: int, progress: bool
) -> dict:
    from . import train

    data = load_samples(data_path, longitude)
    model, norm = train.train(data, out, seed=seed, progress=progress)
    test = data.part("test")
    p = train.predict_float(model, features.standardize(test.x, **norm))
    return {"float_model": str(out), "test_auc_float": metrics.roc_auc(test.y, p)}


def fit_baselines(part: Samples) -> dict:
    """Climatology and persistence ("it rained in the last hour") fitted on ``part``."""
    wet = part.x[:, RAINED_LAST_HOUR] == 0
    return {
        "climatology": float(part.y.mean()),
        "persistence": {
            "after_rain": float(part.y[wet].mean()) if wet.any() else 0.0,
            "after_dry": float(part.y[~wet].mean()) if (~wet).any() else 0.0,
        },
    }


def baseline_forecasts(fitted: dict, x: np.ndarray) -> dict[str, np.ndarray]:
    wet = x[:, RAINED_LAST_HOUR] == 0
    persistence = fitted["persistence"]
    return {
        "climatology": np.full(len(x), fitted["climatology"]),
        "persistence": np.where(
            wet, persistence["after_rain"], persistence["after_dry"]
        ),
    }


def score_all(
    y: np.ndarray,
    forecasts: dict[str, np.ndarray],
    threshold: float,
    climatology: float,
) -> dict[str, dict]:
    return {
        name: metrics.scores(y, p, threshold, climatology)
        for name, p in forecasts.items()
    }


def margins(scores: dict[str, dict], model: str) -> dict[str, dict]:
    """How much ``model`` beats each baseline, in AUC and Brier skill."""
    return {
        base: {
            "auc": scores[model]["auc"] - scores[base]["auc"],
            "bss": scores[model]["bss"] - scores[base]["bss"],
        }
        for base in ("climatology", "persistence")
    }


def step_convert(
    data_path: Path,
    float_path: Path,
    out: Path,
    parity_path: Path,
    longitude: float,
    seed: int,
) -> dict:
    """Quantize, then write the .tflite file, its model card and the parity data."""
    import keras
    import tensorflow as tf

    from . import convert, train

    data = load_samples(data_path, longitude)
    train_part, val_part, test = (data.part(n) for n in ("train", "validation", "test"))
    try:
        model = keras.models.load_model(float_path)
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load the float model {float_path}: {exc}") from None
    norm = train.normalization(train_part)

    def float_p(part: Samples) -> np.ndarray:
        return train.predict_float(model, features.standardize(part.x, **norm))

    threshold = metrics.best_f1_threshold(val_part.y, float_p(val_part))
    representative = features.standardize(train_part.x, **norm)
    convert.write(out, convert.to_int8(model, representative, seed))

    p_float_test = float_p(test)
    # A provisional card lets the runtime load the new file for scoring.
    provisional: dict[str, Any] = {
        "version": "",
        "model_sha256": file_sha256(out),
        "features": list(features.FEATURES),
        "normalization": norm,
        "threshold": threshold,
    }
    card_path(out).write_text(json.dumps(provisional))
    scored = score_in_subprocess(out, test.x)
    p_int8_test = scored["p"]
    np.savez_compressed(
        parity_path,
        x=test.x,
        y=test.y,
        p_float=p_float_test,
        end_times=test.end_times.astype(np.int64),
    )
    fitted = fit_baselines(train_part)
    forecasts = {
        "float": p_float_test,
        "int8": p_int8_test,
        **baseline_forecasts(fitted, test.x),
    }
    scores = score_all(test.y, forecasts, threshold, fitted["climatology"])
    created = dt.datetime.now(dt.UTC)
    card = {
        "version": f"{created:%Y.%m.%d}-{provisional['model_sha256'][:8]}",
        "created": created.isoformat(timespec="seconds"),
        "task": (
            f"P(precipitation >= {features.RAIN_MM} mm in any of the "
            f"{features.HORIZON_HOURS} hours after the window's last hour)"
        ),
        "window_hours": features.WINDOW_HOURS,
        "horizon_hours": features.HORIZON_HOURS,
        "rain_mm": features.RAIN_MM,
        "variables": list(features.VARIABLES),
        "features": list(features.FEATURES),
        "normalization": norm,
        "quantization": {
            "input": _quantization(scored["input_quantization"]),
            "output": _quantization(scored["output_quantization"]),
        },
        "threshold": threshold,
        "metrics": scores,
        "margins": {"float": margins(scores, "float"), "int8": margins(scores, "int8")},
        "baselines": fitted,
        "parity": parity.compare(test.y, p_float_test, p_int8_test, threshold),
        "parity_thresholds": parity.THRESHOLDS,
        "windows": {
            "train": len(train_part.y),
            "validation": len(val_part.y),
            "test": len(test.y),
            "test_rain_share": float(test.y.mean()),
        },
        "model_sha256": provisional["model_sha256"],
        "model_bytes": out.stat().st_size,
        "float_model_sha256": file_sha256(float_path),
        "parity_data_sha256": file_sha256(parity_path),
        "dataset": {
            "path": _relative(data_path),
            "sha256": file_sha256(data_path),
            "longitude": longitude,
        },
        "training": {
            "seed": seed,
            "split": (
                f"{BLOCK_DAYS}-day blocks; of every {BLOCK_CYCLE}: 1 test, "
                f"1 validation, {BLOCK_CYCLE - 2} train; no sample straddles a block"
            ),
            "representative_windows": convert.REPRESENTATIVE_WINDOWS,
            "threshold_rule": "max F1 of the float model on the validation blocks",
        },
        "versions": {
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "numpy": np.__version__,
            "tflite_runtime": _version("tflite-runtime"),
        },
    }
    card_path(out).write_text(json.dumps(card, indent=2) + "\n")
    return card


def _quantization(pair: np.ndarray) -> dict:
    scale, zero_point = pair
    return {"scale": float(scale), "zero_point": int(zero_point), "dtype": "int8"}


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _relative(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(paths.ROOT))
    except ValueError:
        return str(path)


def step_parity(model_path: Path, parity_path: Path) -> tuple[dict, list[str]]:
    return parity.check(model_path, parity_path)


def step_evaluate(
    data_path: Path, fmt: str | None, longitude: float | None, model_path: Path
) -> dict:
    """Score the INT8 model (tflite-runtime only) on anyone's hourly data.

    The baselines are fitted on the evaluated data itself, which flatters them:
    a model that beats them there beats them honestly.
    """
    hours, station = importers.load(data_path, fmt)
    hours, found = importers.tidy(hours)
    if longitude is None:
        longitude = station.get("longitude")
    if longitude is None:
        raise dataset.DatasetError(
            f"{data_path}: the file has no station longitude; pass --longitude"
        )
    data = make_samples(hours, float(longitude), split=False)
    if len(data.y) == 0 or data.y.min() == data.y.max():
        raise dataset.DatasetError(
            f"{data_path}: needs windows with and without rain to score "
            f"({len(data.y)} windows, {int(data.y.sum())} rainy)"
        )
    model = RainModel(model_path)
    fitted = fit_baselines(data)
    forecasts = {
        "int8": model.predict(data.x).astype(np.float64),
        **baseline_forecasts(fitted, data.x),
    }
    scores = score_all(data.y, forecasts, model.threshold, fitted["climatology"])
    candidates = max(
        0, len(hours["time"]) - features.WINDOW_HOURS - features.HORIZON_HOURS + 1
    )
    return {
        **{k: scores["int8"][k] for k in ("auc", "brier", "bss")},
        "threshold": model.threshold,
        "at_threshold": {
            k: scores["int8"][k]
            for k in ("precision", "recall", "f1", "tp", "fp", "fn")
        },
        "baselines": {name: scores[name] for name in ("climatology", "persistence")},
        "margins": margins(scores, "int8"),
        "windows": int(len(data.y)),
        "skipped": int(max(0, candidates - len(data.y))),
        "rain_share": float(data.y.mean()),
        "found": found,
        "longitude": float(longitude),
        "model": model.info(),
    }


def step_inspect(model_path: Path) -> dict:
    """Tensors, quantization, ops and size of any .tflite file (tflite-runtime)."""
    from weatherapp.ai.predictor import interpreter_class

    try:
        interpreter = interpreter_class()(model_path=str(model_path), num_threads=1)
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise ModelError(f"cannot load {model_path}: {exc}") from None

    def tensor(detail: dict) -> dict:
        scale, zero_point = detail["quantization"]
        return {
            "index": int(detail["index"]),
            "name": detail["name"],
            "dtype": np.dtype(detail["dtype"]).name,
            "shape": [int(d) for d in detail["shape_signature"]],
            "scale": float(scale),
            "zero_point": int(zero_point),
        }

    ops = [op["op_name"] for op in interpreter._get_ops_details()]
    return {
        "path": str(model_path),
        "bytes": Path(model_path).stat().st_size,
        "sha256": file_sha256(model_path),
        "inputs": [tensor(d) for d in interpreter.get_input_details()],
        "outputs": [tensor(d) for d in interpreter.get_output_details()],
        "ops": ops,
        "tensors": [tensor(d) for d in interpreter.get_tensor_details()],
    }
