"""Float vs INT8 agreement, checked with tflite-runtime only (no TensorFlow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from weatherapp.ai.predictor import RainModel

from . import metrics

THRESHOLDS = {
    "label_agreement_min": 0.99,
    "mean_abs_diff_max": 0.01,
    "auc_diff_max": 0.005,
}


def compare(
    y: np.ndarray, p_float: np.ndarray, p_int8: np.ndarray, threshold: float
) -> dict[str, float]:
    return {
        "windows": int(len(y)),
        "label_agreement": float(
            np.mean((p_float >= threshold) == (p_int8 >= threshold))
        ),
        "mean_abs_diff": float(np.mean(np.abs(p_float - p_int8))),
        "max_abs_diff": float(np.max(np.abs(p_float - p_int8))),
        "auc_float": metrics.roc_auc(y, p_float),
        "auc_int8": metrics.roc_auc(y, p_int8),
        "auc_diff": abs(metrics.roc_auc(y, p_float) - metrics.roc_auc(y, p_int8)),
    }


def failures(result: dict[str, float], limits: dict[str, float]) -> list[str]:
    """The parity thresholds ``result`` breaks, each as a sentence."""
    broken = []
    if not result["label_agreement"] >= limits["label_agreement_min"]:
        broken.append(
            f"label agreement {result['label_agreement']:.4f} < "
            f"{limits['label_agreement_min']}"
        )
    if not result["mean_abs_diff"] <= limits["mean_abs_diff_max"]:
        broken.append(
            f"mean |p_float - p_int8| {result['mean_abs_diff']:.4f} > "
            f"{limits['mean_abs_diff_max']}"
        )
    if not result["auc_diff"] <= limits["auc_diff_max"]:
        broken.append(
            f"|AUC_float - AUC_int8| {result['auc_diff']:.4f} > "
            f"{limits['auc_diff_max']}"
        )
    return broken


def load_reference(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {k: data[k] for k in ("x", "y", "p_float")}


def check(model_path: Path, parity_path: Path) -> tuple[dict[str, float], list[str]]:
    """Run the INT8 model on the held-out windows; (result, broken thresholds)."""
    model = RainModel(model_path)
    reference = load_reference(parity_path)
    p_int8 = model.predict(reference["x"]).astype(np.float64)
    result = compare(reference["y"], reference["p_float"], p_int8, model.threshold)
    limits = model.card.get("parity_thresholds", THRESHOLDS)
    return result, failures(result, limits)
