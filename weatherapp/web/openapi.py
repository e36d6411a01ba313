"""The OpenAPI 3.1 description of the JSON API, served at /api/v1/openapi.json."""

from __future__ import annotations

from weatherapp.forecast.variables import VARIABLES
from weatherapp.models import Alert, Delivery

NUMBERS = {"type": "array", "items": {"type": "number"}}
ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string", "description": "what is wrong"},
        "field": {"type": "string", "description": "where: a field, header or part"},
    },
}


def _json(description: str, schema: dict) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema}},
    }


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description: str) -> dict:
    return _json(description, _ref("Error"))


def _object(properties: dict, optional: tuple[str, ...] = (), **more) -> dict:
    """An object schema whose properties are all required but ``optional``."""
    return {
        "type": "object",
        "required": [k for k in properties if k not in optional],
        "properties": properties,
        **more,
    }


PROBABILITY = {"type": "number", "minimum": 0, "maximum": 1}
DATE_TIME = {"type": "string", "format": "date-time"}
# A place's probability: the one its alerts follow (its forecaster).
FOLLOWED = {
    **PROBABILITY,
    "description": (
        "P(rain within the alert horizon) of the forecaster the place's alerts "
        "follow: ours, or Open-Meteo's where the place chose it and it gave one"
    ),
}


PLACE = _object(
    {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "latitude": {"type": "number"},
        "longitude": {"type": "number"},
        "timezone": {"type": "string"},
        "threshold": {"type": "number"},
        "quiet_start": {"type": ["string", "null"], "description": "HH:MM:SS local"},
        "quiet_end": {"type": ["string", "null"], "description": "HH:MM:SS local"},
        "email_enabled": {"type": "boolean"},
        "webhook_url": {"type": ["string", "null"]},
        "active": {"type": "boolean"},
        "rain_event_open": {"type": "boolean"},
        "forecaster": {"type": "string", "enum": ["model", "open_meteo"]},
        "latest": {
            "type": ["object", "null"],
            "required": ["probability", "valid_at"],
            "properties": {"probability": FOLLOWED, "valid_at": DATE_TIME},
        },
    }
)
PLACE_REF = _ref("Place")
TOKEN_ERRORS = {
    "401": _error("no or an unknown API token"),
    "405": _error("another method than GET"),
}
PLACE_ID = {
    "name": "place_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
    "description": "anything but one of your places' ids (letters, a number of "
    "19 digits or more) is a 404",
}


