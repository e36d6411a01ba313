"""How station dependent each feature is: the audit behind docs/MODEL.md's
"Features and transfer" (`python -m model_tools audit`)."""

from __future__ import annotations

import numpy as np

from weatherapp.forecast import features

from . import isd
from .pipeline import FEW_WINDOWS


def station_spread(x: np.ndarray, station: np.ndarray) -> np.ndarray:
    """Per feature (column of ``x``): the standard deviation of the station
    means in units of the within-station standard deviation (the root of the
    stations' mean variance). 0 when every station reads alike; 1 when
    stations differ as much as a station's own hours do, which a model can
    learn as "where" instead of "what weather"."""
    x = np.asarray(x, np.float64)
    names = np.unique(station)
    means = np.array([x[station == s].mean(axis=0) for s in names])
    variances = np.array([x[station == s].var(axis=0) for s in names])
    within = np.sqrt(variances.mean(axis=0))
    safe = np.where(within > 0, within, 1.0)
    return np.where(within > 0, means.std(axis=0) / safe, 0.0)


def step_audit(progress: bool) -> dict:
    """station_spread() of every feature over the stations' windows before
    the held-out year (stations with FEW_WINDOWS or more)."""
    data = isd.all_samples(progress=progress)
    data = data.subset(data.year < isd.TEST_YEAR)
    names, counts = np.unique(data.station, return_counts=True)
    data = data.subset(np.isin(data.station, names[counts >= FEW_WINDOWS]))
    spread = station_spread(data.x, data.station)
    return {
        "stations": int(np.sum(counts >= FEW_WINDOWS)),
        "windows": int(len(data.y)),
        "spread": {
            name: round(float(v), 3)
            for name, v in zip(features.FEATURES, spread, strict=True)
        },
    }
