"""The ops endpoints: /healthz for the router and uptime checks, /metrics for
Prometheus. Neither loads numpy or the model."""

from __future__ import annotations

import os
import sys

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from weatherapp.models import Alert
from weatherapp.responses import only

from . import metrics


@only("GET")
def healthz(request: HttpRequest) -> JsonResponse:
    """Process up and the model files intact, without loading the interpreter."""
    from .health import model_problems

    problems = model_problems(settings.MODEL_PATH)
    # Only look at the model if this process already imported the predictor.
    predictor = sys.modules.get("weatherapp.ai.predictor")
    model = predictor.loaded_model() if predictor else None
    body: dict[str, object] = {
        "status": "degraded" if problems else "ok",
        "model_file": os.path.basename(settings.MODEL_PATH),
        "model_loaded": bool(model and model.loaded),
    }
    if problems:
        body["problems"] = problems
    return JsonResponse(body, status=503 if problems else 200)


@only("GET")
def prometheus(request: HttpRequest) -> HttpResponse:
    """Prometheus text: memory, model, predictions, inference latency, alerts."""
    from django.db.models import Count

    from .memory import own_rss_bytes

    predictor = sys.modules.get("weatherapp.ai.predictor")
    model = predictor.loaded_model() if predictor else None
    alerts = dict(
        Alert.objects.values_list("status").annotate(n=Count("id")).order_by()
    )
    for status in Alert.Status.values:
        alerts.setdefault(status, 0)
    text = metrics.render(own_rss_bytes(), bool(model and model.loaded), alerts)
    return HttpResponse(text, content_type="text/plain; version=0.0.4; charset=utf-8")
