"""The JSON API: every failure is a JSON error naming the problem, never a 500."""

from __future__ import annotations

import json
import logging
import os
import sys

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from .ai import card_path

log = logging.getLogger(__name__)


def error(status: int, message: str, field: str | None = None) -> JsonResponse:
    body = {"error": message}
    if field:
        body["field"] = field
    return JsonResponse(body, status=status)


@csrf_exempt
def predict(request: HttpRequest) -> JsonResponse:
    """POST an Open-Meteo hourly response; get P(rain within the horizon)."""
    if request.method != "POST":
        response = error(405, "use POST with an Open-Meteo JSON body")
        response["Allow"] = "POST"
        return response
    if request.content_type != "application/json":
        return error(415, "Content-Type must be application/json", "Content-Type")
    try:
        raw = request.body
    except RequestDataTooBig:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return error(413, f"body larger than {limit} bytes", "body")
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        return error(400, "body is not UTF-8", "body")
    except ValueError as exc:
        return error(400, f"malformed JSON: {exc}", "body")

    # numpy and the model are imported on the first prediction only.
    from .ai import features
    from .ai.predictor import ModelError, get_model, predict_rain
    from .openmeteo import OpenMeteoError, parse_hourly

    try:
        hours = parse_hourly(body)
        longitude = body.get("longitude")
        if not isinstance(longitude, int | float) or isinstance(longitude, bool):
            raise features.FeatureError("longitude", "missing or not a number")
        if not -180 <= longitude <= 180:
            raise features.FeatureError("longitude", "must be within [-180, 180]")
        probability = predict_rain(hours, float(longitude))
        model = get_model()
    except OpenMeteoError as exc:
        return error(400, f"the body is an Open-Meteo error: {exc}", "error")
    except features.FeatureError as exc:
        # check_hours names bare variables; in the body they live under "hourly".
        hourly = exc.field in (*features.VARIABLES, *features.PRESSURE_ALIASES, "time")
        return error(400, exc.message, f"hourly.{exc.field}" if hourly else exc.field)
    except ModelError as exc:
        log.error("prediction unavailable: %s", exc)
        return error(503, "the rain model is unavailable")
    return JsonResponse(
        {
            "probability": round(probability, 4),
            "horizon_hours": features.HORIZON_HOURS,
            "threshold": model.threshold,
            "valid_at": f"{hours['time'][-1]}Z",
            "model": model.info(),
        }
    )


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Process up and model files readable, without loading the interpreter."""
    path = settings.MODEL_PATH
    problems = [
        f"{p} is not readable"
        for p in (path, card_path(path))
        if not (os.path.isfile(p) and os.access(p, os.R_OK))
    ]
    # Only look at the model if this process already imported the predictor.
    predictor = sys.modules.get("weatherapp.ai.predictor")
    model = predictor.loaded_model() if predictor else None
    body = {
        "status": "degraded" if problems else "ok",
        "model_file": os.path.basename(path),
        "model_loaded": bool(model and model.loaded),
    }
    if problems:
        body["problems"] = problems
    return JsonResponse(body, status=503 if problems else 200)
