"""Hours -> labelled feature samples, split by time blocks (numpy only)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from weatherapp.forecast import features

BLOCK_DAYS = 7
# Of every five consecutive blocks: one held out for testing, one to validate
# (early stopping, threshold), three to train. Seasons are spread over all three.
TEST_BLOCK, VALIDATION_BLOCK, BLOCK_CYCLE = 0, 1, 5


@dataclass
class Samples:
    x: np.ndarray  # raw features (n, len(FEATURES)), float32
    y: np.ndarray  # 1 when it rains within the horizon
    end_times: np.ndarray  # UTC datetime64[s] of each window's last hour
    block: np.ndarray  # time block of each sample

    def subset(self, mask: np.ndarray) -> Samples:
        return Samples(
            self.x[mask], self.y[mask], self.end_times[mask], self.block[mask]
        )

    @property
    def split(self) -> np.ndarray:
        """'test', 'validation' or 'train' for each sample."""
        phase = self.block % BLOCK_CYCLE
        return np.where(
            phase == TEST_BLOCK,
            "test",
            np.where(phase == VALIDATION_BLOCK, "validation", "train"),
        )

    def part(self, name: str) -> Samples:
        return self.subset(self.split == name)


def make_samples(
    hours: dict[str, np.ndarray], longitude: float, split: bool = True
) -> Samples:
    """Every window with a known label.

    A sample spans WINDOW_HOURS of input and HORIZON_HOURS of label. With
    ``split``, samples that straddle a block boundary are dropped, which keeps
    overlapping windows from leaking between training and held-out blocks.
    """
    times = np.asarray(hours["time"], dtype="datetime64[s]")
    ends = features.window_ends(times)
    y, known = features.rain_labels(hours, ends)
    ends, y = ends[known], y[known]
    seconds = times.astype(np.int64)
    block_of = seconds // (BLOCK_DAYS * 86400)
    first = ends - features.WINDOW_HOURS + 1
    last = ends + features.HORIZON_HOURS
    inside = block_of[first] == block_of[last] if split else np.ones(len(ends), bool)
    ends, y = ends[inside], y[inside]
    x = features.features(features.stack_windows(hours, ends), times[ends], longitude)
    return Samples(x=x, y=y, end_times=times[ends], block=block_of[ends])
