"""Float vs INT8 agreement at every horizon, checked with tflite-runtime only
(no TensorFlow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from weatherapp.ai import scores
from weatherapp.ai.predictor import RainModel
from weatherapp.forecast import features

from . import npz

THRESHOLDS = {
    "label_agreement_min": 0.99,
    "mean_abs_diff_max": 0.01,
    "auc_diff_max": 0.005,
}


def compare(
    y: np.ndarray, p_float: np.ndarray, p_int8: np.ndarray, threshold: float
) -> dict[str, float]:
    """Agreement of one horizon's probabilities."""
    auc_float, auc_int8 = scores.auc(y, p_float), scores.auc(y, p_int8)
    return {
        "windows": int(len(y)),
        "label_agreement": float(
            np.mean((p_float >= threshold) == (p_int8 >= threshold))
        ),
        "mean_abs_diff": float(np.mean(np.abs(p_float - p_int8))),
        "max_abs_diff": float(np.max(np.abs(p_float - p_int8))),
        "auc_float": auc_float,
        "auc_int8": auc_int8,
        "auc_diff": abs(auc_float - auc_int8),
    }


def compare_horizons(
    y: np.ndarray,
    p_float: np.ndarray,
    p_int8: np.ndarray,
    horizons: tuple[int, ...],
    thresholds: dict[str, float],
    default: int,
) -> dict:
    """compare() at every horizon (columns of the 2-D arrays); the top level
    holds the default horizon's figures, ``horizons`` every one's."""
    y, p_float, p_int8 = (
        np.asarray(a).reshape(len(a), -1) for a in (y, p_float, p_int8)
    )
    per = {
        str(k): compare(y[:, j], p_float[:, j], p_int8[:, j], thresholds[str(k)])
        for j, k in enumerate(horizons)
    }
    steps = np.diff(p_int8, axis=1)
    return {
        **per[str(default)],
        "horizons": per,
        "monotone_int8": bool(np.all(steps >= 0)) if steps.size else True,
    }


def clipping(
    x: np.ndarray,
    model: RainModel,
    p_float: np.ndarray,
    p_int8: np.ndarray,
) -> dict:
    """Windows with an input beyond what the int8 input holds (one scale for
    every standardized feature): how many, which features, and how far INT8
    strays there. Reported, not gated: the worst |dp| lives in these."""
    low, high = model.input_range()
    z = features.standardize(x, model.mean, model.std)
    outside = (z < low) | (z > high)
    clipped = outside.any(axis=1)
    diff = np.abs(p_float - p_int8).reshape(len(x), -1)
    counts = outside.sum(axis=0)
    return {
        "range": [low, high],
        "windows": int(clipped.sum()),
        "share": float(clipped.mean()),
        "mean_abs_diff": float(diff[clipped].mean()) if clipped.any() else None,
        "mean_abs_diff_rest": float(diff[~clipped].mean()),
        "features": {
            features.FEATURES[i]: int(counts[i])
            for i in np.argsort(-counts, kind="stable")[:3]
            if counts[i]
        },
    }


def clipped_sentence(clipped: dict) -> str:
    """clipping() in words, for the parity step and the report."""
    low, high = clipped["range"]
    span = f"{low:+.1f} to {high:+.1f} standard deviations"
    if not clipped["windows"]:
        return f"No window has an input beyond the int8 input's range ({span})."
    which = ", ".join(f"{name} ({n:,})" for name, n in clipped["features"].items())
    return (
        f"{clipped['windows']:,} windows ({clipped['share']:.2%}) have an input "
        f"beyond the int8 input's range ({span}), most often {which}; INT8 "
        f"differs from float by {clipped['mean_abs_diff']:.4f} on average there, "
        f"{clipped['mean_abs_diff_rest']:.4f} elsewhere (reported, not gated)."
    )


def failures(result: dict, limits: dict[str, float]) -> list[str]:
    """The parity thresholds ``result`` breaks, each as a sentence (every
    horizon of a multi-horizon result)."""
    per = result.get("horizons") or {"": result}
    broken = []
    for k, r in per.items():
        at = f" at {k} h" if k else ""
        if not r["label_agreement"] >= limits["label_agreement_min"]:
            broken.append(
                f"label agreement{at} {r['label_agreement']:.4f} < "
                f"{limits['label_agreement_min']}"
            )
        if not r["mean_abs_diff"] <= limits["mean_abs_diff_max"]:
            broken.append(
                f"mean |p_float - p_int8|{at} {r['mean_abs_diff']:.4f} > "
                f"{limits['mean_abs_diff_max']}"
            )
        if not r["auc_diff"] <= limits["auc_diff_max"]:
            broken.append(
                f"|AUC_float - AUC_int8|{at} {r['auc_diff']:.4f} > "
                f"{limits['auc_diff_max']}"
            )
    if result.get("monotone_int8") is False:
        broken.append("INT8 probabilities decrease with the horizon")
    return broken


def load_reference(path: Path) -> dict[str, np.ndarray]:
    return npz.load(path, ("x", "y", "p_float"), "parity data")


def model_thresholds(model: RainModel) -> dict[str, float]:
    given = model.card.get("thresholds") or {}
    return {str(k): float(given.get(str(k), model.threshold)) for k in model.horizons}


def check(model_path: Path, parity_path: Path) -> tuple[dict, list[str]]:
    """Run the INT8 model on the reference windows; (result, broken thresholds)."""
    model = RainModel(model_path)
    reference = load_reference(parity_path)
    n = len(reference["x"])
    # Without the runtime's running maximum: the gate checks the network.
    p_int8 = model.predict_horizons(reference["x"], running_max=False).astype(
        np.float64
    )
    y = reference["y"].reshape(n, -1)
    p_float = reference["p_float"].reshape(n, -1)
    if p_float.shape[1] != len(model.horizons):
        raise ValueError(
            f"{parity_path}: {p_float.shape[1]} horizons, the model has "
            f"{len(model.horizons)}"
        )
    result = compare_horizons(
        y,
        p_float,
        p_int8,
        model.horizons,
        model_thresholds(model),
        int(model.card["horizon_hours"]),
    )
    result["clipped"] = clipping(reference["x"], model, p_float, p_int8)
    limits = model.card.get("parity_thresholds", THRESHOLDS)
    return result, failures(result, limits)
