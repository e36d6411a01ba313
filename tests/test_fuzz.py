"""Property-based fuzzing of the JSON API described by /api/v1/openapi.json.

Over 15,000 generated requests in all under the "ci" Hypothesis profile
(./dev test and CI; see EXAMPLES), a twentieth of that under "dev" (./dev
check): random JSON, valid
Open-Meteo bodies mutated one way or several (units that are no strings too),
raw bytes under any content type, every API path with any method, token and
query, Unicode digits and huge numbers in every number a request carries
(``limit``, ``page``, path ids, the token page's ``revoke``), and every method
on every API path, unknown ones included, with CSRF checks on. None may answer
5xx, and every 4xx must be a JSON error naming the problem.
"""

import copy
import json
import os

import pytest
from django.contrib.auth.models import User
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support import open_meteo_body
from weatherapp.models import ApiToken, Place

EXAMPLES = {
    "random_json": 2500,
    "mutated": 5000,
    "raw": 1500,
    "paths": 2500,
    "numbers": 2000,
    "methods": 1500,
    "revoke": 500,
}
FULL = os.environ.get("HYPOTHESIS_PROFILE") == "ci"


def fuzz(name: str) -> settings:
    """The profile's settings (tests/conftest.py) with this test's count."""
    return settings(
        max_examples=EXAMPLES[name] if FULL else EXAMPLES[name] // 20,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
        ],
    )


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=6)
        | st.dictionaries(st.text(max_size=12), inner, max_size=6)
    ),
    max_leaves=30,
)


def check(response, prediction: bool = True) -> None:
    assert response.status_code < 500, response.content[:300]
    if response.status_code >= 400:
        assert response["Content-Type"] == "application/json", response.content[:300]
        body = json.loads(response.content)
        assert isinstance(body["error"], str) and body["error"]
    elif response.status_code == 200 and prediction:
        assert 0 <= json.loads(response.content)["probability"] <= 1


@pytest.fixture
def unlimited(settings):
    settings.PREDICT_RATE_LIMIT = "1000000000/60"


@pytest.fixture(scope="module")
def valid_body(hours):
    return open_meteo_body(hours, 3000, n=30)


@fuzz("random_json")
@given(body=json_values)
def test_random_json(unlimited, body):
    check(
        Client().post(
            "/api/v1/predict", json.dumps(body), content_type="application/json"
        )
    )


KEYS = [
    "hourly",
    "hourly_units",
    "longitude",
    "latitude",
    "utc_offset_seconds",
    "error",
    "reason",
]
HOURLY = [
    "time",
    "temperature_2m",
    "relative_humidity_2m",
    "dew_point_2m",
    "surface_pressure",
    "pressure_msl",
    "cloud_cover",
    "wind_speed_10m",
    "wind_direction_10m",
    "precipitation",
]
extreme_numbers = st.sampled_from(
    [0, -1, 1e308, -1e308, 1e-320, 10**30, -(10**30), 2**63, 10**400, 1.5, 400.1, -90.1]
)


