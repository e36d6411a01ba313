"""Hours -> labelled feature samples (numpy only).

A sample is one window of WINDOW_HOURS with raw features and the labels of
every horizon (rain within 1..6 h). Inputs are filled by the runtime's own
policy (features.fill_missing); a window is *eligible* when its label hours
and its past precipitation are known, and *scored* when, in addition, every
input could be filled. A station that never reports pressure, cloud cover or
wind reads a constant for it (features.fill_unobserved); one that never
reports temperature, dew point or relative humidity cannot be scored. A
window that ends before a variable's first report is read the same way:
nothing after its end is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from weatherapp.forecast import features

BLOCK_DAYS = 7
# Of every five consecutive blocks: one held out for testing, one to validate,
# three to train (the split of a single-station dataset, e.g. Greensboro).
TEST_BLOCK, VALIDATION_BLOCK, BLOCK_CYCLE = 0, 1, 5
DEFAULT = features.HORIZONS.index(features.HORIZON_HOURS)
# Windows are reported as "sky observed" when cloud cover was observed in
# each of their last 6 hours, "filled" otherwise.
CLOUD_HOURS = 6


@dataclass
class Samples:
    x: np.ndarray  # raw features (n, len(FEATURES)), float32
    labels: np.ndarray  # (n, len(HORIZONS)) int8: rain within k hours
    end_times: np.ndarray  # UTC datetime64[s] of each window's last hour
    block: np.ndarray  # 7-day time block of each sample
    station: np.ndarray  # station id of each sample ("" when unknown)
    sky_observed: np.ndarray  # cloud cover observed in all of the last 6 hours
    counts: dict[str, int] = field(default_factory=dict)
    # Variables the series never reported, read as constants (fill_unobserved).
    unobserved: tuple[str, ...] = ()

    @property
    def y(self) -> np.ndarray:
        """Labels at the default alert horizon (HORIZON_HOURS)."""
        return self.labels[:, DEFAULT]

    @property
    def onset(self) -> np.ndarray:
        """Windows whose last hour was dry: where an alert is news."""
        return self.x[:, features.FEATURES.index("precipitation_log1p")] < np.log1p(
            features.RAIN_MM
        )

    @property
    def year(self) -> np.ndarray:
        return self.end_times.astype("datetime64[Y]").astype(np.int64) + 1970

    def subset(self, mask: np.ndarray) -> Samples:
        return Samples(
            self.x[mask],
            self.labels[mask],
            self.end_times[mask],
            self.block[mask],
            self.station[mask],
            self.sky_observed[mask],
            {},
            self.unobserved,
        )

    @property
    def split(self) -> np.ndarray:
        """'test', 'validation' or 'train' for each sample (7-day blocks)."""
        phase = self.block % BLOCK_CYCLE
        return np.where(
            phase == TEST_BLOCK,
            "test",
            np.where(phase == VALIDATION_BLOCK, "validation", "train"),
        )

    def part(self, name: str) -> Samples:
        return self.subset(self.split == name)


def concatenate(parts: list[Samples]) -> Samples:
    counts: dict[str, int] = {}
    for p in parts:
        for k, v in p.counts.items():
            counts[k] = counts.get(k, 0) + v
    return Samples(
        np.concatenate([p.x for p in parts]),
        np.concatenate([p.labels for p in parts]),
        np.concatenate([p.end_times for p in parts]),
        np.concatenate([p.block for p in parts]),
        np.concatenate([p.station for p in parts]),
        np.concatenate([p.sky_observed for p in parts]),
        counts,
        tuple(sorted({name for p in parts for name in p.unobserved})),
    )


def _before_first_report(
    windows: np.ndarray, hours: dict[str, np.ndarray], ends: np.ndarray
) -> None:
    """Windows that end before a variable's first report read it as a series
    that never reports it does (UNOBSERVED_VALUES; temperature, dew point
    and relative humidity have none, so those windows are not scored).

    fill_missing gives the hours before a first report that report's value.
    At runtime the report lies inside the window, since the hours end with
    it; offline it can lie after the window's end, among the hours being
    predicted, and must not be read.
    """
    pressure = features.pressure_variable(hours)
    for j, name in enumerate(features.VARIABLES):
        if name == "precipitation":  # never filled: a gap is not scored
            continue
        source = pressure if name == "surface_pressure" else name
        known = np.isfinite(np.asarray(hours[source], np.float64))
        if known.any():
            unreported = ends < int(np.argmax(known))
            windows[unreported, :, j] = features.UNOBSERVED_VALUES.get(name, np.nan)


def make_samples(
    hours: dict[str, np.ndarray],
    longitude: float,
    split: bool = True,
    station: str = "",
) -> Samples:
    """Every scored window (see the module's docstring), with its counts:
    ``candidates`` (windows of consecutive hours with a whole horizon after
    them), ``eligible`` and ``scored``; coverage is scored / eligible.

    With ``split``, samples that straddle a 7-day block boundary are dropped,
    which keeps overlapping windows from leaking between blocks.
    """
    times = np.asarray(hours["time"], dtype="datetime64[s]")
    longest = max(features.HORIZONS)
    ends = features.window_ends(times)
    ends = ends[ends + longest < len(times)]
    ahead = times[np.minimum(ends + longest, len(times) - 1)] - times[ends]
    ends = ends[ahead == features.HOUR * longest]
    candidates = len(ends)
    labels, known = features.horizon_labels(hours, ends)
    rain = np.asarray(hours["precipitation"], np.float64)
    offsets = np.arange(-features.WINDOW_HOURS + 1, 1)
    past_known = np.isfinite(rain[ends[:, None] + offsets[None, :]]).all(axis=1)
    eligible = known & past_known
    ends, labels = ends[eligible], labels[eligible]
    filled, unobserved = features.fill_unobserved(hours)
    windows = features.stack_windows(features.fill_missing(filled), ends)
    _before_first_report(windows, filled, ends)
    scored = np.isfinite(windows).all(axis=(1, 2))
    ends, labels, windows = ends[scored], labels[scored], windows[scored]
    seconds = times.astype(np.int64)
    block_of = seconds // (BLOCK_DAYS * 86400)
    if split:
        inside = block_of[ends - features.WINDOW_HOURS + 1] == block_of[ends + longest]
        ends, labels, windows = ends[inside], labels[inside], windows[inside]
    cloud = np.asarray(hours["cloud_cover"], np.float64)
    recent = np.arange(-CLOUD_HOURS + 1, 1)
    sky = np.isfinite(cloud[ends[:, None] + recent[None, :]]).all(axis=1)
    x = features.features(windows, times[ends], longitude)
    return Samples(
        x=x,
        labels=labels,
        end_times=times[ends],
        block=block_of[ends],
        station=np.full(len(ends), station),
        sky_observed=sky,
        counts={
            "candidates": int(candidates),
            "eligible": int(eligible.sum()),
            "scored": int(scored.sum()),
        },
        unobserved=tuple(unobserved),
    )
