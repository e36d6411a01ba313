"""Is the model deployable? Shared by /healthz, `manage.py check` and startup.

The cheap checks (files readable, card valid, sha256 as the card says) never
load the interpreter; ``deep=True`` also loads it and checks its tensors.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from django.apps import AppConfig
from django.core import checks

from weatherapp.forecast.card import ModelError, card_path, read_card, verified_bytes
from weatherapp.forecast.variables import HORIZON_HOURS


def model_problems(model_path: str | Path, deep: bool = False) -> list[str]:
    model_path = Path(model_path)
    card = card_path(model_path)
    problems = [
        f"{p.name} is missing or unreadable"
        for p in (model_path, card)
        if not (p.is_file() and _readable(p))
    ]
    if problems:
        return problems
    try:
        contents = read_card(model_path)
        verified_bytes(model_path, contents)
    except ModelError as exc:
        return [str(exc)]
    problems = horizon_problems(contents)
    if problems:
        return problems
    if deep:
        return interpreter_problems(model_path)
    return []


def horizon_problems(card: Mapping[str, Any]) -> list[str]:
    """The alert horizon is named twice: by the card (``horizon_hours``, the
    predictor's default column, among its ``horizons``) and by the code
    (HORIZON_HOURS: the decision, the pages, the API). They must agree, and
    the model must predict it."""
    try:
        horizon = int(card["horizon_hours"])
        horizons = [int(k) for k in card.get("horizons", [horizon])]
    except (KeyError, TypeError, ValueError):
        return ["the model card has no whole-hour horizon_hours and horizons"]
    problems = []
    if horizon != HORIZON_HOURS:
        problems.append(
            f"the model card's horizon_hours is {horizon} h, the code's alert "
            f"horizon (HORIZON_HOURS) {HORIZON_HOURS} h"
        )
    for hours, name in ((horizon, "horizon_hours"), (HORIZON_HOURS, "HORIZON_HOURS")):
        if hours not in horizons:
            problems.append(
                f"the model predicts horizons {horizons} h, not {name} ({hours} h)"
            )
    return list(dict.fromkeys(problems))


PROBE = """
import sys
from weatherapp.ai.predictor import ModelError, RainModel
try:
    model = RainModel(sys.argv[1])
    model.predict([[0.0] * len(model.mean)])
except ModelError as exc:
    sys.exit(str(exc))
"""


def interpreter_problems(model_path: Path) -> list[str]:
    """Load and run the model in a child process: tflite-runtime can crash
    (not raise) on a malformed model, and must not take this process along."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(model_path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    if done.returncode < 0:
        signal = -done.returncode
        return [f"tflite-runtime crashed loading {model_path.name} (signal {signal})"]
    if done.returncode:
        lines = done.stderr.strip().splitlines() or ["no output"]
        return [lines[-1]]
    return []


def _readable(path: Path) -> bool:
    try:
        with open(path, "rb"):
            return True
    except OSError:
        return False


@checks.register(checks.Tags.compatibility)
def check_model(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """`python manage.py check` loads the model and reports what is wrong."""
    from django.conf import settings

    return [
        checks.Error(
            problem,
            hint="Restore the file from models/ or set MODEL_PATH.",
            id="weatherapp.E001",
        )
        for problem in model_problems(settings.MODEL_PATH, deep=True)
    ]
