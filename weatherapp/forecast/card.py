"""The model card: the one contract between model_tools (which writes it) and
the runtime (which reads it), and the one check that a model file is the one
its card describes.

numpy-free, so that code which only needs to know whether the model is
deployable (health checks) does not load numpy.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from .variables import FEATURES


class ModelError(RuntimeError):
    """The model file or its card is missing, unreadable or inconsistent."""


def card_path(model_path: str | Path) -> Path:
    """The model card beside a ``.tflite`` file: ``x.tflite`` -> ``x.json``."""
    return Path(model_path).with_suffix(".json")


def read_card(model_path: str | Path) -> dict[str, Any]:
    """The card of ``model_path``, checked against this code's features."""
    path = card_path(model_path)
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"model card {path.name}: {exc}") from None
    if not isinstance(card, dict) or not isinstance(card.get("model_sha256"), str):
        raise ModelError(f"{path.name} is not a model card (no model_sha256)")
    if list(card.get("features", [])) != list(FEATURES):
        raise ModelError(f"{path.name}: features differ from this code's")
    return card


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def verified_bytes(model_path: str | Path, card: dict[str, Any]) -> bytes:
    """The model file's bytes, if and only if their sha256 is the card's.

    tflite-runtime can crash the process on a malformed flatbuffer, so only
    bytes the card vouches for may reach an interpreter.
    """
    path = Path(model_path)
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read {path.name}: {exc.strerror or exc}") from None
    if hashlib.sha256(content).hexdigest() != card["model_sha256"]:
        raise ModelError(f"{path.name} does not match its model card (sha256 differs)")
    return content
