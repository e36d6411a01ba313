"""weatherapp/ai/scores.py against hand-computed values."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weatherapp.ai import scores


def test_auc_counts_ties_one_half():
    y = [0, 0, 1, 1]
    assert scores.auc(y, [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert scores.auc(y, [0.5, 0.5, 0.5, 0.5]) == 0.5
    assert scores.auc(y, [0.9, 0.8, 0.2, 0.1]) == 0.0
    assert np.isnan(scores.auc([1, 1], [0.2, 0.3]))


@settings(deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.floats(0, 1)), min_size=2, max_size=60))
def test_auc_is_the_share_of_correctly_ordered_pairs(pairs):
    y = np.array([a for a, _ in pairs])
    p = np.array([b for _, b in pairs])
    if y.all() or not y.any():
        return
    pos, neg = p[y], p[~y]
    expected = np.mean(
        (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    )
    assert scores.auc(y, p) == pytest.approx(expected)


def test_brier_and_its_skill():
    y = np.array([1, 0, 0, 0])
    p = np.array([0.5, 0.5, 0.0, 0.0])
    assert scores.brier(y, p) == pytest.approx((0.25 + 0.25) / 4)
    # Own rate 0.25: reference Brier 0.1875.
    assert scores.brier_skill(y, p) == pytest.approx(1 - 0.125 / 0.1875)
    assert scores.brier_skill(y, np.full(4, 0.25)) == pytest.approx(0.0)
    # Against another base rate (e.g. the training rate).
    reference = np.mean((0.5 - y) ** 2)
    assert scores.brier_skill(y, p, base_rate=0.5) == pytest.approx(
        1 - 0.125 / reference
    )
    assert np.isnan(scores.brier_skill([0, 0], [0.1, 0.2]))


def test_reliability_bins():
    y = [0, 1, 1, 0, 1]
    p = [0.05, 0.15, 0.12, 0.95, 1.0]
    r = scores.reliability(y, p, bins=10)
    assert r["count"] == [1, 2, 2]
    assert r["mean_p"] == pytest.approx([0.05, 0.135, 0.975])
    assert r["observed"] == pytest.approx([0.0, 1.0, 0.5])


def test_psi_is_zero_for_the_same_population_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    train = rng.normal(size=20000)
    edges = np.quantile(train, np.linspace(0.1, 0.9, 9))
    shares = scores.bin_shares(train, edges)
    assert shares.sum() == pytest.approx(1.0)
    assert shares == pytest.approx(np.full(10, 0.1), abs=1e-3)
    same = scores.psi(shares, rng.normal(size=20000), edges)
    shifted = scores.psi(shares, rng.normal(0.5, 1, size=20000), edges)
    assert same < 0.01 < 0.1 < shifted
    # Every value in one bin: finite thanks to the floor.
    assert np.isfinite(scores.psi(shares, np.full(100, 10.0), edges))
    with pytest.raises(ValueError, match="edges"):
        scores.psi(shares, train, edges[:-1])


def test_ties_stay_in_the_first_bin():
    # Mostly exactly 0, as rain in the last hour: the deciles are all 0.
    values = np.r_[np.zeros(95), np.linspace(0.1, 2, 5)]
    edges = np.quantile(values, np.linspace(0.1, 0.9, 9))
    assert (edges == 0).all()
    shares = scores.bin_shares(values, edges)
    assert shares[0] == pytest.approx(0.95) and shares[-1] == pytest.approx(0.05)
    # More rain than in training shows as drift.
    wetter = np.r_[np.zeros(70), np.linspace(0.1, 2, 30)]
    assert scores.psi(shares, wetter, edges) > 0.25


def test_psi_by_hand():
    shares = [0.5, 0.5]
    # Actual 0.8 / 0.2 with one edge at 0.
    actual = [-1.0] * 8 + [1.0] * 2
    expected = (0.8 - 0.5) * np.log(0.8 / 0.5) + (0.2 - 0.5) * np.log(0.2 / 0.5)
    assert scores.psi(shares, actual, [0.0]) == pytest.approx(expected)


def test_psi_of_values_is_psi_of_their_counts():
    """psi bins the values and hands the counts to psi_from_counts, the one
    implementation the live drift report (FeatureCount's counts) calls."""
    rng = np.random.default_rng(3)
    train = rng.normal(size=5000)
    edges = np.quantile(train, np.linspace(0.1, 0.9, 9))
    shares = scores.bin_shares(train, edges)
    live = rng.normal(0.3, 1.2, size=3000)
    counts = scores.bin_counts(live, edges)
    assert counts.sum() == 3000 and list(counts / 3000) == list(
        scores.bin_shares(live, edges)
    )
    value = scores.psi(shares, live, edges)
    assert value == scores.psi_from_counts(shares, [int(c) for c in counts])
    # By hand, with the floor for an empty bin.
    floor = scores.PSI_FLOOR
    expected = (1 - 0.5) * np.log(1 / 0.5) + (floor - 0.5) * np.log(floor / 0.5)
    assert scores.psi_from_counts([0.5, 0.5], [8, 0]) == pytest.approx(expected)
    assert np.isnan(scores.psi_from_counts([0.5, 0.5], [0, 0]))
    with pytest.raises(ValueError, match="same bins"):
        scores.psi_from_counts([0.5, 0.5], [1, 2, 3])


def test_bootstrap_interval_covers_the_estimate_and_groups_widen_it():
    rng = np.random.default_rng(1)
    n = 4000
    groups = np.repeat(np.arange(40), n // 40)
    shift = rng.normal(0, 1.0, 40)[groups]  # groups differ: dependence
    y = (rng.random(n) < 0.3).astype(int)
    p = np.clip(0.3 + 0.3 * (y - 0.3) + 0.1 * shift, 0, 1)
    value = scores.auc(y, p)
    low, high = scores.bootstrap_interval(y, p, scores.auc, resamples=100, seed=2)
    assert low < value < high
    g_low, g_high = scores.bootstrap_interval(
        y, p, scores.auc, groups=groups, resamples=100, seed=2
    )
    assert g_low < value < g_high
    assert (g_high - g_low) > (high - low)
    # Reproducible with its seed.
    assert scores.bootstrap_interval(y, p, scores.auc, resamples=100, seed=2) == (
        low,
        high,
    )


def test_the_card_feature_stats_describe_the_training_windows():
    """The committed card's drift reference, checked on the parity windows
    (mostly a random sample of the training windows): no feature drifts."""
    import json

    from support import ROOT

    card = json.loads((ROOT / "models" / "rain_int8.json").read_text())
    stats = card["feature_stats"]
    assert list(stats) == card["features"]
    with np.load(ROOT / "models" / "rain_int8.parity.npz") as data:
        x = data["x"]
    for j, name in enumerate(card["features"]):
        s = stats[name]
        assert len(s["edges"]) == 9 and np.all(np.diff(s["edges"]) >= 0), name
        assert len(s["shares"]) == 10 and sum(s["shares"]) == pytest.approx(1), name
        assert s["mean"] == pytest.approx(card["normalization"]["mean"][j], rel=1e-4)
        assert scores.psi(s["shares"], x[:, j], s["edges"]) < 0.05, name
    # A shifted feature is caught: relative humidity 20 points drier.
    j = card["features"].index("relative_humidity")
    s = stats["relative_humidity"]
    assert scores.psi(s["shares"], x[:, j] - 20, s["edges"]) > 0.25
