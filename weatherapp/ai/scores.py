"""Scores of probabilistic rain forecasts: numpy only, no Django.

One implementation for the offline toolchain (model_tools) and for live
verification in the app: AUC, Brier score and skill, reliability, the
population stability index of input drift, and bootstrap intervals.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # numpy.typing is for the checker only, never loaded at runtime
    import numpy.typing as npt

# A bin with no windows would make the PSI infinite; both shares are floored
# at this (the usual convention; 1e-4 keeps one empty decile of ten below 0.1).
PSI_FLOOR = 1e-4


def auc(y: npt.ArrayLike, p: npt.ArrayLike) -> float:
    """Area under the ROC curve (ties count one half), via the rank statistic.

    NaN when ``y`` has only one class.
    """
    labels = np.asarray(y).astype(bool).reshape(-1)
    scores = np.asarray(p, dtype=np.float64).reshape(-1)
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if positives == 0 or negatives == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    _, first, counts = np.unique(scores[order], return_index=True, return_counts=True)
    ranks[order] = np.repeat(first + (counts + 1) / 2.0, counts)
    u = ranks[labels].sum() - positives * (positives + 1) / 2
    return float(u / (positives * negatives))


def brier(y: npt.ArrayLike, p: npt.ArrayLike) -> float:
    """Mean squared difference between probability and outcome (0 is perfect)."""
    diff = np.asarray(p, np.float64).reshape(-1) - np.asarray(y, np.float64).reshape(-1)
    return float(np.mean(diff**2)) if diff.size else float("nan")


def brier_skill(
    y: npt.ArrayLike, p: npt.ArrayLike, base_rate: float | None = None
) -> float:
    """1 - Brier / Brier of always forecasting ``base_rate``.

    By default the base rate is the evaluated data's own rain share, the
    hardest climatology to beat (it knows the answer's average); NaN when the
    reference is perfect (all rain or all dry).
    """
    outcomes = np.asarray(y, np.float64).reshape(-1)
    if not outcomes.size:
        return float("nan")
    rate = float(outcomes.mean()) if base_rate is None else float(base_rate)
    reference = brier(outcomes, np.full(len(outcomes), rate))
    if not reference > 0:
        return float("nan")
    return 1.0 - brier(outcomes, p) / reference


def reliability(
    y: npt.ArrayLike, p: npt.ArrayLike, bins: int = 10
) -> dict[str, list[float] | list[int]]:
    """Per probability bin (equal width on [0, 1]): mean forecast, observed
    rain share and count; empty bins are left out."""
    outcomes = np.asarray(y, np.float64).reshape(-1)
    forecast = np.clip(np.asarray(p, np.float64).reshape(-1), 0.0, 1.0)
    index = np.minimum((forecast * bins).astype(np.int64), bins - 1)
    count = np.bincount(index, minlength=bins)
    mean_p = np.bincount(index, weights=forecast, minlength=bins) / np.maximum(count, 1)
    observed = np.bincount(index, weights=outcomes, minlength=bins) / np.maximum(
        count, 1
    )
    used = count > 0
    return {
        "mean_p": [float(v) for v in mean_p[used]],
        "observed": [float(v) for v in observed[used]],
        "count": [int(v) for v in count[used]],
    }


def bin_counts(
    values: npt.ArrayLike, edges: Sequence[float] | npt.NDArray[Any]
) -> npt.NDArray[np.int64]:
    """How many ``values`` fall in each of the len(edges) + 1 bins that the
    interior ``edges`` cut the line into: bin i holds edges[i-1] < v <= edges[i].

    A value equal to an edge goes left, so a feature that is mostly exactly
    0 (rain in the last hour) with repeated edges 0, 0, ... keeps its zeros in
    the first bin and everything above them in the bin after the last edge."""
    x = np.asarray(values, np.float64).reshape(-1)
    index = np.searchsorted(np.asarray(edges, np.float64), x, side="left")
    counts: npt.NDArray[np.int64] = np.bincount(index, minlength=len(edges) + 1)
    return counts


def bin_shares(
    values: npt.ArrayLike, edges: Sequence[float] | npt.NDArray[Any]
) -> npt.NDArray[np.float64]:
    """Share of ``values`` in each bin of ``bin_counts``."""
    counts = bin_counts(values, edges)
    result: npt.NDArray[np.float64] = counts / max(1, int(counts.sum()))
    return result


def psi(
    expected_shares: Sequence[float] | npt.NDArray[Any],
    actual_values: npt.ArrayLike,
    edges: Sequence[float] | npt.NDArray[Any],
) -> float:
    """Population stability index of ``actual_values`` against the training
    windows' ``expected_shares`` over the bins cut by ``edges`` (as in the
    model card's ``feature_stats``): ``psi_from_counts`` of their
    ``bin_counts``."""
    counts = bin_counts(actual_values, edges)
    if len(expected_shares) != len(counts):
        raise ValueError(
            f"{len(expected_shares)} shares need {len(expected_shares) - 1} "
            f"edges, got {len(edges)}"
        )
    return psi_from_counts(expected_shares, [int(c) for c in counts])


def psi_from_counts(
    expected_shares: Sequence[float] | npt.NDArray[Any], counts: Sequence[int]
) -> float:
    """Population stability index of live bin ``counts`` against the
    training shares (the same bins; pure Python, so the live drift report on
    models.FeatureCount's counts needs no arrays). Below 0.1 is usually read
    as stable, above 0.25 as a shift. Empty bins are floored at PSI_FLOOR;
    NaN without any count. The one implementation: ``psi`` and the live
    drift report (alerting/verification.py) both come here."""
    if len(expected_shares) != len(counts):
        raise ValueError(
            f"{len(expected_shares)} shares, {len(counts)} counts: not the same bins"
        )
    total = sum(counts)
    if not total:
        return math.nan
    value = 0.0
    for share, count in zip(expected_shares, counts, strict=True):
        actual = max(count / total, PSI_FLOOR)
        expected = max(float(share), PSI_FLOOR)
        value += (actual - expected) * math.log(actual / expected)
    return value


def bootstrap_interval(
    y: npt.ArrayLike,
    p: npt.ArrayLike,
    metric: Callable[[npt.NDArray[Any], npt.NDArray[Any]], float],
    groups: npt.ArrayLike | None = None,
    resamples: int = 200,
    level: float = 0.9,
    seed: int = 0,
) -> tuple[float, float]:
    """A percentile bootstrap interval of ``metric(y, p)``.

    With ``groups`` (e.g. station ids, or station-weeks) whole groups are
    resampled, which respects the dependence of overlapping hourly windows;
    without, single windows are (too narrow for autocorrelated data).
    """
    outcomes = np.asarray(y).reshape(-1)
    forecast = np.asarray(p, np.float64).reshape(-1)
    rng = np.random.default_rng(seed)
    members: list[npt.NDArray[np.int64]] = []
    if groups is not None:
        labels = np.asarray(groups).reshape(-1)
        _, inverse = np.unique(labels, return_inverse=True)
        order = np.argsort(inverse, kind="stable")
        cuts = np.flatnonzero(np.diff(inverse[order])) + 1
        members = np.split(order, cuts)
    values = []
    for _ in range(resamples):
        if groups is None:
            rows = rng.integers(0, len(outcomes), len(outcomes))
        else:
            pick = rng.integers(0, len(members), len(members))
            rows = np.concatenate([members[i] for i in pick])
        value = metric(outcomes[rows], forecast[rows])
        if np.isfinite(value):
            values.append(value)
    if not values:
        return (float("nan"), float("nan"))
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return (float(low), float(high))
