"""Scores of probabilistic rain forecasts (numpy only, usable without TensorFlow)."""

from __future__ import annotations

import numpy as np


def roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve (ties count one half), via the rank statistic."""
    y = np.asarray(y).astype(bool)
    p = np.asarray(p, dtype=np.float64)
    positives, negatives = int(y.sum()), int((~y).sum())
    if positives == 0 or negatives == 0:
        return float("nan")
    order = np.argsort(p, kind="mergesort")
    ranks = np.empty(len(p), dtype=np.float64)
    sorted_p = p[order]
    # Average ranks over ties.
    _, first, counts = np.unique(sorted_p, return_index=True, return_counts=True)
    average = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(average, counts)
    return float(
        (ranks[y].sum() - positives * (positives + 1) / 2) / (positives * negatives)
    )


def brier(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean((np.asarray(p, np.float64) - np.asarray(y, np.float64)) ** 2))


def at_threshold(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float]:
    """Precision, recall and F1 when alerting at ``p >= threshold``."""
    y = np.asarray(y).astype(bool)
    alert = np.asarray(p) >= threshold
    tp = int(np.sum(alert & y))
    fp = int(np.sum(alert & ~y))
    fn = int(np.sum(~alert & y))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


def scores(
    y: np.ndarray, p: np.ndarray, threshold: float, climatology: float
) -> dict[str, float]:
    """All metrics of one forecast; Brier skill is against ``climatology``."""
    reference = brier(y, np.full(len(y), climatology))
    b = brier(y, p)
    return {
        "auc": roc_auc(y, p),
        "brier": b,
        "bss": 1.0 - b / reference if reference > 0 else float("nan"),
        **at_threshold(y, p, threshold),
    }


def best_f1_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """The alert threshold (on a 0.01 grid) that maximizes F1."""
    grid = np.round(np.arange(0.05, 0.96, 0.01), 2)
    f1 = [at_threshold(y, p, t)["f1"] for t in grid]
    return float(grid[int(np.argmax(f1))])
