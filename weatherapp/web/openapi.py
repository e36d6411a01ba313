"""The OpenAPI 3.1 description of the JSON API, served at /api/v1/openapi.json."""

from __future__ import annotations

from weatherapp.forecast.variables import VARIABLES

NUMBERS = {"type": "array", "items": {"type": "number"}}
ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string", "description": "what is wrong"},
        "field": {"type": "string", "description": "where: a field, header or part"},
    },
}


def _error(description: str) -> dict:
    return {
        "description": description,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
        },
    }


PLACE = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "latitude": {"type": "number"},
        "longitude": {"type": "number"},
        "timezone": {"type": "string"},
        "threshold": {"type": "number"},
        "quiet_start": {"type": ["string", "null"]},
        "quiet_end": {"type": ["string", "null"]},
        "email_enabled": {"type": "boolean"},
        "webhook_url": {"type": ["string", "null"]},
        "active": {"type": "boolean"},
        "rain_event_open": {"type": "boolean"},
        "latest": {
            "type": ["object", "null"],
            "properties": {
                "probability": {"type": "number"},
                "valid_at": {"type": "string", "format": "date-time"},
            },
        },
    },
}
TOKEN_ERRORS = {
    "401": _error("no or an unknown API token"),
    "405": _error("another method than GET"),
}
PLACE_ID = {
    "name": "place_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
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
            "person's own places and alerts.",
        },
        "paths": {
            "/api/v1/predict": {
                "post": {
                    "operationId": "predict",
                    "summary": "P(>= 0.1 mm of rain within 3 h) after the newest hour",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "$ref": "#/components/schemas/OpenMeteoHourly"
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "the probability",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "$ref": "#/components/schemas/Prediction"
                                    }
                                }
                            },
                        },
                        "400": _error("malformed, missing, out-of-range or NaN input"),
                        "405": _error("another method than POST"),
                        "413": _error("body over 256 KB"),
                        "415": _error("not application/json"),
                        "429": _error("rate limit; see Retry-After"),
                        "503": _error("the model is unavailable"),
                    },
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "health",
                    "responses": {
                        "200": {"description": "ok"},
                        "503": {"description": "degraded, with the problems"},
                    },
                }
            },
            "/api/v1/places": {
                "get": {
                    "operationId": "listPlaces",
                    "security": [{"token": []}],
                    "responses": {
                        "200": {
                            "description": "your places",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {
                                            "places": {
                                                "type": "array",
                                                "items": {
                                                    "$ref": "#/components/schemas/Place"
                                                },
                                            }
                                        },
                                    }
                                }
                            },
                        },
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
                        "200": {
                            "description": "one of your places",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Place"}
                                }
                            },
                        },
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
                            "schema": {"type": "integer", "minimum": 1, "maximum": 500},
                        },
                    ],
                    "responses": {
                        "200": {"description": "newest first"},
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
                        "200": {"description": "newest first"},
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
                "Prediction": {
                    "type": "object",
                    "properties": {
                        "probability": {"type": "number", "minimum": 0, "maximum": 1},
                        "horizon_hours": {"type": "integer"},
                        "threshold": {"type": "number"},
                        "valid_at": {"type": "string"},
                        "model": {
                            "type": "object",
                            "properties": {
                                "version": {"type": "string"},
                                "sha256": {"type": "string"},
                            },
                        },
                    },
                },
            },
        },
    }
