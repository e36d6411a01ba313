"""The JSON API (described by openapi.py): every failure is a JSON error naming
the problem, never a 500.

- ``POST /api/v1/predict`` is public, rate-limited per client address.
- ``/api/v1/places...`` and ``/api/v1/alerts`` serve one person's own data to
  ``Authorization: Bearer <token>``; anyone else's ids are 404.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Concatenate, ParamSpec

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from weatherapp.models import Alert, ApiToken, Place
from weatherapp.ops import metrics
from weatherapp.responses import error, only

from . import ratelimit
from .paging import whole_number, with_latest

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from weatherapp.ai.predictor import RainModel

log = logging.getLogger(__name__)


@csrf_exempt
@only("POST")
def predict(request: HttpRequest) -> JsonResponse:
    """POST an Open-Meteo hourly response; get P(rain within the horizon)."""
    verdict = ratelimit.hit(
        "predict", ratelimit.client_ip(request), settings.PREDICT_RATE_LIMIT
    )
    if not verdict.allowed:
        response = error(429, "too many requests; slow down", "rate")
        response["Retry-After"] = str(verdict.retry_after)
        return response
    if request.content_type != "application/json":
        return error(415, "Content-Type must be application/json", "Content-Type")
    if "CONTENT_LENGTH" not in request.META and request.headers.get(
        "Transfer-Encoding"
    ):
        # Django reads a body of Content-Length bytes only: a chunked one
        # would be read as empty and called malformed JSON.
        return error(
            411, "send the body with a Content-Length, not chunked", "Content-Length"
        )
    try:
        raw = request.body
    except RequestDataTooBig:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return error(413, f"body larger than {limit} bytes", "body")
    try:
        body = json.loads(
            raw.decode("utf-8"), parse_constant=_reject_constant, parse_int=_parse_int
        )
    except UnicodeDecodeError:
        return error(400, "body is not UTF-8", "body")
    except RecursionError:
        return error(400, "malformed JSON: nested too deeply", "body")
    except ValueError as exc:
        return error(400, f"malformed JSON: {exc}", "body")

    # numpy and the model are imported on the first prediction only.
    import numpy as np

    from weatherapp.ai.predictor import ModelError, predict_rain_batch
    from weatherapp.forecast import features
    from weatherapp.forecast.openmeteo import OpenMeteoError, parse_hourly

    try:
        hours = parse_hourly(body)
        longitude = body.get("longitude")
        if not isinstance(longitude, int | float) or isinstance(longitude, bool):
            raise features.FeatureError("longitude", "missing or not a number")
        if not -180 <= longitude <= 180:
            raise features.FeatureError("longitude", "must be within [-180, 180]")
        model = usable_model()
        window, end = features.latest_window(hours)
        (row,) = predict_rain_batch(
            window[None], np.array([end]), np.array([float(longitude)]), model
        )
        probability = float(row[model.horizons.index(features.HORIZON_HOURS)])
    except OpenMeteoError as exc:
        return error(400, f"the body is an Open-Meteo error: {exc}", "error")
    except features.FeatureError as exc:
        # check_hours names bare variables; in the body they live under "hourly".
        hourly = exc.field in (*features.VARIABLES, *features.PRESSURE_ALIASES, "time")
        return error(400, exc.message, f"hourly.{exc.field}" if hourly else exc.field)
    except ModelError as exc:
        log.error("prediction unavailable: %s", exc)
        return error(503, f"the rain model is unavailable: {exc}")
    metrics.count_prediction()
    return JsonResponse(
        {
            "probability": round(probability, 4),
            "horizon_hours": features.HORIZON_HOURS,
            # P(rain within k hours) for every hour k the model predicts.
            "horizons": {
                str(k): round(float(p), 4)
                for k, p in zip(model.horizons, row, strict=True)
            },
            "threshold": model.threshold,
            "valid_at": f"{hours['time'][-1]}Z",
            "model": model.info(),
        }
    )


def usable_model() -> RainModel:
    """This process's model, if it predicts the alert horizon the API answers
    for; else ModelError (a 503 naming the problem, not a 500)."""
    from weatherapp.ai.predictor import ModelError
    from weatherapp.forecast.card import read_card
    from weatherapp.ops.health import horizon_problems
    from weatherapp.ops.runtime import rain_model

    try:
        model = rain_model()
    except (KeyError, TypeError, ValueError) as exc:  # a card it cannot read
        problems = horizon_problems(read_card(settings.MODEL_PATH)) or [
            f"the model card is not usable ({exc!r})"
        ]
    else:
        problems = horizon_problems(model.card)
    if problems:
        raise ModelError("; ".join(problems))
    return model


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def _parse_int(digits: str) -> int:
    try:
        return int(digits)
    except ValueError:
        # Python's own message past 4,300 digits tells the client to call
        # sys.set_int_max_str_digits().
        raise ValueError(f"a number of {len(digits)} digits is too long") from None


@csrf_exempt
@only("GET")
def openapi(request: HttpRequest) -> JsonResponse:
    from .openapi import document

    return JsonResponse(document())


# -- a person's own data, by token --------------------------------------------


def token_owner(request: HttpRequest) -> User | None:
    """The user whose API token authorizes ``request``, or None."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.startswith(ApiToken.PREFIX):
        return None
    row = (
        ApiToken.objects.select_related("owner")
        .filter(key_hash=ApiToken.digest(token.strip()))
        .first()
    )
    if row is None or not row.owner.is_active:
        return None
    ApiToken.objects.filter(pk=row.pk).update(last_used_at=timezone.now())
    return row.owner


