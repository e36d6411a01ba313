"""Is the model deployable? Shared by /healthz, `manage.py check` and startup.

The cheap checks (files readable, card valid, sha256 as the card says) never
load the interpreter; ``deep=True`` also loads it and checks its tensors.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from django.core import checks

from weatherapp.forecast.card import ModelError, card_path, read_card, verified_bytes


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
        verified_bytes(model_path, read_card(model_path))
    except ModelError as exc:
        return [str(exc)]
    if deep:
        return interpreter_problems(model_path)
    return []


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
def check_model(app_configs, **kwargs) -> list[checks.CheckMessage]:
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
