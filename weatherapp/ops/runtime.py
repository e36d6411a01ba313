"""This process's rain model as the settings name it, counted for /metrics.

The one way Django code reaches the predictor: the predictor itself knows
nothing of settings. Importing this module loads neither numpy nor the model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from weatherapp.ai.predictor import RainModel


def rain_model(observed: bool = True) -> RainModel:
    """The process-wide model of ``settings.MODEL_PATH`` (made on first use).

    ``observed``: its invocations are timed for /metrics. The worker's cycle
    says no: /metrics is served by the web dyno, which never sees a worker's
    counts, and prometheus_client would cost the worker ~8 MB for them."""
    from django.conf import settings

    from weatherapp.ai.predictor import get_model

    if not observed:
        return get_model(settings.MODEL_PATH)

    from .metrics import observe_inference

    return get_model(settings.MODEL_PATH, observe_inference)
