"""A Markdown report with PNG plots of the committed model (no TensorFlow).

Everything is recomputed from the model card, the out-of-fold forecasts of
`crossval` (held-out stations in a held-out year), the parity data and the
INT8 model run by tflite-runtime, so the report can be regenerated anywhere.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from weatherapp.ai import scores
from weatherapp.ai.predictor import RainModel
from weatherapp.forecast import features

from . import isd, npz, parity, paths
from .pipeline import (
    CROSSVAL_KEYS,
    crossval_summary,
    greensboro_samples,
    horizon_scores,
)
from .pipeline import FEW_WINDOWS as FEW

COLORS = ["#1f5fbf", "#3b8bd9", "#2b8a3e", "#e8a317", "#d9480f", "#862e9c"]
RESAMPLES = 100

INTERVAL = 0.9


def roc_curve(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False and true positive rates over every distinct threshold."""
    order = np.argsort(-p, kind="mergesort")
    y, p = np.asarray(y, bool)[order], p[order]
    distinct = np.r_[np.flatnonzero(np.diff(p)), len(p) - 1]
    tp = np.cumsum(y)[distinct]
    fp = np.cumsum(~y)[distinct]
    return np.r_[0, fp / max(1, (~y).sum())], np.r_[0, tp / max(1, y.sum())]


def _interval(
    y: np.ndarray,
    p: np.ndarray,
    metric: Callable[[npt.NDArray[Any], npt.NDArray[Any]], float],
    groups: np.ndarray,
) -> str:
    low, high = scores.bootstrap_interval(
        y, p, metric, groups=groups, resamples=RESAMPLES, level=INTERVAL
    )
    return f"[{low:.3f}, {high:.3f}]"


