"""The steps of `python -m model_tools`: dataset, train, convert, parity."""

from __future__ import annotations

import datetime as dt
import json
import platform
from importlib import metadata
from pathlib import Path

import numpy as np

from weatherapp.ai import card_path, dataset, features
from weatherapp.ai.predictor import file_sha256

from . import importers, metrics, parity, paths
from .samples import BLOCK_CYCLE, BLOCK_DAYS, Samples, make_samples
from .score import score_in_subprocess

# The canonical CSV does not carry its station; the committed one is Greensboro.
DEFAULT_LONGITUDE = -79.95


def step_dataset(raw: Path, out: Path) -> dict:
    """TMY3 file -> canonical hourly CSV (UTC, Open-Meteo names)."""
    hours, station = importers.read_tmy3(raw)
    order = np.argsort(hours["time"], kind="stable")
    hours = {k: v[order] for k, v in hours.items()}
    for name in features.VARIABLES:
        if np.isnan(hours[name]).any():
            raise dataset.DatasetError(f"{raw}: {name} has missing values")
    out.parent.mkdir(parents=True, exist_ok=True)
    dataset.write_csv(hours, out)
    return {
        "rows": int(len(hours["time"])),
        "windows": int(len(features.window_ends(hours["time"]))),
        "rain_hours": int(np.sum(hours["precipitation"] >= features.RAIN_MM)),
        "station": station,
        "source_sha256": file_sha256(raw),
        "sha256": file_sha256(out),
        "path": str(out),
    }


def load_samples(data_path: Path, longitude: float) -> Samples:
    return make_samples(dataset.read_csv(data_path), longitude)


def step_train(data_path: Path, out: Path, longitude: float, progress: bool) -> dict:
    from . import train

    data = load_samples(data_path, longitude)
    model, norm = train.train(data, out, progress=progress)
    test = data.part("test")
    p = train.predict_float(
        model, features.standardize(test.x, norm["mean"], norm["std"])
    )
    return {"float_model": str(out), "test_auc": metrics.roc_auc(test.y, p)}


def baselines(data: Samples, test: Samples) -> dict[str, np.ndarray]:
    """Climatology and persistence, each fitted on the training blocks."""
    train_part = data.part("train")
    rained = FEATURE_INDEX["hours_since_rain"]
    wet_train = train_part.x[:, rained] == 0
    wet_test = test.x[:, rained] == 0
    p_wet = float(train_part.y[wet_train].mean()) if wet_train.any() else 0.0
    p_dry = float(train_part.y[~wet_train].mean())
    return {
        "climatology": np.full(len(test.y), float(train_part.y.mean())),
        "persistence": np.where(wet_test, p_wet, p_dry),
    }


FEATURE_INDEX = {name: i for i, name in enumerate(features.FEATURES)}


def step_convert(
    data_path: Path, float_path: Path, out: Path, parity_path: Path, longitude: float
) -> dict:
    """Quantize, then write the .tflite file, its model card and the parity data."""
    import keras
    import tensorflow as tf

    from . import convert, train

    data = load_samples(data_path, longitude)
    train_part, val_part, test = (data.part(n) for n in ("train", "validation", "test"))
    model = keras.models.load_model(float_path)
    norm = train.normalization(train_part)

    def float_p(part: Samples) -> np.ndarray:
        return train.predict_float(model, features.standardize(part.x, **norm))

    threshold = metrics.best_f1_threshold(val_part.y, float_p(val_part))
    convert.write(
        out,
        convert.to_int8(model, features.standardize(train_part.x, **norm), train.SEED),
    )

    p_float_test = float_p(test)
    climate = float(train_part.y.mean())
    # A provisional card lets RainModel load the new file for the comparison.
    card = {
        "version": "",
        "model_sha256": file_sha256(out),
        "features": list(features.FEATURES),
        "normalization": norm,
        "threshold": threshold,
    }
    card_path(out).write_text(json.dumps(card))
    scored = score_in_subprocess(out, test.x)
    p_int8_test = scored["p"]
    np.savez_compressed(
        parity_path,
        x=test.x,
        y=test.y,
        p_float=p_float_test,
        end_times=test.end_times.astype(np.int64),
    )
    agreement = parity.compare(test.y, p_float_test, p_int8_test, threshold)
    forecasts = {"float": p_float_test, "int8": p_int8_test, **baselines(data, test)}
    today = dt.datetime.now(dt.UTC)
    card = {
        "version": f"{today:%Y.%m.%d}-{card['model_sha256'][:8]}",
        "created": today.isoformat(timespec="seconds"),
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
        "metrics": {
            name: metrics.scores(test.y, p, threshold, climate)
            for name, p in forecasts.items()
        },
        "parity": agreement,
        "parity_thresholds": parity.THRESHOLDS,
        "windows": {
            "train": len(train_part.y),
            "validation": len(val_part.y),
            "test": len(test.y),
            "test_rain_share": float(test.y.mean()),
        },
        "model_sha256": card["model_sha256"],
        "model_bytes": out.stat().st_size,
        "float_model_sha256": file_sha256(float_path),
        "parity_data_sha256": file_sha256(parity_path),
        "dataset": {
            "path": _relative(data_path),
            "sha256": file_sha256(data_path),
            "longitude": longitude,
        },
        "training": {
            "seed": train.SEED,
            "split": (
                f"{BLOCK_DAYS}-day blocks; of every {BLOCK_CYCLE}: 1 test, "
                f"1 validation, {BLOCK_CYCLE - 2} train"
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