@st.composite
def mutations(draw, valid):
    body = copy.deepcopy(valid)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(
            st.sampled_from(
                [
                    "drop",
                    "replace",
                    "hourly_drop",
                    "hourly_replace",
                    "cell",
                    "length",
                    "unit",
                    "time",
                    "reorder",
                ]
            )
        )
        hourly = body.get("hourly") if isinstance(body.get("hourly"), dict) else None
        if kind == "drop":
            body.pop(draw(st.sampled_from(KEYS)), None)
        elif kind == "replace":
            body[draw(st.sampled_from(KEYS))] = draw(json_values | extreme_numbers)
        elif hourly is None:
            continue
        elif kind == "hourly_drop":
            hourly.pop(draw(st.sampled_from(HOURLY)), None)
        elif kind == "hourly_replace":
            hourly[draw(st.sampled_from(HOURLY))] = draw(json_values)
        elif kind == "cell":
            name = draw(st.sampled_from(HOURLY))
            values = hourly.get(name)
            if isinstance(values, list) and values:
                i = draw(st.integers(0, len(values) - 1))
                values[i] = draw(json_values | extreme_numbers)
        elif kind == "length":
            name = draw(st.sampled_from(HOURLY))
            if isinstance(hourly.get(name), list):
                hourly[name] = hourly[name][: draw(st.integers(0, 40))]
        elif kind == "unit":
            units = body.setdefault("hourly_units", {})
            if isinstance(units, dict):
                units[draw(st.sampled_from(HOURLY))] = draw(
                    st.sampled_from(
                        ["km/h", "m/s", "mph", "kn", "°F", "inch", "furlong"]
                    )
                    | st.text(max_size=8)
                    # Not strings at all: a list was a 500 (issue 12).
                    | json_values
                )
        elif kind == "time":
            times = hourly.get("time")
            if isinstance(times, list) and times:
                i = draw(st.integers(0, len(times) - 1))
                times[i] = draw(
                    st.sampled_from(
                        ["2026-02-30T00:00", "", "1970-01-01T00:00", "9999"]
                    )
                    | st.integers(-(2**62), 2**62)
                    | st.text(max_size=30)
                )
        elif kind == "reorder":
            times = hourly.get("time")
            if isinstance(times, list):
                hourly["time"] = draw(st.permutations(times))
    return body


@fuzz("mutated")
@given(data=st.data())
def test_mutated_open_meteo_bodies(unlimited, valid_body, data):
    body = data.draw(mutations(valid_body))
    text = json.dumps(body, allow_nan=False) if data.draw(st.booleans()) else None
    if text is None:
        # Sometimes the non-JSON literals Python would write for NaN / Infinity.
        text = json.dumps(body).replace(
            "0.0",
            data.draw(st.sampled_from(["NaN", "Infinity", "-Infinity", "0.0"])),
            1,
        )
    check(Client().post("/api/v1/predict", text, content_type="application/json"))


@fuzz("raw")
@given(
    raw=st.binary(max_size=300) | st.text(max_size=300).map(str.encode),
    content_type=st.sampled_from(
        [
            "application/json",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/json; charset=latin-1",
            "",
        ]
    ),
)
def test_raw_bodies_and_content_types(unlimited, raw, content_type):
    # generic() sends the bytes as they are, whatever the declared charset.
    check(Client().generic("POST", "/api/v1/predict", raw, content_type=content_type))


@pytest.fixture
def owner_token(db):
    owner = User.objects.create_user("fuzz", "fuzz@example.com", "pw")
    Place.objects.create(owner=owner, name="P", latitude=1, longitude=2)
    return ApiToken.issue(owner)[1]


@fuzz("paths")
@given(
    method=st.sampled_from(
        ["get", "post", "put", "patch", "delete", "head", "options"]
    ),
    path=st.sampled_from(
        [
            "/api/v1/places",
            "/api/v1/places/{id}",
            "/api/v1/places/{id}/predictions",
            "/api/v1/alerts",
            "/api/v1/openapi.json",
            "/api/v1/predict",
            "/healthz",
        ]
    ),
    place_id=st.integers(0, 2**70),
    query=st.dictionaries(
        st.sampled_from(["limit", "x"]), st.text(max_size=12), max_size=2
    ),
    auth=st.sampled_from(["good", "none", "bad", "garbage"]),
    garbage=st.text(max_size=40),
)
@pytest.mark.django_db
def test_every_path_method_token_and_query(
    unlimited, owner_token, method, path, place_id, query, auth, garbage
):
    headers = {
        "good": {"HTTP_AUTHORIZATION": f"Bearer {owner_token}"},
        "none": {},
        "bad": {"HTTP_AUTHORIZATION": "Bearer wa_" + "0" * 43},
        "garbage": {"HTTP_AUTHORIZATION": garbage.replace("\n", " ")},
    }[auth]
    url = path.replace("{id}", str(place_id))
    client = Client()
    if method in ("get", "head", "options", "delete"):
        response = getattr(client, method)(url, query, **headers)
    else:
        response = getattr(client, method)(
            url, json.dumps(query), content_type="application/json", **headers
        )
    if method == "head":
        assert response.status_code < 500
    else:
        check(response, prediction=path == "/api/v1/predict")


