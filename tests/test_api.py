"""POST /api/v1/predict and GET /healthz through Django's full request path."""

import copy
import json

import numpy as np
import pytest

from support import LONGITUDE, ROOT, open_meteo_body
from weatherapp.ai import predictor
from weatherapp.forecast import features

END = 2000  # an hour of the committed data with a full window before it


@pytest.fixture
def body(hours):
    return open_meteo_body(hours, END)


def post(client, payload, content_type="application/json"):
    data = payload if isinstance(payload, str | bytes) else json.dumps(payload)
    return client.post("/api/v1/predict", data, content_type=content_type)


def test_prediction_from_an_open_meteo_response(client, body, hours):
    response = post(client, body)
    assert response.status_code == 200, response.content
    result = response.json()
    window = {k: v[END - 23 : END + 1] for k, v in hours.items()}
    assert result["probability"] == pytest.approx(
        predictor.predict_rain(window, LONGITUDE), abs=1e-4
    )
    assert result["horizon_hours"] == 3
    card = predictor.get_model().card
    assert result["threshold"] == card["threshold"]
    assert result["model"] == {
        "version": card["version"],
        "sha256": card["model_sha256"],
    }


def test_every_horizon_beside_the_probability(client, body, hours):
    result = post(client, body).json()
    horizons = result["horizons"]
    assert list(horizons) == ["1", "2", "3", "4", "5", "6"]
    values = list(horizons.values())
    assert values == sorted(values)  # rain within 2 h is at least as likely as 1 h
    assert horizons["3"] == result["probability"]
    window = {k: v[END - 23 : END + 1] for k, v in hours.items()}
    windows, ends = features.stack_windows(window, [23]), window["time"][[23]]
    (row,) = predictor.predict_rain_batch(windows, ends, np.array([LONGITUDE]))
    assert values == pytest.approx([float(p) for p in row], abs=1e-4)


