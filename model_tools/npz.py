"""Reading the toolchain's .npz files, which a person may point anywhere."""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def load(path: Path, keys: Sequence[str], what: str) -> dict[str, np.ndarray]:
    """The arrays ``keys`` of the .npz file at ``path``. A file that is not
    one, or lacks one of them, is a ValueError naming it as ``what``: a
    truncated archive, a bare .npy (no context manager: TypeError) or a
    pickle (ValueError) raised tracebacks."""
    try:
        with np.load(path) as data:
            return {k: data[k] for k in keys}
    except (zipfile.BadZipFile, EOFError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: not {what} ({exc})") from None
