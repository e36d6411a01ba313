"""How good the live forecasts are: pure functions on counts, no database.

A verified prediction is a probability p at the alert horizon and an outcome
y (rain within HORIZON_HOURS of its hour). They are kept as histograms over
100 bins of p per outcome (models.SkillCount), from which:
- AUC: the chance that a random rainy case got a higher p than a random dry
  one, ties within a bin counting one half (the binning moves it by < 0.01);
- Brier score: mean (p - y)^2, exact from the sums of p and p^2;
- Brier skill against the verified cases' own rain rate (climatology);
- reliability: per tenth of p, the mean p and the observed rain rate;
- precision and recall at a threshold: of the cases at or above it, the
  share followed by rain; of the rainy cases, the share at or above it.
Input drift is the population stability index of each feature's live
distribution against the training distribution in the model card
(ai.scores.psi_from_counts, the one implementation the toolchain uses too).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

BINS = 100
# Fewer verified cases than this and the figures are noise: say so instead.
MIN_VERIFIED = 100
# PSI above this: the live inputs no longer look like the training data
# (the usual rule of thumb: < 0.1 stable, 0.1-0.25 shifting, > 0.25 shifted).
PSI_LIMIT = 0.25


def first_rain_hour(
    after: Sequence[float], rain_mm: float = 0.1, hours: int = 6
) -> int | None:
    """The first of the ``hours`` hours after a prediction with rain
    (1-based), 0 when all were dry, None while an hour before the first wet
    one is not yet known (missing or NaN): never a guess."""
    for k in range(1, hours + 1):
        if k > len(after) or math.isnan(after[k - 1]):
            return None
        if after[k - 1] >= rain_mm:
            return k
    return 0


def bin_of(p: float) -> int:
    return min(BINS - 1, max(0, int(p * BINS)))


@dataclass
class Counts:
    """One forecaster's verified cases (what SkillCount rows add up to)."""

    rain: list[int] = field(default_factory=lambda: [0] * BINS)
    dry: list[int] = field(default_factory=lambda: [0] * BINS)
    sum_p_rain: float = 0.0
    sum_p_dry: float = 0.0
    sum_p2: float = 0.0

    def add(self, p: float, rained: bool) -> None:
        if rained:
            self.rain[bin_of(p)] += 1
            self.sum_p_rain += p
        else:
            self.dry[bin_of(p)] += 1
            self.sum_p_dry += p
        self.sum_p2 += p * p

    def merge(self, other: Counts) -> None:
        self.rain = [a + b for a, b in zip(self.rain, other.rain, strict=True)]
        self.dry = [a + b for a, b in zip(self.dry, other.dry, strict=True)]
        self.sum_p_rain += other.sum_p_rain
        self.sum_p_dry += other.sum_p_dry
        self.sum_p2 += other.sum_p2

    @property
    def verified(self) -> int:
        return sum(self.rain) + sum(self.dry)


def scores(counts: Counts, threshold: float) -> dict[str, object]:
    """AUC, Brier, BSS, reliability and precision/recall at ``threshold``;
    each None where the counts cannot say (too few cases, one outcome only)."""
    n = counts.verified
    positives, negatives = sum(counts.rain), sum(counts.dry)
    enough = n >= MIN_VERIFIED
    result: dict[str, object] = {
        "verified": n,
        "rain_rate": round(positives / n, 4) if n else None,
        "enough": enough,
    }
    auc = brier = bss = precision = recall = None
    if enough and positives and negatives:
        below = 0
        wins = 0.0
        for r, d in zip(counts.rain, counts.dry, strict=True):
            wins += r * (below + 0.5 * d)
            below += d
        auc = wins / (positives * negatives)
    if enough:
        brier = (counts.sum_p2 - 2 * counts.sum_p_rain + positives) / n
        rate = positives / n
        reference = rate * (1 - rate)
        bss = 1 - brier / reference if reference > 0 else None
        first = bin_of(threshold)
        above_rain = sum(counts.rain[first:])
        above = above_rain + sum(counts.dry[first:])
        precision = above_rain / above if above else None
        recall = above_rain / positives if positives else None
    result.update(
        auc=_round(auc),
        brier=_round(brier),
        bss=_round(bss),
        alert_precision=_round(precision),
        alert_recall=_round(recall),
        reliability=reliability(counts) if enough else [],
    )
    return result


def reliability(counts: Counts, groups: int = 10) -> list[dict[str, float]]:
    """Per tenth of p: the cases, their mean p (bin centres: the sums per
    bin are not kept) and the observed rain rate."""
    size = BINS // groups
    rows = []
    for g in range(groups):
        rain = sum(counts.rain[g * size : (g + 1) * size])
        dry = sum(counts.dry[g * size : (g + 1) * size])
        if rain + dry == 0:
            continue
        weighted = sum(
            (i + 0.5) / BINS * (counts.rain[i] + counts.dry[i])
            for i in range(g * size, (g + 1) * size)
        )
        rows.append(
            {
                "cases": rain + dry,
                "mean_p": round(weighted / (rain + dry), 4),
                "observed": round(rain / (rain + dry), 4),
            }
        )
    return rows


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
