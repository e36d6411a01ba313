"""Alerting at a threshold, and every score of one forecast in one dict.

AUC, Brier, skill, reliability and intervals live in weatherapp/ai/scores.py
(one implementation, shared with the app's live verification).
"""

from __future__ import annotations

import numpy as np

from weatherapp.ai import scores as s


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
    y: np.ndarray,
    p: np.ndarray,
    threshold: float | None = None,
    climatology: float | None = None,
) -> dict[str, float]:
    """AUC, Brier and Brier skill (against ``climatology``, by default the
    evaluated data's own rain share), and at ``threshold`` if given."""
    result = {
        "auc": s.auc(y, p),
        "brier": s.brier(y, p),
        "bss": s.brier_skill(y, p, climatology),
    }
    if threshold is not None:
        result.update(at_threshold(y, p, threshold))
    return result


def best_f1_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """The alert threshold (on a 0.01 grid) that maximizes F1."""
    grid = np.round(np.arange(0.05, 0.96, 0.01), 2)
    f1 = [at_threshold(y, p, t)["f1"] for t in grid]
    return float(grid[int(np.argmax(f1))])