_P = ParamSpec("_P")


def with_token(
    view: Callable[Concatenate[HttpRequest, User, _P], HttpResponse],
) -> Callable[Concatenate[HttpRequest, _P], HttpResponse]:
    """``view(request, owner, ...)`` for requests with a valid API token;
    a JSON 401 for the rest."""

    @functools.wraps(view)
    def wrapper(
        request: HttpRequest, *args: _P.args, **kwargs: _P.kwargs
    ) -> HttpResponse:
        owner = token_owner(request)
        if owner is None:
            response = error(
                401, "send Authorization: Bearer <your API token>", "token"
            )
            response["WWW-Authenticate"] = 'Bearer realm="weatheralert"'
            return response
        return view(request, owner, *args, **kwargs)

    return wrapper


def place_json(place: Place) -> dict:
    """``place`` as JSON; ``place`` comes from ``paging.with_latest``."""
    probability = place.latest_probability
    valid_at = place.latest_valid_at  # type: ignore[attr-defined]
    return {
        "id": place.pk,
        "name": place.name,
        "latitude": place.latitude,
        "longitude": place.longitude,
        "timezone": place.timezone,
        "threshold": place.threshold,
        "quiet_start": place.quiet_start.isoformat() if place.quiet_start else None,
        "quiet_end": place.quiet_end.isoformat() if place.quiet_end else None,
        "email_enabled": place.email_enabled,
        "webhook_url": place.webhook_url or None,
        "active": place.active,
        "rain_event_open": place.rain_event_open,
        "forecaster": place.forecaster,
        "latest": (
            {"probability": probability, "valid_at": valid_at.isoformat()}
            if valid_at is not None
            else None
        ),
    }


PAGE_LIMIT = 50  # places per page unless ?limit= says otherwise
MAX_PAGE_LIMIT = 200
MAX_PAGE = 10**6


@csrf_exempt
@only("GET")
@with_token
def places(request: HttpRequest, owner: User) -> JsonResponse:
    """A page of the person's places, ordered by name; ``next`` links the next."""
    limit = whole_number(request.GET.get("limit", str(PAGE_LIMIT)), 1, MAX_PAGE_LIMIT)
    if limit is None:
        return error(
            400, f"limit must be a whole number from 1 to {MAX_PAGE_LIMIT}", "limit"
        )
    page = whole_number(request.GET.get("page", "1"), 1, MAX_PAGE)
    if page is None:
        return error(400, f"page must be a whole number from 1 to {MAX_PAGE}", "page")
    start = (page - 1) * limit
    # One row more than the page tells whether there is a next page.
    rows = list(with_latest(owner.places.all())[start : start + limit + 1])
    more = len(rows) > limit
    return JsonResponse(
        {
            "places": [place_json(p) for p in rows[:limit]],
            "next": f"{request.path}?page={page + 1}&limit={limit}" if more else None,
        }
    )


def owned_place(owner: User, place_id: str) -> Place | None:
    """The person's place with the id ``place_id`` (path text), or None."""
    pk = whole_number(place_id, 1)
    if pk is None:
        return None
    return with_latest(Place.objects.filter(pk=pk, owner=owner)).first()


def no_place(place_id: str) -> JsonResponse:
    shown = place_id if len(place_id) <= 40 else f"{place_id[:40]}..."
    return error(404, f"you have no place {shown}", "place_id")


@csrf_exempt
@only("GET")
@with_token
def place_detail(request: HttpRequest, owner: User, place_id: str) -> JsonResponse:
    place = owned_place(owner, place_id)
    if place is None:
        return no_place(place_id)
    return JsonResponse(place_json(place))


@csrf_exempt
@only("GET")
@with_token
def place_predictions(request: HttpRequest, owner: User, place_id: str) -> JsonResponse:
    place = owned_place(owner, place_id)
    if place is None:
        return no_place(place_id)
    limit = whole_number(request.GET.get("limit", "24"), 1, 500)
    if limit is None:
        return error(400, "limit must be a whole number from 1 to 500", "limit")
    rows = place.predictions().select_related("model")[:limit]
    return JsonResponse(
        {
            "place_id": place.pk,
            "predictions": [
                {
                    "valid_at": p.valid_at.isoformat(),
                    "probability": place.alert_probability(p.probabilities, p.provider),
                    "model_version": p.model_version,
                }
                for p in rows
            ],
        }
    )


@csrf_exempt
@only("GET")
@with_token
def alerts(request: HttpRequest, owner: User) -> JsonResponse:
    rows = (
        Alert.objects.filter(place__owner=owner)
        .select_related("place")
        .prefetch_related("deliveries")[:200]
    )
    return JsonResponse(
        {
            "alerts": [
                {
                    "id": a.pk,
                    "place_id": a.place_id,
                    "event_started_at": a.event_started_at.isoformat(),
                    "probability": a.probability,
                    "status": a.status,
                    "deliveries": [
                        {
                            "channel": d.channel,
                            "attempt": d.attempt,
                            "outcome": d.outcome,
                            "detail": d.detail,
                            "at": d.created_at.isoformat(),
                        }
                        for d in a.deliveries.all()
                    ],
                }
                for a in rows
            ]
        }
    )


@csrf_exempt
def not_found(request: HttpRequest) -> JsonResponse:
    """Any other path under /api/, by any method: a JSON 404, never HTML."""
    return error(404, f"no API endpoint at {request.path[:200]}", "path")
