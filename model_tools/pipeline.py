"""The steps of `python -m model_tools`; each returns a JSON-able result."""

from __future__ import annotations

import datetime as dt
import json
import platform
import signal
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from weatherapp.ai import scores
from weatherapp.ai.predictor import ModelError, RainModel
from weatherapp.forecast import dataset, features
from weatherapp.forecast.card import card_path, file_sha256

from . import importers, isd, metrics, npz, parity, paths
from .samples import Samples, make_samples
from .score import score_in_subprocess

# The canonical CSV does not carry its station; the committed one is Greensboro.
DEFAULT_LONGITUDE = -79.95
RAINED_LAST_HOUR = features.FEATURES.index("hours_since_rain")
GREENSBORO = "723170"
# What tidy() marks suspect in the raw TMY3 file (tests/test_dataset.py):
# present weather reports rain and snow, the gauge nothing. The committed CSV
# keeps the zeros, since the demo replays every month; the model neither
# trains nor is scored on them.
GREENSBORO_SUSPECT_MONTHS = ("1996-02",)
# A held-out station with fewer windows (most of its precipitation missing:
# Gunnison, Ellsworth AFB) is left out of the worst-station figure.
FEW_WINDOWS = 1000
# evaluate refuses fewer rainy (or dry) windows than this: an AUC or a Brier
# skill from a handful of rain events is noise (18 windows at Gunnison gave
# AUC 1.000).
FEW_OF_EACH = 20
# Temperature and dew point carry most of the signal and have no neutral
# value: evaluate does not score windows ending in a month that reports them
# in fewer of its hours.
CORE_REPORTED = 0.5
# Below this share of windows with a known label and past precipitation, the
# scored ones are those whose gauge reported: at Ellsworth AFB mostly rainy
# hours (58 windows of 6,130, rain share 0.40 against 0.13). evaluate warns.
ELIGIBLE_SHARE_MIN = 0.5
# The day's warmest hour in local solar time (first harmonic of temperature)
# at the 48 stations and Greensboro: 13.8-15.9 h. A longitude with the wrong
# sign puts it at 0-8 h there, and the model's solar-hour inputs with it.
WARMEST_SOLAR_HOURS = (12.0, 18.0)
DIURNAL_MIN_C = 0.5  # a weaker daily cycle (polar winter) says nothing
PARITY_ISD_WINDOWS = 20000


def step_dataset(raw: list[Path], out: Path, fmt: str | None = None) -> dict:
    """Any supported file(s) -> canonical hourly CSV (UTC, Open-Meteo names);
    missing values are empty cells."""
    hours, station = importers.load(list(raw), fmt)
    hours, found = importers.tidy(hours)
    out.parent.mkdir(parents=True, exist_ok=True)
    dataset.write_csv(hours, out)
    return {
        "rows": int(len(hours["time"])),
        "windows": int(len(features.window_ends(hours["time"]))),
        "rain_hours": int(np.sum(hours["precipitation"] >= features.RAIN_MM)),
        "found": found,
        "station": station,
        "source_sha256": [file_sha256(r) for r in raw]
        if len(raw) > 1
        else file_sha256(raw[0]),
        "sha256": file_sha256(out),
        "path": str(out),
    }


def fit_baselines(part: Samples) -> dict:
    """Climatology and persistence ("it rained in the last hour") fitted on
    ``part``, at the default horizon."""
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
    climatology: float | None = None,
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


def _three(y: np.ndarray, p: np.ndarray) -> dict:
    return {**metrics.scores(y, p), "windows": int(len(y))}


def horizon_scores(
    labels: np.ndarray,
    p: np.ndarray,
    horizons: tuple[int, ...] | list[int],
    default: int,
    onset: np.ndarray,
    sky_observed: np.ndarray | None = None,
) -> dict:
    """Every figure of one set of multi-horizon forecasts, each Brier skill
    against the evaluated windows' own rain share: the default horizon at
    the top level, ``onset`` (last hour dry) separately, every horizon, and
    windows with observed and with filled sky cover."""
    j = list(horizons).index(default)
    y, q = labels[:, j], p[:, j]
    result: dict = {**_three(y, q)}
    result["onset"] = _three(y[onset], q[onset])
    result["horizons"] = {
        str(k): _three(labels[:, i], p[:, i]) for i, k in enumerate(horizons)
    }
    result["onset_horizons"] = {
        str(k): _three(labels[onset, i], p[onset, i]) for i, k in enumerate(horizons)
    }
    if sky_observed is not None:
        result["sky"] = {
            "observed": _three(y[sky_observed], q[sky_observed]),
            "filled": _three(y[~sky_observed], q[~sky_observed]),
        }
    return result