def write_report(
    model_path: Path,
    parity_path: Path,
    crossval_path: Path = paths.CROSSVAL,
    out: Path = paths.REPORT,
) -> dict:
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib.pyplot as plt

    model = RainModel(model_path)
    card = model.card
    horizons = model.horizons
    default = int(card["horizon_hours"])
    j = horizons.index(default)
    summary = crossval_summary(crossval_path)
    cv = npz.load(crossval_path, CROSSVAL_KEYS, "cross-validation forecasts")
    p = cv["p"].astype(np.float64)
    labels, station = cv["labels"], cv["station"]
    onset, sky = cv["onset"], cv["sky_observed"]
    week = cv["end_times"] // (7 * 86400)
    wet = cv["rained_last_hour"]
    # Bootstrap over station-weeks: overlapping hourly windows are not
    # independent, whole weeks of one station nearly are.
    groups = np.char.add(station.astype(str), week.astype(str))
    y, q = labels[:, j], p[:, j]
    pooled = summary["pooled"]
    names = {r["usaf"]: r for r in isd.stations()}
    fold_of = isd.folds(list(names.values()))

    # The INT8 model on Greensboro's held-out blocks (the shipped model trains
    # on its other blocks), the test set of the single-station model before.
    gso = greensboro_samples().part("test")
    p_gso = model.predict_horizons(gso.x).astype(np.float64)
    gso_scores = horizon_scores(
        gso.labels[:, [features.HORIZONS.index(k) for k in horizons]],
        p_gso,
        horizons,
        default,
        gso.onset,
    )
    # Its ~10 test weeks make one AUC figure uncertain: whole weeks resampled.
    gso_auc_ci = _interval(
        gso.labels[:, features.HORIZONS.index(default)],
        p_gso[:, list(horizons).index(default)],
        scores.auc,
        gso.block,
    )
    reference = parity.load_reference(parity_path)
    n = len(reference["x"])
    p_int8 = model.predict_horizons(reference["x"], running_max=False)
    agreement = parity.compare_horizons(
        reference["y"].reshape(n, -1),
        reference["p_float"].reshape(n, -1),
        p_int8.astype(np.float64),
        horizons,
        parity.model_thresholds(model),
        default,
    )
    # Persistence fitted on the held-out windows themselves (flattering it).
    persistence = np.where(wet, y[wet].mean(), y[~wet].mean())

    images = out.parent / "img"
    images.mkdir(parents=True, exist_ok=True)

    fig, ax = plt.subplots(figsize=(5, 5))
    for i, k in enumerate(horizons):
        fpr, tpr = roc_curve(labels[:, i], p[:, i])
        ax.plot(
            fpr,
            tpr,
            color=COLORS[i % len(COLORS)],
            label=f"{k} h (AUC {scores.auc(labels[:, i], p[:, i]):.3f})",
        )
    ax.plot([0, 1], [0, 1], ":", color="#adb5bd")
    ax.set(
        xlabel="false positive rate",
        ylabel="true positive rate",
        title="ROC per horizon, held-out stations and year",
    )
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(images / "roc.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 5))
    for i, k in enumerate(horizons):
        r = scores.reliability(labels[:, i], p[:, i])
        ax.plot(
            r["mean_p"],
            r["observed"],
            "o-",
            ms=3,
            color=COLORS[i % len(COLORS)],
            label=f"{k} h",
        )
    ax.plot([0, 1], [0, 1], ":", color="#adb5bd", label="perfectly reliable")
    ax.set(
        xlabel="forecast probability",
        ylabel="observed frequency of rain",
        title="Reliability per horizon (10 bins)",
        xlim=(0, 1),
        ylim=(0, 1),
    )
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(images / "reliability.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    ks = list(horizons)
    for key, style, label in (
        ("horizons", "o-", "all windows"),
        ("onset_horizons", "s--", "onset (last hour dry)"),
    ):
        for metric, color, name in (
            ("auc", "#1f5fbf", "AUC"),
            ("bss", "#d9480f", "Brier skill"),
        ):
            ax.plot(
                ks,
                [pooled[key][str(k)][metric] for k in ks],
                style,
                color=color,
                label=f"{name}, {label}",
            )
    ax.set(
        xlabel="horizon (hours)",
        ylabel="score",
        ylim=(0, 1),
        title="Skill by horizon, held-out stations and year",
    )
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(images / "horizons.png", dpi=110)
    plt.close(fig)

    per = summary["per_station"]
    order = sorted(
        (s for s in per if per[s]["windows"] >= FEW), key=lambda s: per[s]["auc"]
    )
    fig, ax = plt.subplots(figsize=(7, 8))
    ax.barh(
        range(len(order)),
        [per[s]["auc"] for s in order],
        color="#1f5fbf",
        label="all windows",
    )
    ax.plot(
        [per[s]["onset"]["auc"] for s in order],
        range(len(order)),
        "o",
        color="#d9480f",
        ms=3,
        label="onset",
    )
    ax.axvline(0.89, color="#adb5bd", lw=0.8, label="issue 10's target, 0.89")
    ax.set_yticks(range(len(order)))
    ax.set_yticklabels(
        [f"{names[s]['name'].strip()} {names[s]['state']}" for s in order], fontsize=6
    )
    ax.set(
        xlim=(0.6, 1.0), xlabel=f"AUC at {default} h", title="Held-out stations (2019)"
    )
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(images / "stations.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 5))
    for i, k in enumerate(horizons):
        ax.scatter(
            reference["p_float"].reshape(n, -1)[:, i],
            p_int8[:, i],
            s=2,
            alpha=0.3,
            color=COLORS[i % len(COLORS)],
            label=f"{k} h",
        )
    ax.plot([0, 1], [0, 1], ":", color="#adb5bd")
    ax.set(
        xlabel="p float (Keras)",
        ylabel="p INT8 (tflite-runtime)",
        title="Float vs INT8, every horizon: mean |Δp| "
        f"≤ {max(a['mean_abs_diff'] for a in agreement['horizons'].values()):.4f}",
        xlim=(0, 1),
        ylim=(0, 1),
    )
    ax.legend(loc="upper left", fontsize=8, markerscale=4)
    fig.tight_layout()
    fig.savefig(images / "parity.png", dpi=110)
    plt.close(fig)

    def fig3(s: dict) -> str:
        return f"{s['auc']:.3f} | {s['brier']:.4f} | {s['bss']:.3f}"

    def fig4(s: dict, auc_interval: str) -> str:
        return f"{s['auc']:.3f} | {auc_interval} | {s['brier']:.4f} | {s['bss']:.3f}"

    horizon_auc_ci = [
        _interval(labels[:, i], p[:, i], scores.auc, groups)
        for i in range(len(horizons))
    ]
    onset_auc_ci = [
        _interval(labels[onset, i], p[onset, i], scores.auc, groups[onset])
        for i in range(len(horizons))
    ]
    auc_ci = horizon_auc_ci[j]
    bss_ci = _interval(y, q, scores.brier_skill, groups)
    on_auc_ci = onset_auc_ci[j]
    on_bss_ci = _interval(y[onset], q[onset], scores.brier_skill, groups[onset])
    thresholds = parity.model_thresholds(model)
    lines = [
        f"# Rain model report — {card['version']}",
        "",
        f"Generated by `python -m model_tools report` from `{model_path.name}`, its "
        "model card, the out-of-fold forecasts of `python -m model_tools crossval` "
        f"(`{crossval_path.name}`) and the parity data.",
        "",
        "**How it was judged.** 48 ISD-Lite stations (2017–2019) in "
        f"{isd.FOLDS} folds of stations; neighbours closer than "
        f"{isd.NEIGHBOUR_KM:g} km (the five South Florida stations, the three "
        "around San Francisco Bay, Aspen–Gunnison, Burbank–Point Mugu, "
        "Jackson Hole–Idaho Falls, with Ogden linked to them by hand, "
        "Phoenix–Prescott) share a fold. Each fold's "
        f"stations in {isd.TEST_YEAR} are forecast by a model trained on the other "
        f"folds' stations before {isd.TEST_YEAR}: unseen in place *and* time. "
        f"{len(y):,} held-out windows, {y.mean():.1%} followed by rain within "
        f"{default} h. Brier skill is always against the evaluated windows' own "
        "rain share. Intervals: "
        f"{INTERVAL:.0%} bootstrap over station-weeks ({RESAMPLES} resamples). "
        "The float model is scored here; the shipped INT8 model matches it "
        "(parity below). The shipped model is then trained on all stations "
        "and years.",
        "",
        f"## Held-out stations and year, {default} h",
        "",
        "| windows | n | AUC | 90 % interval | Brier | Brier skill | 90 % interval |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        f"| all | {len(y):,} | {pooled['auc']:.3f} | {auc_ci} | "
        f"{pooled['brier']:.4f} | {pooled['bss']:.3f} | {bss_ci} |",
        f"| onset (last hour dry) | {int(onset.sum()):,} | "
        f"{pooled['onset']['auc']:.3f} | {on_auc_ci} | "
        f"{pooled['onset']['brier']:.4f} | {pooled['onset']['bss']:.3f} | "
        f"{on_bss_ci} |",
        f"| sky cover observed (last 6 h) | {int(sky.sum()):,} | "
        f"{pooled['sky']['observed']['auc']:.3f} | | "
        f"{pooled['sky']['observed']['brier']:.4f} | "
        f"{pooled['sky']['observed']['bss']:.3f} | |",
        f"| sky cover filled | {int((~sky).sum()):,} | "
        f"{pooled['sky']['filled']['auc']:.3f} | | "
        f"{pooled['sky']['filled']['brier']:.4f} | "
        f"{pooled['sky']['filled']['bss']:.3f} | |",
        "",
        "Baselines on the same windows, fitted on them (which flatters them): "
        f"climatology AUC 0.500, BSS 0.000; persistence (rain share after a wet or "
        f"dry last hour) AUC {scores.auc(y, persistence):.3f}, BSS "
        f"{scores.brier_skill(y, persistence):.3f}.",
        "",
        "## Per horizon (held-out stations and year)",
        "",
        "| horizon | rain share | AUC | 90 % interval | Brier | BSS | onset AUC | "
        "90 % interval | onset Brier | onset BSS | threshold |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *(
            f"| {k} h | {labels[:, i].mean():.3f} | "
            f"{fig4(pooled['horizons'][str(k)], horizon_auc_ci[i])} | "
            f"{fig4(pooled['onset_horizons'][str(k)], onset_auc_ci[i])} | "
            f"{thresholds[str(k)]:.2f} |"
            for i, k in enumerate(horizons)
        ),
        "",
        "Thresholds: max F1 of the pooled out-of-fold forecasts at each horizon; "
        f"the alert horizon ({default} h) uses {model.threshold:.2f}.",
        "",
        "![ROC per horizon](img/roc.png) ![Reliability per horizon]"
        "(img/reliability.png) ![Skill by horizon](img/horizons.png)",
        "",
        "## Seed spread",
        "",
        "| seed | AUC | Brier skill | onset AUC | onset BSS | worst station AUC |",
        "| --- | --- | --- | --- | --- | --- |",
        *(
            f"| {s['seed']} | {s['auc']:.4f} | {s['bss']:.4f} | "
            f"{s['onset']['auc']:.4f} | {s['onset']['bss']:.4f} | "
            f"{s['worst_station_auc']:.4f} |"
            for s in summary["seeds"]
        ),
        "",
        f"## Per station (held out, {isd.TEST_YEAR}, {default} h)",
        "",
        "| station | state | fold | windows | rain share | AUC | Brier | BSS | "
        "onset AUC | onset BSS |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *(
            f"| {s} {names[s]['name']}"
            f"{' (few windows)' if per[s]['windows'] < FEW else ''} | "
            f"{names[s]['state']} | {fold_of[s]} | "
            f"{per[s]['windows']:,} | {labels[station == s, j].mean():.3f} | "
            f"{fig3(per[s])} | {per[s]['onset']['auc']:.3f} | "
            f"{per[s]['onset']['bss']:.3f} |"
            for s in sorted(per)
        ),
        "",
        f"Stations with fewer than {FEW:,} windows lack 1-hour precipitation in "
        "most hours (Gunnison, Ellsworth AFB): their scores say little. The "
        "worst-station figures above leave them out.",
        "",
        "![AUC per held-out station](img/stations.png)",
        "",
        "## Greensboro's held-out blocks (TMY3), INT8",
        "",
        "The shipped model trains on Greensboro's other blocks too; these blocks "
        "are the single-station model's test set, where it reached AUC 0.908. "
        "They are scored here on the windows with every horizon's label known "
        "(6 hours after the window), a few fewer than that model's 3-hour "
        "windows.",
        "",
        "| windows | AUC | AUC interval (90 %, by week) | Brier | BSS "
        "| onset AUC | onset BSS |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        f"| {gso_scores['windows']:,} | {gso_scores['auc']:.3f} | {gso_auc_ci} | "
        f"{gso_scores['brier']:.4f} | {gso_scores['bss']:.3f} | "
        f"{gso_scores['onset']['auc']:.3f} | {gso_scores['onset']['bss']:.3f} |",
        "",
        "## Float vs INT8, every horizon",
        "",
        f"{n:,} windows (Greensboro and a seeded sample of the ISD windows). "
        f"Gates: label agreement ≥ {card['parity_thresholds']['label_agreement_min']}, "
        f"mean |Δp| ≤ {card['parity_thresholds']['mean_abs_diff_max']}, "
        f"|ΔAUC| ≤ {card['parity_thresholds']['auc_diff_max']}. INT8 output "
        f"non-decreasing in the horizon for every window: "
        f"{'yes' if agreement['monotone_int8'] else 'NO'}. Model size "
        f"{model_path.stat().st_size:,} bytes.",
        "",
        "| horizon | label agreement | mean \\|Δp\\| | max \\|Δp\\| | AUC float | "
        "AUC int8 | \\|ΔAUC\\| |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *(
            f"| {k} h | {a['label_agreement']:.4f} | {a['mean_abs_diff']:.4f} | "
            f"{a['max_abs_diff']:.4f} | {a['auc_float']:.4f} | {a['auc_int8']:.4f} | "
            f"{a['auc_diff']:.4f} |"
            for k, a in agreement["horizons"].items()
        ),
        "",
        parity.clipped_sentence(
            parity.clipping(reference["x"], model, reference["p_float"], p_int8)
        ),
        "",
        "![Float vs INT8](img/parity.png)",
        "",
    ]
    out.write_text("\n".join(lines), encoding="utf-8")
    return {
        "report": str(out),
        "images": sorted(str(p) for p in images.glob("*.png")),
        "held_out": {k: pooled[k] for k in ("auc", "brier", "bss", "onset")},
        "intervals": {
            "auc": auc_ci,
            "bss": bss_ci,
            "onset_auc": on_auc_ci,
            "onset_bss": on_bss_ci,
        },
        "greensboro": {k: gso_scores[k] for k in ("auc", "bss", "onset")},
        "parity": agreement,
        "version": card["version"],
    }