def document() -> dict:
    hourly = {
        "type": "object",
        "required": ["time", *(v for v in VARIABLES if v != "surface_pressure")],
        "properties": {
            "time": {
                "type": "array",
                "items": {"type": ["string", "integer"]},
                "description": "ISO 8601 hours, or unix seconds (timeformat=unixtime)",
            },
            **dict.fromkeys(VARIABLES, NUMBERS),
            "pressure_msl": NUMBERS,
        },
        "description": "at least 24 consecutive hours; the newest 24 are used; "
        "surface_pressure or pressure_msl",
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "weatheralert",
            "version": "1",
            "description": "Rain probabilities from an INT8 TFLite model, and a "
            "person's own places and alerts. Every failure is a JSON Error; any "
            "other path under /api/ answers 404 with an Error, whatever the method "
            "(x-unrouted).",
        },
        # Not OpenAPI's own: what the catch-all route answers for every path under
        # the prefix that no entry of "paths" matches (tests/openapi_contract.py).
        "x-unrouted": {
            "prefix": "/api/",
            "responses": {"404": _error("no such API endpoint, whatever the method")},
        },
        "paths": {
            "/api/v1/predict": {
                "post": {
                    "operationId": "predict",
                    "summary": "P(>= 0.1 mm of rain within 3 h) after the newest hour",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": _ref("OpenMeteoHourly")}
                        },
                    },
                    "responses": {
                        "200": _json("the probability", _ref("Prediction")),
                        "400": _error("malformed, missing, out-of-range or NaN input"),
                        "405": _error("another method than POST"),
                        "411": _error("a chunked body (no Content-Length)"),
                        "413": _error("body over 256 KB"),
                        "415": _error("not application/json"),
                        "429": _error("rate limit; see Retry-After"),
                        "503": _error("the model is unavailable"),
                    },
                }
            },
            "/api/v1/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "this document",
                    "responses": {
                        "200": _json(
                            "the OpenAPI document",
                            _object(
                                {
                                    "openapi": {"type": "string"},
                                    "info": {"type": "object"},
                                    "paths": {"type": "object"},
                                    "components": {"type": "object"},
                                }
                            ),
                        ),
                        "405": _error("another method than GET"),
                    },
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "health",
                    "summary": "the process is up and the model files intact",
                    "responses": {
                        "200": _json("ok", _ref("Health")),
                        "503": _json(
                            "degraded, with the problems",
                            {
                                "allOf": [_ref("Health")],
                                "required": ["problems"],
                                "properties": {"status": {"const": "degraded"}},
                            },
                        ),
                        "405": _error("another method than GET"),
                    },
                }
            },
            "/api/v1/places": {
                "get": {
                    "operationId": "listPlaces",
                    "summary": "your places by name, a page at a time",
                    "security": [{"token": []}],
                    "parameters": [
                        {
                            "name": "page",
                            "in": "query",
                            "schema": {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": 1000000,
                                "default": 1,
                            },
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "description": "places per page",
                            "schema": {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": 200,
                                "default": 50,
                            },
                        },
                    ],
                    "responses": {
                        "200": _json(
                            "a page of your places",
                            _object(
                                {
                                    "places": {
                                        "type": "array",
                                        "maxItems": 200,
                                        "items": PLACE_REF,
                                    },
                                    "next": {
                                        "type": ["string", "null"],
                                        "description": "the next page's path and "
                                        "query; null on the last page",
                                    },
                                }
                            ),
                        ),
                        "400": _error("a bad page or limit"),
                        **TOKEN_ERRORS,
                    },
                }
            },
            "/api/v1/places/{place_id}": {
                "get": {
                    "operationId": "getPlace",
                    "security": [{"token": []}],
                    "parameters": [PLACE_ID],
                    "responses": {
                        "200": _json("one of your places", PLACE_REF),
                        "404": _error("not one of your places"),
                        **TOKEN_ERRORS,
                    },
                }
            },
            "/api/v1/places/{place_id}/predictions": {
                "get": {
                    "operationId": "listPredictions",
                    "security": [{"token": []}],
                    "parameters": [
                        PLACE_ID,
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": 500,
                                "default": 24,
                            },
                        },
                    ],
                    "responses": {
                        "200": _json(
                            "newest first",
                            _object(
                                {
                                    "place_id": {"type": "integer"},
                                    "predictions": {
                                        "type": "array",
                                        "items": _object(
                                            {
                                                "valid_at": DATE_TIME,
                                                "probability": FOLLOWED,
                                                "model_version": {"type": "string"},
                                            }
                                        ),
                                    },
                                }
                            ),
                        ),
                        "400": _error("a bad limit"),
                        "404": _error("not one of your places"),
                        **TOKEN_ERRORS,
                    },
                }
            },
            "/api/v1/alerts": {
                "get": {
                    "operationId": "listAlerts",
                    "security": [{"token": []}],
                    "responses": {
                        "200": _json(
                            "newest first, at most 200",
                            _object(
                                {
                                    "alerts": {
                                        "type": "array",
                                        "maxItems": 200,
                                        "items": _ref("Alert"),
                                    }
                                }
                            ),
                        ),
                        **TOKEN_ERRORS,
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": ERROR,
                "Place": PLACE,
                "OpenMeteoHourly": {
                    "type": "object",
                    "required": ["longitude", "hourly"],
                    "properties": {
                        "latitude": {"type": "number"},
                        "longitude": {
                            "type": "number",
                            "minimum": -180,
                            "maximum": 180,
                        },
                        "utc_offset_seconds": {"type": "integer"},
                        "hourly_units": {"type": "object"},
                        "hourly": hourly,
                    },
                },
                "Prediction": _object(
                    {
                        "probability": PROBABILITY,
                        "horizon_hours": {"type": "integer"},
                        "horizons": {
                            "type": "object",
                            "description": (
                                "P(rain >= 0.1 mm within k hours) for each hour "
                                'k the model predicts ("1" ... "6"); '
                                "probability is the one at horizon_hours"
                            ),
                            "additionalProperties": PROBABILITY,
                        },
                        "threshold": {"type": "number"},
                        "valid_at": {
                            "type": "string",
                            "description": "the newest hour of the input, UTC",
                        },
                        "model": _object(
                            {
                                "version": {"type": "string"},
                                "sha256": {"type": "string"},
                            }
                        ),
                    }
                ),
                "Alert": _object(
                    {
                        "id": {"type": "integer"},
                        "place_id": {"type": "integer"},
                        "event_started_at": DATE_TIME,
                        "probability": PROBABILITY,
                        "status": {"enum": list(Alert.Status.values)},
                        "deliveries": {
                            "type": "array",
                            "items": _object(
                                {
                                    "channel": {"enum": list(Delivery.Channel.values)},
                                    "attempt": {"type": "integer", "minimum": 1},
                                    "outcome": {"enum": list(Delivery.Outcome.values)},
                                    "detail": {"type": "string"},
                                    "at": DATE_TIME,
                                }
                            ),
                        },
                    }
                ),
                "Health": _object(
                    {
                        "status": {"enum": ["ok", "degraded"]},
                        "model_file": {"type": "string"},
                        "model_loaded": {"type": "boolean"},
                        "problems": {"type": "array", "items": {"type": "string"}},
                    },
                    optional=("problems",),
                ),
            },
        },
    }