def model_labels(data: Samples, horizons: tuple[int, ...]) -> np.ndarray:
    """The label columns of ``horizons`` (each one of features.HORIZONS)."""
    return data.labels[:, [features.HORIZONS.index(k) for k in horizons]]


def step_crossval(out: Path, seeds: list[int], progress: bool) -> dict:
    """Out-of-fold forecasts: for each seed and each fold of stations, train
    on the other folds' years before TEST_YEAR and forecast the fold's
    stations in TEST_YEAR, unseen in both place and time (float model)."""
    from tqdm import tqdm

    from . import train

    rows = isd.stations()
    fold_of = isd.folds(rows)
    data = isd.all_samples(progress=progress)
    fold = isd.fold_array(data, fold_of)
    year = data.year
    test = year == isd.TEST_YEAR
    p = np.zeros((len(seeds), int(test.sum()), len(features.HORIZONS)), np.float32)
    position = np.cumsum(test) - 1
    jobs = [(i, seed, k) for i, seed in enumerate(seeds) for k in range(isd.FOLDS)]
    with tqdm(jobs, desc="crossval", unit="fit", disable=not progress) as bar:
        for i, seed, k in bar:
            bar.set_postfix_str(f"seed {seed} fold {k}")
            fit_on = (fold != k) & (year < isd.TEST_YEAR)
            model, norm = train.fit(data.x[fit_on], data.labels[fit_on], seed)
            held = (fold == k) & test
            x_std = features.standardize(data.x[held], **norm)
            p[i, position[held]] = train.predict_float(model, x_std)
    held_out = data.subset(test)
    onset = held_out.onset
    j = features.HORIZONS.index(features.HORIZON_HOURS)
    labels = held_out.labels
    spread = [
        {
            "seed": seed,
            **_three(labels[:, j], p[i][:, j]),
            "onset": _three(labels[onset, j], p[i][onset, j]),
            "worst_station_auc": min(
                scores.auc(labels[at, j], p[i][at, j])
                for s in np.unique(held_out.station)
                for at in [held_out.station == s]
                if at.sum() >= FEW_WINDOWS
            ),
        }
        for i, seed in enumerate(seeds)
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    # The first seed's forecasts, in float16 (AUC and Brier move by < 1e-4;
    # the file stays a few MB); every seed's scores, computed in float32.
    np.savez_compressed(
        out,
        p=p[0].astype(np.float16),
        labels=labels,
        station=held_out.station,
        fold=fold[test],
        end_times=held_out.end_times.astype(np.int64),
        onset=onset,
        sky_observed=held_out.sky_observed,
        rained_last_hour=held_out.x[:, RAINED_LAST_HOUR] == 0,
        seed_scores=np.array(json.dumps(spread)),
    )
    summary = crossval_summary(out)
    return {"path": str(out), **{k: summary[k] for k in ("pooled", "seeds")}}


CROSSVAL_KEYS = (
    "p",
    "labels",
    "station",
    "onset",
    "sky_observed",
    "seed_scores",
    "end_times",
    "rained_last_hour",
)


def crossval_summary(path: Path) -> dict:
    """The committed out-of-fold figures: pooled and per station (first seed),
    thresholds chosen on the pooled forecasts, and the spread over seeds."""
    cv = npz.load(path, CROSSVAL_KEYS, "cross-validation forecasts")
    p, labels = cv["p"].astype(np.float64), cv["labels"]
    station, onset, sky = cv["station"], cv["onset"], cv["sky_observed"]
    spread = json.loads(str(cv["seed_scores"]))
    default = features.HORIZON_HOURS
    pooled = horizon_scores(labels, p, features.HORIZONS, default, onset, sky)
    thresholds = {
        str(k): metrics.best_f1_threshold(labels[:, j], p[:, j])
        for j, k in enumerate(features.HORIZONS)
    }
    per_station = {}
    for s in np.unique(station):
        at = station == s
        per_station[str(s)] = horizon_scores(
            labels[at], p[at], features.HORIZONS, default, onset[at]
        )
    return {
        "pooled": pooled,
        "per_station": per_station,
        "thresholds": thresholds,
        "seeds": spread,
    }


def greensboro_samples() -> Samples:
    """Greensboro's windows from the committed CSV, with the suspect months'
    precipitation missing: their windows are neither labelled dry nor given
    a dry past."""
    hours = dataset.read_csv(paths.DATASET)
    months = np.asarray(hours["time"], "datetime64[M]")
    suspect = np.isin(months, np.array(GREENSBORO_SUSPECT_MONTHS, "datetime64[M]"))
    hours["precipitation"] = np.where(suspect, np.nan, hours["precipitation"])
    return make_samples(hours, DEFAULT_LONGITUDE, station=GREENSBORO)


def training_samples(progress: bool = False) -> Samples:
    """The shipped model's training windows: every window of every ISD
    station and year, and Greensboro's training and validation blocks (its
    test blocks stay held out, to compare with the single-station model)."""
    from .samples import concatenate

    greensboro = greensboro_samples()
    greensboro = greensboro.subset(greensboro.split != "test")
    return concatenate([isd.all_samples(progress=progress), greensboro])


def step_train(out: Path, seed: int, progress: bool) -> dict:
    """The shipped float model (training_samples())."""
    from . import train

    data = training_samples(progress)
    train.train(data.x, data.labels, out, seed=seed, progress=progress)
    return {"float_model": str(out), "windows": int(len(data.y))}


def feature_stats(x: np.ndarray) -> dict[str, dict]:
    """Per feature: mean, std, the 9 interior decile edges of the training
    windows' raw values and the share of windows in each of the 10 bins (the
    runtime's input-drift reference: scores.psi)."""
    stats = {}
    for j, name in enumerate(features.FEATURES):
        values = np.asarray(x[:, j], np.float64)
        # Repeated edges (a feature that is often exactly 0) stay: the bins
        # between them are empty, and every card has the same shape.
        edges = np.quantile(values, np.linspace(0.1, 0.9, 9))
        stats[name] = {
            "mean": float(values.mean()),
            "std": float(values.std()),
            "edges": [float(e) for e in edges],
            "shares": [float(v) for v in scores.bin_shares(values, edges)],
        }
    return stats


def step_convert(
    float_path: Path,
    out: Path,
    parity_path: Path,
    crossval_path: Path,
    seed: int,
) -> dict:
    """Quantize, then write the .tflite file, its model card and the parity data."""
    import keras
    import tensorflow as tf

    from . import convert, train

    data = training_samples()
    try:
        model = keras.models.load_model(float_path)
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load the float model {float_path}: {exc}") from None
    norm = train.normalization(data.x)
    summary = crossval_summary(crossval_path)
    thresholds = summary["thresholds"]
    threshold = thresholds[str(features.HORIZON_HOURS)]
    standardized = features.standardize(data.x, **norm)
    convert.write(out, convert.to_int8(model, standardized, seed))

    # Parity windows: Greensboro's held-out blocks and a seeded sample of the
    # training windows.
    greensboro = greensboro_samples().part("test")
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(data.y), PARITY_ISD_WINDOWS, replace=False))
    x_parity = np.concatenate([greensboro.x, data.x[pick]])
    y_parity = np.concatenate([greensboro.labels, data.labels[pick]])
    p_float = train.predict_float(model, features.standardize(x_parity, **norm))
    provisional: dict[str, Any] = {
        "version": "",
        "model_sha256": file_sha256(out),
        "features": list(features.FEATURES),
        "normalization": norm,
        "threshold": threshold,
        "horizon_hours": features.HORIZON_HOURS,
        "horizons": list(features.HORIZONS),
    }
    card_path(out).write_text(json.dumps(provisional))
    scored = score_in_subprocess(out, x_parity)
    p_int8 = scored["p"]
    np.savez_compressed(
        parity_path, x=x_parity, y=y_parity, p_float=p_float.astype(np.float64)
    )
    agreement = parity.compare_horizons(
        y_parity,
        p_float,
        p_int8,
        features.HORIZONS,
        thresholds,
        features.HORIZON_HOURS,
    )
    n_gso = len(greensboro.y)
    gso = horizon_scores(
        greensboro.labels,
        p_int8[:n_gso],
        features.HORIZONS,
        features.HORIZON_HOURS,
        greensboro.onset,
    )
    created = dt.datetime.now(dt.UTC)
    card = {
        "version": f"{created:%Y.%m.%d}-{provisional['model_sha256'][:8]}",
        "created": created.isoformat(timespec="seconds"),
        "task": (
            f"P(precipitation >= {features.RAIN_MM} mm in any of the k hours "
            f"after the window's last hour), k in horizons"
        ),
        "window_hours": features.WINDOW_HOURS,
        "horizons": list(features.HORIZONS),
        "horizon_hours": features.HORIZON_HOURS,
        "rain_mm": features.RAIN_MM,
        "variables": list(features.VARIABLES),
        "features": list(features.FEATURES),
        "normalization": norm,
        "feature_stats": feature_stats(data.x),
        "missing_data": (
            "inputs: newest earlier value, else the first (features.fill_missing); "
            "windows with missing past precipitation or label are not scored"
        ),
        "quantization": {
            "input": _quantization(scored["input_quantization"]),
            "output": _quantization(scored["output_quantization"]),
        },
        "threshold": threshold,
        "thresholds": thresholds,
        "metrics": {
            "held_out": {
                k: summary["pooled"][k]
                for k in ("auc", "brier", "bss", "windows", "onset", "horizons", "sky")
            },
            "seeds": summary["seeds"],
            "greensboro_int8": {
                k: gso[k] for k in ("auc", "brier", "bss", "windows", "onset")
            },
        },
        "parity": agreement,
        "parity_thresholds": parity.THRESHOLDS,
        "windows": {"train": int(len(data.y)), "parity": int(len(y_parity))},
        "model_sha256": provisional["model_sha256"],
        "model_bytes": out.stat().st_size,
        "float_model_sha256": file_sha256(float_path),
        "parity_data_sha256": file_sha256(parity_path),
        "crossval_sha256": file_sha256(crossval_path),
        "dataset": {
            "path": _relative(paths.ISD),
            "sha256sums_sha256": file_sha256(paths.ISD / "SHA256SUMS"),
            "stations": len(isd.stations()),
            "greensboro": {
                "path": _relative(paths.DATASET),
                "sha256": file_sha256(paths.DATASET),
                "used": "training and validation blocks (test blocks held out)",
            },
        },
        "training": {
            "seed": seed,
            "epochs": train.EPOCHS,
            "hidden": list(train.HIDDEN),
            "members": train.MEMBERS,
            "dropout": train.DROPOUT,
            "learning_rate": (
                f"Adam {train.LEARNING_RATE:g}, cosine decay to "
                f"{train.LEARNING_RATE * train.FINAL_LR:g}, batch {train.BATCH}"
            ),
            "evaluation": (
                f"{isd.FOLDS} folds of stations (neighbours within "
                f"{isd.NEIGHBOUR_KM:g} km together); each fold's stations in "
                f"{isd.TEST_YEAR} forecast by a model trained on the other folds "
                f"before {isd.TEST_YEAR}"
            ),
            "representative_windows": convert.REPRESENTATIVE_WINDOWS,
            "threshold_rule": (
                "max F1 of the pooled out-of-fold forecasts, per horizon"
            ),
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
    data_paths: list[Path],
    fmt: str | None,
    longitude: float | None,
    model_path: Path,
) -> dict:
    """Score the INT8 model (tflite-runtime only) on anyone's hourly data.

    Brier skill is against the evaluated data's own rain share, and the
    baselines are fitted on the evaluated data itself, which flatters them:
    a model that beats them there beats them honestly. ``coverage`` is the
    share of windows with a known label and known past precipitation that
    were scored: inputs are filled, so only a month whose temperature or dew
    point is mostly missing (``sparse_months``) leaves windows unscored.
    """
    hours, station = importers.load(list(data_paths), fmt)
    hours, found = importers.tidy(hours)
    warnings: list[str] = []
    listed = station.get("longitude")
    if longitude is None:
        longitude = listed
        if longitude is None:
            why = station.get("listing_error", "the file has no station longitude")
            raise dataset.DatasetError(f"{data_paths[0]}: {why}; pass --longitude")
    try:
        if isinstance(longitude, bool):
            raise TypeError
        longitude = float(longitude)
    except (TypeError, ValueError):
        raise dataset.DatasetError(
            f"{data_paths[0]}: longitude {longitude!r} is not a number"
        ) from None
    if not -180.0 <= longitude <= 180.0:  # also refuses NaN
        raise dataset.DatasetError(
            f"longitude {longitude:g} is not a number of degrees in [-180, 180]"
        )
    # Degrees apart around the globe (179.9 and -179.9 are 0.2 apart).
    if listed is not None and abs((longitude - listed + 180) % 360 - 180) > 1.0:
        warnings.append(
            f"--longitude {longitude:g} overrides the station's listed {listed:g}"
        )
    warnings += clock_warnings(hours, longitude)
    data = make_samples(hours, longitude, split=False)
    sparse = sparse_months(hours)
    if sparse:
        # Filling would carry a few readings over the month's hours.
        inside = np.isin(data.end_times.astype("datetime64[M]"), sparse)
        counts = {**data.counts, "scored": data.counts["scored"] - int(inside.sum())}
        data = data.subset(~inside)
        data.counts = counts
    rainy = int(data.y.sum())
    if min(rainy, len(data.y) - rainy) < FEW_OF_EACH:
        raise dataset.DatasetError(
            f"{data_paths[0]}: too few windows to score ({len(data.y)} windows, "
            f"{rainy} rainy; needs {FEW_OF_EACH} with and {FEW_OF_EACH} without "
            f"rain){_why_few(hours, sparse)}"
        )
    model = RainModel(model_path)
    p = model.predict_horizons(data.x).astype(np.float64)
    labels = model_labels(data, model.horizons)
    default = int(model.card["horizon_hours"])
    result = horizon_scores(
        labels, p, model.horizons, default, data.onset, data.sky_observed
    )
    fitted = fit_baselines(data)
    forecasts = {
        "int8": p[:, model.default_column],
        **baseline_forecasts(fitted, data.x),
    }
    scores = score_all(data.y, forecasts, model.threshold)
    counts = data.counts
    eligible_share = counts["eligible"] / counts["candidates"]
    if eligible_share < ELIGIBLE_SHARE_MIN:
        warnings.append(
            f"only {eligible_share:.1%} of the windows have a known label and "
            "past precipitation (the 1-hour precipitation is mostly missing); "
            f"those scored may not be typical (rain share {data.y.mean():.2f})"
        )
    if len(data.y) < FEW_WINDOWS:
        warnings.append(
            f"{len(data.y):,} windows scored: figures from so few are uncertain"
        )
    return {
        **result,
        "coverage": counts["scored"] / counts["eligible"]
        if counts["eligible"]
        else 0.0,
        # The share of windows whose label and past precipitation the data
        # knows: low for a station whose gauge is mostly missing.
        "eligible_share": eligible_share,
        # The first and last scored window's last hour, UTC.
        "period": [str(data.end_times.min()), str(data.end_times.max())],
        "warnings": warnings,
        "sparse_months": [str(m) for m in sparse],
        "skipped": int(counts["candidates"] - len(data.y)),
        "candidates": counts["candidates"],
        "eligible": counts["eligible"],
        "threshold": model.threshold,
        "horizon_hours": default,
        "at_threshold": {
            k: scores["int8"][k]
            for k in ("precision", "recall", "f1", "tp", "fp", "fn")
        },
        "baselines": {name: scores[name] for name in ("climatology", "persistence")},
        "margins": margins(scores, "int8"),
        "rain_share": float(data.y.mean()),
        # Never reported by this series, read as constants (fill_unobserved).
        "unobserved": list(data.unobserved),
        "found": found,
        "station": station,
        "longitude": float(longitude),
        "model": model.info(),
        "in_training": in_training(data_paths, station, data.end_times),
    }


def warmest_solar_hour(hours: dict, longitude: float) -> tuple[float, float]:
    """The local solar hour of the day's warmest hour (first harmonic of the
    temperature over the hours of the day) and its amplitude (°C)."""
    temperature = np.asarray(hours["temperature_2m"], np.float64)
    seconds = np.asarray(hours["time"], "datetime64[s]").astype(np.int64)
    known = np.isfinite(temperature)
    solar = (seconds[known] / 3600.0 + longitude / 15.0) % 24 * (2 * np.pi / 24)
    # Around the mean: reports bunched at some hours must not lend it a phase.
    anomaly = temperature[known] - temperature[known].mean()
    cos = np.mean(anomaly * np.cos(solar))
    sin = np.mean(anomaly * np.sin(solar))
    return float(np.degrees(np.arctan2(sin, cos)) / 15.0 % 24), float(
        2 * np.hypot(cos, sin)
    )


def clock_warnings(hours: dict, longitude: float) -> list[str]:
    """A warning when, read with ``longitude``, the day's warmest hour is not
    in the afternoon: the longitude (or the file's clock) is wrong."""
    if np.sum(np.isfinite(np.asarray(hours["temperature_2m"], np.float64))) < 7 * 24:
        return []
    hour, amplitude = warmest_solar_hour(hours, longitude)
    low, high = WARMEST_SOLAR_HOURS
    if amplitude < DIURNAL_MIN_C or low <= hour <= high:
        return []
    return [
        f"with longitude {longitude:g} the day's warmest hour falls at "
        f"{hour:.1f} h local solar time, not between {low:g} and {high:g} h "
        "(13.8-15.9 h at the training stations): is the longitude right "
        "(degrees east, west negative) and are the file's hours UTC?"
    ]


def in_training(data_paths: list[Path], station: dict, end_times: np.ndarray) -> bool:
    """Whether the shipped model trained on these hours: a committed ISD
    station in a committed year, or Greensboro's typical year. Its
    figures there flatter it; the held-out ones are the report's."""
    given = {file_sha256(p) for p in data_paths}
    sums = (paths.ISD / "SHA256SUMS").read_text(encoding="utf-8").split()
    if given & {file_sha256(paths.DATASET), *sums[::2]}:
        return True  # a committed file, whatever its name
    if station.get("id") == GREENSBORO:
        # The TMY3 file itself, or any file holding its hours (a typical
        # year's months are real months): real hours of other years are new.
        greensboro = greensboro_samples()
        trained = greensboro.end_times[greensboro.split != "test"]
        return bool(np.isin(end_times, trained).any())
    row = {row["usaf"]: row for row in isd.stations()}.get(station.get("id"))
    if row is None:
        return False
    # Committed files are named USAF-WBAN-YEAR.gz.
    trained = {int(f.name.rsplit("-", 1)[1][:4]) for f in row["files"]}
    years = end_times.astype("datetime64[Y]").astype(int) + 1970
    return bool(np.isin(years, list(trained)).any())


def sparse_months(hours: dict) -> list[np.datetime64]:
    """Months in which temperature or dew point is reported in fewer than
    CORE_REPORTED of the hours: evaluate does not score windows ending in
    them (their inputs would be one old reading, carried)."""
    months = np.asarray(hours["time"], "datetime64[s]").astype("datetime64[M]")
    unique, index = np.unique(months, return_inverse=True)
    sparse = np.zeros(len(unique), bool)
    for name in ("temperature_2m", "dew_point_2m"):
        reported = np.isfinite(np.asarray(hours[name], np.float64))
        share = np.bincount(index, reported, len(unique)) / np.bincount(index)
        sparse |= share < CORE_REPORTED
    return list(unique[sparse])


def _why_few(hours: dict, sparse: list[np.datetime64]) -> str:
    """What left a series with too few windows, for the refusal's message."""
    why = ""
    if sparse:
        why += (
            f"; temperature or dew point is reported in under "
            f"{CORE_REPORTED:.0%} of the hours of {len(sparse)} month(s) "
            f"(first {sparse[0]}), whose windows are not scored"
        )
    n = len(hours["time"])
    rain = np.asarray(hours["precipitation"], np.float64)
    missing = int(np.sum(~np.isfinite(rain)))
    if missing > n / 20:
        why += (
            f"; hourly precipitation is missing or out of range in {missing:,} of "
            f"{n:,} hours"
        )
    return why


PROBE_SECONDS = 60
# Loads a model the way step_inspect does; an exception exits 1 (step_inspect
# then reads the runtime's own message), a crash dies of its signal.
_LOAD_PROBE = """
import sys
from weatherapp.ai.predictor import interpreter_class
interpreter_class()(model_path=sys.argv[1], num_threads=1).allocate_tensors()
"""


def step_inspect(model_path: Path) -> dict:
    """Tensors, quantization, ops and size of any .tflite file (tflite-runtime)."""
    from weatherapp.ai.predictor import interpreter_class

    # The runtime does not verify the flatbuffer: a truncated file crashes
    # the process (SIGSEGV, SIGBUS). Any file may be inspected, so a fresh
    # interpreter process tries it first.
    try:
        probe = subprocess.run(
            [sys.executable, "-c", _LOAD_PROBE, str(Path(model_path).resolve())],
            cwd=paths.ROOT,
            capture_output=True,
            timeout=PROBE_SECONDS,
        )
    except subprocess.TimeoutExpired:
        raise ModelError(
            f"cannot load {model_path}: the runtime did not finish reading it "
            f"within {PROBE_SECONDS} s"
        ) from None
    if probe.returncode < 0:
        crash = signal.Signals(-probe.returncode).name
        raise ModelError(
            f"cannot load {model_path}: not a valid TFLite model (reading it "
            f"crashed the runtime: {crash})"
        )
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
