"""Issue 12, item 12: the API's last 500s and HTML answers. Every path under
/api/ answers JSON whatever the method, cookie or id; every number read from a
request is ASCII digits of a bounded length."""

import copy
import json

import pytest
from django.contrib.auth.models import User
from django.test import Client

from support import open_meteo_body
from weatherapp.models import ApiToken, Place

pytestmark = pytest.mark.django_db

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# Numbers that str.isdigit() accepts and int() refuses, and one int() refuses
# for its length (Python's 4,300-digit limit): each was a 500.
BAD_NUMBERS = ["²", "١٢", "𝟙𝟚", "9" * 5000, "1" * 19, "-1", "0x10", " 1", "1.0", ""]


@pytest.fixture
def alice():
    # No password: hashing one costs ~0.4 s, and force_login needs none.
    return User.objects.create(username="alice", email="alice@example.com")


@pytest.fixture
def home(alice):
    return Place.objects.create(owner=alice, name="Home", latitude=1, longitude=2)


@pytest.fixture
def auth(alice):
    return {"HTTP_AUTHORIZATION": f"Bearer {ApiToken.issue(alice)[1]}"}


def json_error(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    assert isinstance(body["error"], str) and body["error"]
    return body


@pytest.mark.parametrize("unit", [[], {}, 3, None, True, ["°C"]])
def test_a_unit_that_is_not_a_string_is_a_400_naming_it(client, hours, unit):
    body = copy.deepcopy(open_meteo_body(hours, 2000))
    body.setdefault("hourly_units", {})["temperature_2m"] = unit
    response = client.post(
        "/api/v1/predict", json.dumps(body), content_type="application/json"
    )
    assert json_error(response, 400)["field"] == "hourly_units.temperature_2m"


@pytest.mark.parametrize("limit", BAD_NUMBERS + ["0", "501"])
def test_a_bad_predictions_limit_is_a_400(client, auth, home, limit):
    response = client.get(
        f"/api/v1/places/{home.pk}/predictions", {"limit": limit}, **auth
    )
    assert json_error(response, 400)["field"] == "limit"


@pytest.mark.parametrize("field", ["limit", "page"])
@pytest.mark.parametrize("value", BAD_NUMBERS + ["0"])
def test_a_bad_places_page_or_limit_is_a_400(client, auth, home, field, value):
    response = client.get("/api/v1/places", {field: value}, **auth)
    assert json_error(response, 400)["field"] == field


@pytest.mark.parametrize("suffix", ["", "/predictions"])
@pytest.mark.parametrize(
    "place_id", ["abc", "²", "9" * 5000, "1" * 19, "0", "-1", "1e3", "%20"]
)
def test_an_id_that_is_no_id_is_a_json_404(client, auth, home, place_id, suffix):
    response = client.get(f"/api/v1/places/{place_id}{suffix}", **auth)
    assert json_error(response, 404)["field"] == "place_id"


@pytest.mark.parametrize("suffix", ["", "/predictions"])
def test_an_id_that_is_no_id_is_a_405_to_other_methods(client, suffix):
    response = client.post(f"/api/v1/places/abc{suffix}")
    json_error(response, 405)
    assert response["Allow"] == "GET"


@pytest.mark.parametrize("cookie", [True, False])
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/places",
        "/api/v1/places/1",
        "/api/v1/places/1/predictions",
        "/api/v1/alerts",
        "/api/v1/openapi.json",
        "/api/v1/predict",
        "/healthz",
        "/metrics",
    ],
)
def test_every_api_path_answers_json_with_csrf_checks_on(
    alice, home, cookie, method, path
):
    """A session cookie and no CSRF token made Django answer its HTML 403
    before the view could say 405 (or, for the token views, 401); likewise
    the ops endpoints /healthz and /metrics."""
    client = Client(enforce_csrf_checks=True)
    if cookie:
        client.force_login(alice)
    allowed = "POST" if path == "/api/v1/predict" else "GET"
    response = client.generic(method, path.replace("/1", f"/{home.pk}"))
    if method == allowed:
        assert response.status_code in (200, 400, 401, 403, 415)
        assert response["Content-Type"] == "application/json"
    else:
        json_error(response, 405)
        assert response["Allow"] == allowed


def bad_revoke(client, value):
    return client.post("/account/token/", {"revoke": value})


@pytest.mark.parametrize("value", ["²", "9" * 5000, "1" * 19, "abc", "-1"])
def test_revoking_with_a_bad_token_id_is_a_400(client, alice, value):
    ApiToken.issue(alice)
    client.force_login(alice)
    response = bad_revoke(client, value)
    assert response.status_code == 400
    assert "revoke must be" in response.content.decode()
    assert ApiToken.objects.count() == 1


def test_revoking_someone_elses_token_is_a_404(client, alice):
    bob = User.objects.create(username="bob", email="bob@example.com")
    row, _ = ApiToken.issue(bob)
    client.force_login(alice)
    assert bad_revoke(client, str(row.pk)).status_code == 404
    assert ApiToken.objects.filter(pk=row.pk).exists()
