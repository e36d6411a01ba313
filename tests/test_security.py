"""Security: tokens, isolation, CSRF, rate limits, deploy checks, secrets."""

import datetime as dt
import json
import os
import subprocess
import sys

import pytest
from django.contrib.auth.models import User
from django.test import Client

from support import ROOT, child_env, open_meteo_body
from tests.conftest import store_prediction
from weatherapp.models import Alert, ApiToken, Delivery, Place

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice():
    return User.objects.create_user("alice", "alice@example.com", "pw-alice-123")


@pytest.fixture
def alices_place(alice):
    place = Place.objects.create(
        owner=alice, name="Home", latitude=36.1, longitude=-79.9
    )
    store_prediction(
        place,
        dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC),
        0.42,
        "v",
    )
    alert = Alert.objects.create(
        place=place,
        event_started_at=dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC),
        probability=0.6,
    )
    Delivery.objects.create(alert=alert, channel="email", outcome="sent")
    return place


def bearer(user) -> dict:
    _, token = ApiToken.issue(user)
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_api_serves_your_own_data(client, alice, alices_place):
    auth = bearer(alice)
    places = client.get("/api/v1/places", **auth).json()["places"]
    assert [p["name"] for p in places] == ["Home"]
    assert places[0]["latest"]["probability"] == 0.42
    detail = client.get(f"/api/v1/places/{alices_place.pk}", **auth).json()
    assert detail["id"] == alices_place.pk
    rows = client.get(f"/api/v1/places/{alices_place.pk}/predictions", **auth).json()
    assert rows["predictions"][0]["probability"] == 0.42
    alerts = client.get("/api/v1/alerts", **auth).json()["alerts"]
    assert alerts[0]["deliveries"][0]["outcome"] == "sent"


@pytest.mark.parametrize("path", ["/api/v1/places/{}", "/api/v1/places/{}/predictions"])
def test_api_another_persons_ids_are_404(client, alices_place, path):
    mallory = User.objects.create_user("mallory", "m@example.com", "pw")
    response = client.get(path.format(alices_place.pk), **bearer(mallory))
    assert response.status_code == 404
    assert "Home" not in response.content.decode()
    assert client.get("/api/v1/alerts", **bearer(mallory)).json() == {"alerts": []}
    assert client.get("/api/v1/places", **bearer(mallory)).json() == {
        "places": [],
        "next": None,
    }


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer wa_nope", "Basic YWxpY2U6cHc=", "Bearer " + "x" * 5000],
)
def test_api_needs_a_valid_token(client, alices_place, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.get("/api/v1/places", **extra)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["field"] == "token"


def test_revoked_token_stops_working(client, alice):
    row, token = ApiToken.issue(alice)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert client.get("/api/v1/places", **auth).status_code == 200
    client.login(username="alice", password="pw-alice-123")
    client.post("/account/token/", {"revoke": str(row.pk)})
    assert client.get("/api/v1/places", **auth).status_code == 401
    assert ApiToken.objects.filter(key_hash=ApiToken.digest(token)).count() == 0


def test_token_page_shows_a_new_token_once(client, alice):
    client.login(username="alice", password="pw-alice-123")
    page = client.post("/account/token/", {"name": "laptop"}).content.decode()
    token = page.split('id="new-token">')[1].split("<")[0]
    assert token.startswith("wa_")
    assert token not in client.get("/account/token/").content.decode()
    row = ApiToken.objects.get(name="laptop")
    assert row.key_hash == ApiToken.digest(token) and token not in row.key_hash


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("a\x00b", "Null characters are not allowed."),
        ("two\nlines", "control characters"),
        ("x" * 101, "at most 100 characters"),
    ],
)
def test_a_bad_token_name_is_refused_under_its_field(client, alice, name, message):
    client.login(username="alice", password="pw-alice-123")
    response = client.post("/account/token/", {"name": name})
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page and 'id="new-token"' not in page
    assert "<title>Error: API tokens" in page and 'aria-invalid="true"' in page
    assert not ApiToken.objects.filter(owner=alice).exists()
    client.post("/account/token/", {"name": "  "})
    assert ApiToken.objects.get(owner=alice).name == "API token"


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/signup/", {"username": "x"}),
        ("/accounts/login/", {"username": "alice", "password": "pw-alice-123"}),
        ("/places/new/", {"name": "x"}),
        ("/account/token/", {"name": "x"}),
        ("/accounts/logout/", {}),
    ],
)
def test_every_form_needs_its_csrf_token(alice, path, data):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post(path, data).status_code == 403


@pytest.fixture
def fresh_counters():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def test_failed_log_ins_are_rate_limited(client, alice, settings, fresh_counters):
    settings.LOGIN_RATE_LIMIT = "3/300"
    for _ in range(3):
        response = client.post(
            "/accounts/login/", {"username": "alice", "password": "wrong"}
        )
        assert response.status_code == 400
    response = client.post(
        "/accounts/login/", {"username": "alice", "password": "pw-alice-123"}
    )
    assert response.status_code == 429
    assert "Too many failed log-ins" in response.content.decode()
    # The guesses do not lock alice out from her own address (issue 12; more in
    # tests/test_access.py).
    other = Client(REMOTE_ADDR="10.9.8.7")
    response = other.post(
        "/accounts/login/", {"username": "alice", "password": "pw-alice-123"}
    )
    assert response.status_code == 302


def test_public_predictions_are_rate_limited(client, hours, settings, fresh_counters):
    settings.PREDICT_RATE_LIMIT = "3/60"
    body = json.dumps(open_meteo_body(hours, 3000))
    statuses = [
        client.post(
            "/api/v1/predict", body, content_type="application/json"
        ).status_code
        for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    response = client.post("/api/v1/predict", body, content_type="application/json")
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response.json()["field"] == "rate"
    # Another client address has its own budget.
    other = Client(REMOTE_ADDR="10.1.1.1")
    assert (
        other.post("/api/v1/predict", body, content_type="application/json").status_code
        == 200
    )


def test_production_settings_pass_check_deploy():
    env = child_env(
        DYNO="web.1",
        SECRET_KEY="k" * 64 + "-not-a-real-secret-x9",
        DEBUG="false",
        SITE_URL="https://weatheralert.example",
    )
    env.pop("SECURE_SSL_REDIRECT")
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "no issues" in done.stdout


def test_a_dyno_without_a_secret_key_refuses_to_start():
    env = child_env(DYNO="web.1")
    env.pop("SECRET_KEY", None)
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    assert "SECRET_KEY" in done.stderr


def test_no_secret_is_committed():
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    # Written in two parts so that this file does not match itself.
    markers = [
        "BEGIN " + kind
        for kind in ("RSA PRIVATE KEY", "PRIVATE KEY", "OPENSSH PRIVATE KEY")
    ] + ["AKIA" + "IOSFODNN", "xoxb" + "-", "ghp" + "_", "sk_" + "live_"]
    for name in files:
        path = ROOT / name
        if path.suffix in (".npz", ".tflite", ".keras", ".png") or not path.is_file():
            continue
        text = path.read_text(errors="ignore")
        for marker in markers:
            assert marker not in text, f"{name} contains {marker!r}"
    assert not any(os.path.basename(f) in (".env", "id_rsa") for f in files)