def test_the_readme_example_is_this_answer(client, body):
    """The README's example is the committed model's answer to this request,
    so it goes stale, and fails here, when the model or the answer changes."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    api = readme[readme.index("## The API") :]
    example = json.loads(
        api[
            api.index("```json") + 7 : api.index("```", api.index("```json") + 7)
        ].replace("...", "")
    )
    result = post(client, body).json()
    assert result["model"]["sha256"].startswith(example["model"]["sha256"])
    example["model"]["sha256"] = result["model"]["sha256"]  # shortened there
    assert example == result


def test_units_offsets_and_unixtime_are_honoured(client, body):
    expected = post(client, body).json()["probability"]

    metric = copy.deepcopy(body)
    metric["hourly_units"]["wind_speed_10m"] = "m/s"
    metric["hourly"]["wind_speed_10m"] = [
        v / 3.6 for v in body["hourly"]["wind_speed_10m"]
    ]
    assert post(client, metric).json()["probability"] == pytest.approx(
        expected, abs=0.01
    )

    no_units = copy.deepcopy(body)
    del no_units["hourly_units"]  # Open-Meteo's defaults: km/h
    assert post(client, no_units).json()["probability"] == expected

    local = copy.deepcopy(body)
    local["utc_offset_seconds"] = -5 * 3600
    times = np.array(body["hourly"]["time"], dtype="datetime64[m]")
    local["hourly"]["time"] = [str(t - np.timedelta64(5, "h")) for t in times]
    assert post(client, local).json()["probability"] == expected

    unix = copy.deepcopy(body)
    unix["hourly_units"]["time"] = "unixtime"
    unix["hourly"]["time"] = [int(t) for t in times.astype("datetime64[s]").astype(int)]
    assert post(client, unix).json() == post(client, body).json()
    # Unix seconds and times with "Z" are UTC whatever utc_offset_seconds says
    # (Open-Meteo: "all timestamps are in GMT+0"); they were shifted by it.
    unix["utc_offset_seconds"] = -5 * 3600
    assert post(client, unix).json() == post(client, body).json()
    zulu = copy.deepcopy(body)
    zulu["utc_offset_seconds"] = 3600
    zulu["hourly"]["time"] = [f"{t}Z" for t in body["hourly"]["time"]]
    assert post(client, zulu).json() == post(client, body).json()
    zulu["hourly"]["time"][0] = body["hourly"]["time"][0]
    answer = post(client, zulu)
    assert answer.status_code == 400
    assert answer.json()["error"] == "mixes times with and without Z"


def test_only_the_newest_window_counts(client, hours):
    long = open_meteo_body(hours, END, n=72)
    short = open_meteo_body(hours, END, n=24)
    assert post(client, long).json() == post(client, short).json()


def mutate(body, path, value):
    target = body
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return body


BAD = [
    (("hourly",), KeyError, "hourly"),
    (("hourly",), [1, 2], "hourly"),
    (("hourly", "cloud_cover"), KeyError, "hourly.cloud_cover"),
    (("hourly", "surface_pressure"), KeyError, "hourly.surface_pressure"),
    (("hourly", "time"), KeyError, "hourly.time"),
    (("hourly", "time"), [], "hourly.time"),
    (("hourly", "time"), ["yesterday"] * 24, "hourly.time"),
    (("hourly", "precipitation"), [0.0] * 23, "hourly.precipitation"),
    (("hourly", "temperature_2m", 5), None, "hourly.temperature_2m"),
    (("hourly", "temperature_2m", 5), "warm", "hourly.temperature_2m"),
    (("hourly", "temperature_2m", 5), True, "hourly.temperature_2m"),
    (("hourly", "relative_humidity_2m", 5), 140, "hourly.relative_humidity_2m"),
    (("hourly", "cloud_cover", 0), -3, "hourly.cloud_cover"),
    (("hourly", "surface_pressure", 0), 1e300, "hourly.surface_pressure"),
    (("hourly", "wind_speed_10m", 0), 1e9, "hourly.wind_speed_10m"),
    (
        ("hourly_units", "wind_speed_10m"),
        "furlongs/fortnight",
        "hourly_units.wind_speed_10m",
    ),
    (("hourly_units",), "m/s", "hourly_units"),
    (("longitude",), KeyError, "longitude"),
    (("longitude",), 200, "longitude"),
    (("longitude",), "east", "longitude"),
    (("utc_offset_seconds",), 10**9, "utc_offset_seconds"),
]


@pytest.mark.parametrize(("path", "value", "field"), BAD)
def test_bad_body_is_a_400_naming_the_field(client, body, path, value, field):
    response = post(client, mutate(body, path, value))
    assert response.status_code == 400, response.content
    assert response.json()["field"] == field
    assert response.json()["error"]


def _shift_years(body, years):
    body["hourly"]["time"] = [
        f"{int(t[:4]) + years:04d}{t[4:]}" for t in body["hourly"]["time"]
    ]
    return body


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (lambda b: b.update(utc_offset_seconds=1.5), "utc_offset_seconds", "whole"),
        (
            lambda b: b["hourly"].update(
                time=[t + "+05:00" for t in b["hourly"]["time"]]
            ),
            "hourly.time",
            "ISO 8601",
        ),
        (lambda b: _shift_years(b, -100), "hourly.time", "outside 1900–2199"),
        (lambda b: _shift_years(b, 300), "hourly.time", "outside 1900–2199"),
        (
            lambda b: b["hourly"].update(
                time=[2**39 + 3600 * i for i in range(len(b["hourly"]["time"]))]
            ),
            "hourly.time",
            "outside 1900–2199",
        ),
    ],
)
def test_impossible_times_are_refused(client, body, change, field, message):
    """Found by an attack: year -290000000000, year 36812 and half-second
    offsets were answered 200 with a valid_at to match."""
    change(body)
    response = post(client, body)
    assert response.status_code == 400, response.content
    assert response.json()["field"] == field
    assert message in response.json()["error"]


@pytest.mark.parametrize("value", [1.7e308, -1e308])
def test_a_value_that_overflows_its_unit_conversion_is_refused(client, body, value):
    """1.7e308 °F is infinite in °C; it was filled from the hour before."""
    body["hourly_units"]["temperature_2m"] = "°F"
    body["hourly"]["temperature_2m"] = [50.0] * len(body["hourly"]["time"])
    body["hourly"]["temperature_2m"][-1] = value
    response = post(client, body)
    assert response.status_code == 400, response.content
    assert response.json() == {
        "error": f"value {len(body['hourly']['time']) - 1} is out of range once "
        "converted from °F",
        "field": "hourly.temperature_2m",
    }


def test_too_few_hours(client, hours):
    response = post(client, open_meteo_body(hours, END, n=23))
    assert response.status_code == 400
    assert response.json() == {
        "error": "needs 24 consecutive hours, got 23",
        "field": "hourly.time",
    }


def test_hours_must_be_consecutive(client, body):
    body["hourly"]["time"][10] = body["hourly"]["time"][9]  # duplicate hour
    response = post(client, body)
    assert response.status_code == 400
    assert response.json()["field"] == "hourly.time"
    assert "does not follow" in response.json()["error"]


def test_nan_and_infinity_literals_are_rejected(client, body):
    text = json.dumps(body).replace('"cloud_cover": [', '"cloud_cover": [NaN, ', 1)
    response = post(client, text)
    assert response.status_code == 400
    assert "NaN" in response.json()["error"]
    text = json.dumps(body).replace(
        '"precipitation": [', '"precipitation": [Infinity, ', 1
    )
    assert post(client, text).status_code == 400


@pytest.mark.parametrize(
    ("payload", "content_type", "status"),
    [
        ("{not json", "application/json", 400),
        ("[1, 2, 3]", "application/json", 400),
        (b"\xff\xfe\x00garbage", "application/json", 400),
        ('{"hourly": {}}', "text/plain", 415),
        (
            '{"error": true, "reason": "Latitude must be in range"}',
            "application/json",
            400,
        ),
    ],
)
def test_malformed_requests(client, payload, content_type, status):
    response = post(client, payload, content_type=content_type)
    assert response.status_code == status
    assert response.json()["error"]


def test_a_number_too_long_to_read_is_named(client, body):
    digits = "9" * 5000
    text = json.dumps(body).replace('"cloud_cover": [', f'"cloud_cover": [{digits}, ')
    response = post(client, text)
    assert response.status_code == 400
    assert response.json()["field"] == "body"
    assert "a number of 5000 digits is too long" in response.json()["error"]
    assert "sys." not in response.json()["error"]


def test_oversized_body_is_a_413(client, settings, body):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = post(client, body)
    assert response.status_code == 413
    assert "larger than 1000 bytes" in response.json()["error"]


def test_get_is_a_405(client):
    response = client.get("/api/v1/predict")
    assert response.status_code == 405
    assert response["Allow"] == "POST"


def test_missing_model_degrades_healthz(client, settings, tmp_path):
    settings.MODEL_PATH = str(tmp_path / "absent.tflite")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "degraded"


def test_healthz_does_not_load_the_model(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


@pytest.mark.parametrize("where", ["cloud_cover", "time"])
def test_integers_beyond_float_range_are_a_400(client, body, where):
    """Found by the fuzzer: JSON integers are unbounded (10**400 was a 500)."""
    if where == "time":
        body["hourly_units"]["time"] = "unixtime"
    body["hourly"][where][3] = 10**400
    response = post(client, body)
    assert response.status_code == 400
    assert response.json()["field"] == f"hourly.{where}"


@pytest.mark.django_db
def test_metrics_in_prometheus_text(client, body, settings):
    settings.METRICS_TOKEN = "metrics-token-for-tests"
    assert post(client, body).status_code == 200
    auth = {"HTTP_AUTHORIZATION": "Bearer metrics-token-for-tests"}
    text = client.get("/metrics", **auth).content.decode()
    values = dict(
        line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#")
    )
    assert int(values["process_resident_memory_bytes"]) > 10 * 1024 * 1024
    assert values["weatheralert_model_loaded"] == "1"
    assert int(values["weatheralert_predictions_served_total"]) >= 1
    assert int(values['weatheralert_inference_seconds_bucket{le="+Inf"}']) >= 1
    assert values['weatheralert_alerts{status="sent"}'] == "0"
