"""The committed ISD-Lite stations (data/isd-lite): listing, samples, folds."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from . import importers, paths
from .samples import Samples, concatenate, make_samples

# Stations closer than this share weather systems (the three Miami stations
# are 9-32 km apart): they go into the same fold, never one in training and
# its neighbour in the test.
NEIGHBOUR_KM = 150.0
# The data's README counts Ogden among neighbouring pairs, but no other
# station of the list lies within 250 km of Ogden Hinkley (725750); its
# nearest, Idaho Falls (258 km), shares the northern Great Basin's weather, so
# the two are linked by hand.
LINKED = (("725750", "725785"),)
FOLDS = 4
TEST_YEAR = 2019


def stations(root: Path = paths.ISD) -> list[dict]:
    with open(root / "stations.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for key in ("latitude", "longitude", "elevation_m"):
            row[key] = float(row[key])
        row["files"] = sorted(root.glob(f"{row['usaf']}-{row['wban']}-*.gz"))
    return rows


def station_samples(
    row: dict, split: bool = False
) -> tuple[Samples, dict[str, object]]:
    hours, _ = importers.load([str(p) for p in row["files"]], "isd-lite")
    hours, found = importers.tidy(hours)
    data = make_samples(hours, row["longitude"], split=split, station=row["usaf"])
    return data, found


def all_samples(root: Path = paths.ISD, progress: bool = False) -> Samples:
    from tqdm import tqdm

    rows = stations(root)
    parts = [
        station_samples(row)[0]
        for row in tqdm(rows, desc="stations", unit="station", disable=not progress)
    ]
    return concatenate(parts)


def _km(a: dict, b: dict) -> float:
    la1, lo1, la2, lo2 = map(
        math.radians, (a["latitude"], a["longitude"], b["latitude"], b["longitude"])
    )
    c = math.sin(la1) * math.sin(la2) + math.cos(la1) * math.cos(la2) * math.cos(
        lo1 - lo2
    )
    return 6371.0 * math.acos(max(-1.0, min(1.0, c)))


def neighbour_groups(rows: list[dict]) -> list[list[str]]:
    """Stations linked by chains of neighbours closer than NEIGHBOUR_KM."""
    parent = {r["usaf"]: r["usaf"] for r in rows}

    def root(u: str) -> str:
        while parent[u] != u:
            u = parent[u]
        return u

    for i, a in enumerate(rows):
        for b in rows[i + 1 :]:
            if _km(a, b) < NEIGHBOUR_KM:
                parent[root(b["usaf"])] = root(a["usaf"])
    for a_id, b_id in LINKED:
        if a_id in parent and b_id in parent:
            parent[root(b_id)] = root(a_id)
    groups: dict[str, list[str]] = {}
    for r in rows:
        groups.setdefault(root(r["usaf"]), []).append(r["usaf"])
    return sorted(groups.values())


def folds(rows: list[dict], k: int = FOLDS) -> dict[str, int]:
    """Station -> fold: neighbour groups kept whole, largest first into the
    emptiest fold, ties by station id, so the folds are fixed by the list."""
    size = [0] * k
    fold_of: dict[str, int] = {}
    for group in sorted(neighbour_groups(rows), key=lambda g: (-len(g), g[0])):
        target = min(range(k), key=lambda j: (size[j], j))
        for usaf in group:
            fold_of[usaf] = target
        size[target] += len(group)
    return fold_of


def fold_array(data: Samples, fold_of: dict[str, int]) -> np.ndarray:
    return np.array([fold_of[s] for s in data.station], dtype=np.int64)