# -- issue 12: numbers in requests, every method on every API path ------------

# Text that str.isdigit() accepts but int() refuses ("²", other scripts' digits),
# numbers beyond int()'s 4,300-digit limit and beyond 64 bits, and near misses.
unicode_digits = st.text(st.characters(categories=["Nd", "No"]), min_size=1, max_size=6)
huge_numbers = st.integers(0, 10**6).map(lambda n: "9" * (4000 + n % 2000)) | (
    st.integers(2**62, 10**40).map(str)
)
number_text = (
    unicode_digits
    | huge_numbers
    | st.integers(-(10**6), 10**6).map(str)
    | st.sampled_from(["", " 1", "1 ", "+1", "1e3", "0x1f", "1.0", "-0", "٣", "²"])
    | st.text(max_size=12)
)


@fuzz("numbers")
@given(
    where=st.sampled_from(["limit", "page", "places_limit", "place_id", "pred_id"]),
    value=number_text,
)
@pytest.mark.django_db
def test_every_number_in_a_request(unlimited, owner_token, where, value):
    """Query limits and pages, and path ids, as odd digits or huge numbers."""
    from urllib.parse import quote

    auth = {"HTTP_AUTHORIZATION": f"Bearer {owner_token}"}
    client = Client()
    place = Place.objects.filter(name="P").values_list("pk", flat=True).first()
    if where == "limit":
        response = client.get(
            f"/api/v1/places/{place}/predictions", {"limit": value}, **auth
        )
    elif where in ("page", "places_limit"):
        key = "page" if where == "page" else "limit"
        response = client.get("/api/v1/places", {key: value}, **auth)
    else:
        suffix = "/predictions" if where == "pred_id" else ""
        response = client.get(f"/api/v1/places/{quote(value, safe='')}{suffix}", **auth)
    check(response, prediction=False)


API_PATHS = [
    "/api/v1/places",
    "/api/v1/places/{id}",
    "/api/v1/places/{id}/predictions",
    "/api/v1/alerts",
    "/api/v1/openapi.json",
    "/api/v1/predict",
    "/api/",
    "/api/v1/",
    "/api/v1/nope",
    "/api/v2/places",
    "/api/v1/places/{id}/nope",
]


@fuzz("methods")
@given(
    method=st.sampled_from(
        ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "FOO"]
    ),
    path=st.sampled_from(API_PATHS),
    place_id=st.sampled_from(["1", "abc", "²", "9" * 5000, "0", "-1"])
    | st.integers(0, 2**70).map(str),
    session=st.booleans(),
    auth=st.booleans(),
)
@pytest.mark.django_db
def test_every_method_on_every_api_path_is_json(
    unlimited, owner_token, method, path, place_id, session, auth
):
    """With CSRF checks on and a session cookie or none: never Django's HTML
    403 (or any HTML), whatever the method, path or id."""
    client = Client(enforce_csrf_checks=True)
    if session:
        client.force_login(User.objects.get(username="fuzz"))
    headers = {"HTTP_AUTHORIZATION": f"Bearer {owner_token}"} if auth else {}
    response = client.generic(method, path.replace("{id}", place_id), **headers)
    assert response.status_code < 500, response.content[:300]
    assert response.status_code != 403, response.content[:300]
    assert response["Content-Type"] == "application/json", response.content[:300]
    if method != "HEAD":
        check(response, prediction=False)
    if response.status_code == 405:
        assert response["Allow"]


@fuzz("revoke")
@given(value=number_text)
@pytest.mark.django_db
def test_every_revoke_value(owner_token, value):
    """POST /account/token/ revoke=...: "²" and 5,000 digits were a 500."""
    client = Client()
    client.force_login(User.objects.get(username="fuzz"))
    response = client.post("/account/token/", {"revoke": value})
    assert response.status_code in (200, 302, 400, 404), response.content[:300]
