"""The ops endpoints: /healthz for the router and uptime checks, /metrics for
Prometheus. Neither loads numpy or the model."""

from __future__ import annotations

import hmac
import os
import sys

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from weatherapp.forecast.card import ModelError
from weatherapp.models import Alert, FaultCount
from weatherapp.responses import error, only

from . import metrics


# Read-only: exempt, so another method gets its JSON 405 instead of the
# CSRF check's HTML 403 (as under /api/).
@csrf_exempt
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


def metrics_refusal(request: HttpRequest) -> JsonResponse | None:
    """None when the request may read /metrics (a staff session, or
    ``Authorization: Bearer`` METRICS_TOKEN); else the JSON 401 or 403."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    expected = settings.METRICS_TOKEN
    if scheme.lower() == "bearer" and token.strip():
        if expected and hmac.compare_digest(
            token.strip().encode("utf-8", "replace"), expected.encode()
        ):
            return None
        response = error(401, "the bearer token is not the metrics token", "token")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        if user.is_staff:
            return None
        return error(403, "metrics are for staff only", "token")
    response = error(
        401, "metrics need a staff session or the metrics bearer token", "token"
    )
    response["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response


@csrf_exempt
@only("GET")
def prometheus(request: HttpRequest) -> HttpResponse:
    """Prometheus text: memory, model, predictions, inference latency, alerts."""
    refusal = metrics_refusal(request)
    if refusal is not None:
        return refusal
    try:
        text = metrics.render()
    except ModelError as exc:  # the skill gauges read the model card
        return error(503, f"metrics unavailable: {exc}", "model")
    return HttpResponse(text, content_type="text/plain; version=0.0.4; charset=utf-8")


# What /metrics reads at each scrape, in the process that answers it.
@metrics.scrape_gauge(
    "process_resident_memory_bytes", "Resident memory of the process that answered."
)
def _resident_memory() -> int:
    from .memory import own_rss_bytes

    return own_rss_bytes()


@metrics.scrape_gauge(
    "weatheralert_model_loaded",
    "Whether the process that answered made its interpreter.",
)
def _model_loaded() -> int:
    predictor = sys.modules.get("weatherapp.ai.predictor")
    model = predictor.loaded_model() if predictor else None
    return int(bool(model and model.loaded))


@metrics.scrape_gauge(
    "weatheralert_alerts",
    "Alerts by status (all dynos, from the database).",
    label="status",
)
def _alerts_by_status() -> dict[str, int]:
    from django.db.models import Count

    alerts = dict(
        Alert.objects.values_list("status").annotate(n=Count("id")).order_by()
    )
    return {**dict.fromkeys(Alert.Status.values, 0), **alerts}


@metrics.scrape_gauge(
    "weatheralert_cycle_faults_total",
    "Cells or places the cycle could not handle, by stage (all dynos, from the "
    "database).",
    label="stage",
    counter=True,
)
def _cycle_faults() -> dict[str, int]:
    from django.db.models import Sum

    faults = dict(
        FaultCount.objects.values_list("stage").annotate(n=Sum("count")).order_by()
    )
    return {**dict.fromkeys(FaultCount.Stage.values, 0), **faults}


@metrics.scrape_gauge(
    "weatheralert_weather_requests_today",
    "HTTP requests to the weather API today, UTC (all dynos, from the database).",
)
def _weather_requests() -> float:
    return float(_usage_today()[0])


@metrics.scrape_gauge(
    "weatheralert_weather_calls_today",
    "Weather API calls today as Open-Meteo bills them (one per location).",
)
def _weather_calls() -> float:
    return float(_usage_today()[1])


@metrics.scrape_gauge(
    "weatheralert_weather_call_budget",
    "OPEN_METEO_DAILY_BUDGET: the calls a day we may make.",
)
def _weather_budget() -> float:
    return float(settings.OPEN_METEO_DAILY_BUDGET)


def _usage_today() -> tuple[int, float]:
    from django.utils import timezone

    from weatherapp.models import WeatherUsage

    row = WeatherUsage.objects.filter(day=timezone.now().date()).first()
    return (row.requests, row.calls) if row else (0, 0.0)
