"""Issue 12's access findings: a hung Redis, unlimited admin log-ins, lock-outs
by strangers, a public /metrics, unlimited password resets, reset links from
the Host header, the public development key, cacheable secrets."""

from __future__ import annotations

import json
import logging
import os
import runpy
import signal
import subprocess
import sys
import time

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.core.cache import cache
from django.test import Client

import support
from support import ROOT, child_env, open_meteo_body
from weatherapp.models import Place
from weatherapp.web import ratelimit

pytestmark = pytest.mark.django_db

PASSWORD = "pw-ann-correct-1"


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    # Dozens of log-ins: PBKDF2's deliberate 0.3 s each would dominate.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def fresh_counters():
    cache.clear()
    ratelimit.breaker.reset()
    yield
    cache.clear()
    ratelimit.breaker.reset()


@pytest.fixture
def ann(db):
    return User.objects.create_user("ann", "ann@example.com", PASSWORD)


@pytest.fixture
def production_login_limits(settings, fresh_counters):
    """The shipped defaults of the log-in limits (tests.settings lifts them)."""
    defaults = runpy.run_path(str(ROOT / "weatheralert" / "settings.py"))
    for name in (
        "LOGIN_RATE_LIMIT",
        "LOGIN_ADDRESS_RATE_LIMIT",
        "LOGIN_USERNAME_RATE_LIMIT",
    ):
        setattr(settings, name, defaults[name])
    return defaults


def log_in(address: str, username: str, password: str, path="/accounts/login/"):
    client = Client(REMOTE_ADDR=address)
    return client.post(path, {"username": username, "password": password}), client


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


# 1. A hung Redis ------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now


class FailingCache:
    """A cache whose every call fails, counting the calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __getattr__(self, name: str):
        def fail(*args, **kwargs):
            self.calls += 1
            raise ConnectionError("connection refused")

        return fail


def breaker_lines(caplog) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name == "weatherapp.web.ratelimit"
    ]


def test_after_a_cache_failure_the_breaker_skips_the_cache(
    monkeypatch, settings, caplog, fresh_counters
):
    settings.CACHE_BREAKER_SECONDS = 30
    clock = FakeClock()
    failing = FailingCache()
    monkeypatch.setattr(ratelimit, "time", clock)
    monkeypatch.setattr(ratelimit, "cache", failing)
    caplog.set_level(logging.WARNING, "weatherapp.web.ratelimit")

    assert ratelimit.hit("predict", "1.2.3.4", "1/60").allowed  # fails open
    assert failing.calls == 1 and ratelimit.breaker.is_open
    for _ in range(20):
        assert ratelimit.hit("predict", "1.2.3.4", "1/60").allowed
        assert ratelimit.peek("login-ip", "1.2.3.4", "1/60").allowed
        assert ratelimit.remembered("login-known", "x") is None
    clock.now += 29
    assert ratelimit.hit("predict", "1.2.3.4", "1/60").allowed
    assert failing.calls == 1  # nothing asked the cache while open
    assert ratelimit.breaker.skipped == 61
    assert len(breaker_lines(caplog)) == 1
    assert "not enforced for 30 s" in breaker_lines(caplog)[0]

    clock.now += 2  # closed again: the cache is tried, fails, opens once more
    assert ratelimit.hit("predict", "1.2.3.4", "1/60").allowed
    assert failing.calls == 2 and ratelimit.breaker.is_open
    assert len(breaker_lines(caplog)) == 2

    clock.now += 31  # the cache is back: limits are enforced again
    monkeypatch.setattr(ratelimit, "cache", cache)
    assert ratelimit.hit("predict", "1.2.3.4", "1/60").allowed
    assert not ratelimit.hit("predict", "1.2.3.4", "1/60").allowed
    assert breaker_lines(caplog)[-1] == "rate limits enforced again: the cache answers"


class CountingCache:
    """Django's cache, counting the calls made to it."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.calls = 0

    def __getattr__(self, name: str):
        attr = getattr(self.inner, name)
        if not callable(attr):
            return attr

        def counted(*args, **kwargs):
            self.calls += 1
            return attr(*args, **kwargs)

        return counted


def timed(request) -> tuple[float, int]:
    start = time.perf_counter()
    status = request().status_code
    return time.perf_counter() - start, status


@pytest.mark.services
@pytest.mark.slow
@pytest.mark.django_db
def test_a_hung_redis_costs_one_short_timeout_then_nothing(
    tmp_path, settings, monkeypatch, hours, ann, caplog
):
    """Redis SIGSTOPped (connections accepted, never answered): the first
    request waits one short socket timeout, opens the breaker, and no request
    asks Redis again until the breaker closes; then limits apply again."""
    import redis

    port = support.free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        + ["--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    try:
        client_ = redis.Redis(port=port, socket_connect_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client_.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        # The cache exactly as production settings configure it for REDIS_URL.
        monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{port}/0")
        production = runpy.run_path(str(ROOT / "weatheralert" / "settings.py"))
        assert production["CACHES"]["default"]["OPTIONS"]["socket_timeout"] == 0.25
        settings.CACHES = production["CACHES"]
        settings.CACHE_BREAKER_SECONDS = 4
        counting = CountingCache(cache)
        monkeypatch.setattr(ratelimit, "cache", counting)
        caplog.set_level(logging.WARNING, "weatherapp.web.ratelimit")
        body = json.dumps(open_meteo_body(hours, 3000))
        client = Client()

        def predict(c=client):
            return c.post("/api/v1/predict", body, content_type="application/json")

        healthy = sorted(timed(predict)[0] for _ in range(5))[2]
        assert counting.calls >= 10  # the limit did use Redis

        server.send_signal(signal.SIGSTOP)
        stopped = time.monotonic()
        first, status = timed(predict)
        assert status == 200
        assert ratelimit.breaker.is_open
        calls = counting.calls
        rest = [timed(predict) for _ in range(9)]
        assert [s for _, s in rest] == [200] * 9
        login_time, status = timed(
            lambda: Client().post(
                "/accounts/login/", {"username": "ann", "password": PASSWORD}
            )
        )
        assert status == 302
        failed_time, status = timed(
            lambda: Client().post(
                "/accounts/login/", {"username": "ann", "password": "wrong"}
            )
        )
        assert status == 400  # wrong password: the page again, with its error
        assert counting.calls == calls  # not one more call to the hung Redis
        assert ratelimit.breaker.skipped >= 9 + 2
        assert sum("not enforced" in line for line in breaker_lines(caplog)) == 1
        assert time.monotonic() - stopped < 4, "too slow to test the breaker"
        # Loose: one 0.25 s socket timeout, not 1 s per request (numbers vary
        # with the machine; the behaviour above is the test).
        assert first < 0.9
        assert sum(t for t, _ in rest) < 0.9
        print(
            f"\nhung Redis: healthy predict {healthy * 1000:.1f} ms; first predict "
            f"{first * 1000:.0f} ms, next 9 {sum(t for t, _ in rest) * 1000:.0f} ms "
            f"in all; log-in {login_time * 1000:.0f} ms, failed log-in "
            f"{failed_time * 1000:.0f} ms (MD5 hasher: overhead only)"
        )

        server.send_signal(signal.SIGCONT)
        deadline = time.monotonic() + 10
        while ratelimit.breaker.is_open:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        settings.PREDICT_RATE_LIMIT = "3/60"
        other = Client(REMOTE_ADDR="10.7.7.7")
        statuses = [predict(other).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        assert breaker_lines(caplog)[-1].startswith("rate limits enforced again")
    finally:
        server.send_signal(signal.SIGCONT)
        server.terminate()
        server.wait(10)


# 2. The admin's log-in ------------------------------------------------------


@pytest.fixture
def boss(db):
    return User.objects.create_user(
        "boss", "boss@example.com", "pw-boss-correct-1", is_staff=True
    )


def test_admin_log_in_is_rate_limited(boss, production_login_limits):
    for _ in range(5):
        response, _ = log_in("10.0.0.1", "boss", "guess", "/admin/login/")
        assert response.status_code == 400
        assert "Please enter the correct username" in response.content.decode()
    response, client = log_in("10.0.0.1", "boss", "pw-boss-correct-1", "/admin/login/")
    assert response.status_code == 429
    assert "Too many failed log-ins" in response.content.decode()
    assert not logged_in(client)
    # The owner from another address still gets in.
    response, client = log_in("10.0.0.2", "boss", "pw-boss-correct-1", "/admin/login/")
    assert response.status_code == 302 and logged_in(client)


def test_admin_and_site_log_ins_share_their_counters(boss, production_login_limits):
    for path in ["/accounts/login/"] * 3 + ["/admin/login/"] * 2:
        assert log_in("10.0.0.1", "boss", "guess", path)[0].status_code == 400
    for path in ("/admin/login/", "/accounts/login/"):
        assert (
            log_in("10.0.0.1", "boss", "pw-boss-correct-1", path)[0].status_code == 429
        )


def test_the_admin_still_refuses_non_staff(ann, production_login_limits):
    response, client = log_in("10.0.0.1", "ann", PASSWORD, "/admin/login/")
    assert response.status_code == 400 and not logged_in(client)


# 3. Nobody can lock another person out ---------------------------------------


def test_failures_from_one_address_do_not_lock_the_owner_out(
    ann, production_login_limits
):
    assert production_login_limits["LOGIN_RATE_LIMIT"] == "5/300"
    statuses = [log_in("10.0.0.1", "ann", "guess")[0].status_code for _ in range(8)]
    assert statuses == [400] * 5 + [429] * 3
    response, client = log_in("10.0.0.2", "ann", PASSWORD)
    assert response.status_code == 302 and logged_in(client)
    # The guessing address stays limited, even with the right password.
    response, client = log_in("10.0.0.1", "ann", PASSWORD)
    assert response.status_code == 429 and not logged_in(client)


def test_one_address_guessing_many_usernames_is_limited(ann, production_login_limits):
    assert production_login_limits["LOGIN_ADDRESS_RATE_LIMIT"] == "20/300"
    for n in range(20):
        assert log_in("10.0.0.1", f"user{n}", "guess")[0].status_code == 400
    assert log_in("10.0.0.1", "ann", PASSWORD)[0].status_code == 429
    assert log_in("10.0.0.2", "ann", PASSWORD)[0].status_code == 302


def test_guessing_from_many_addresses_spares_addresses_the_owner_used(
    ann, settings, production_login_limits
):
    settings.LOGIN_USERNAME_RATE_LIMIT = "10/3600"
    assert log_in("10.0.0.99", "ann", PASSWORD)[0].status_code == 302  # her laptop
    for n in range(5):
        for _ in range(2):
            assert log_in(f"10.1.0.{n}", "ann", "guess")[0].status_code == 400
    # Ten failures from five addresses: a new address must wait ...
    assert log_in("10.1.0.50", "ann", PASSWORD)[0].status_code == 429
    # ... but not the address she logged in from before.
    response, client = log_in("10.0.0.99", "ann", PASSWORD)
    assert response.status_code == 302 and logged_in(client)


# 4. /metrics, password resets, the secret key, cacheable secrets -------------


def test_metrics_need_a_staff_session_or_the_token(client, settings, ann, boss):
    settings.METRICS_TOKEN = "s3cret-metrics-token"
    response = client.get("/metrics")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["field"] == "token"
    for header in ("Bearer wrong", "Bearer ", "Basic czNjcmV0", "Bearer s3cret"):
        response = client.get("/metrics", HTTP_AUTHORIZATION=header)
        assert response.status_code == 401, header
        assert "error" in response.json()
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-metrics-token")
    assert response.status_code == 200
    assert b"weatheralert_model_loaded" in response.content
    client.force_login(ann)
    assert client.get("/metrics").status_code == 403
    client.force_login(boss)
    assert client.get("/metrics").status_code == 200
    assert client.post("/metrics").status_code == 405


def test_metrics_without_a_configured_token_take_no_bearer(client, settings):
    settings.METRICS_TOKEN = ""
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer ")
    assert response.status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer x").status_code == 401


@pytest.fixture
def reset_limits(settings, fresh_counters):
    defaults = runpy.run_path(str(ROOT / "weatheralert" / "settings.py"))
    for name in (
        "PASSWORD_RESET_EMAIL_RATE_LIMIT",
        "PASSWORD_RESET_ADDRESS_RATE_LIMIT",
    ):
        setattr(settings, name, defaults[name])
    return defaults


def reset(address: str, email: str, **extra):
    return Client(REMOTE_ADDR=address, **extra).post(
        "/accounts/password_reset/", {"email": email}
    )


def test_password_resets_per_email_are_limited(ann, reset_limits):
    assert reset_limits["PASSWORD_RESET_EMAIL_RATE_LIMIT"] == "3/3600"
    responses = [reset(f"10.0.0.{n}", "ann@example.com") for n in range(20)]
    # The same answer every time (no enumeration), but three emails only.
    assert {r.status_code for r in responses} == {302}
    assert {r["Location"] for r in responses} == {"/accounts/password_reset/done/"}
    assert len(mail.outbox) == 3
    # Unknown addresses get the same answer and no email.
    assert reset("10.0.0.1", "nobody@example.com").status_code == 302
    assert len(mail.outbox) == 3


def test_password_resets_per_client_address_are_limited(ann, reset_limits):
    assert reset_limits["PASSWORD_RESET_ADDRESS_RATE_LIMIT"] == "10/3600"
    for n in range(10):
        assert reset("10.0.0.1", f"someone{n}@example.com").status_code == 302
    assert reset("10.0.0.1", "ann@example.com").status_code == 302
    assert len(mail.outbox) == 0  # that address used its ten requests
    assert reset("10.0.0.2", "ann@example.com").status_code == 302
    assert len(mail.outbox) == 1  # and did not use up ann's own allowance


def test_password_reset_links_use_site_url_not_the_host_header(ann, settings):
    settings.SITE_URL = "https://weather.example.com"
    # Allowed by ALLOWED_HOSTS (.herokuapp.com), yet not this site.
    response = reset("10.0.0.1", "ann@example.com", HTTP_HOST="evil.herokuapp.com")
    assert response.status_code == 302
    (message,) = mail.outbox
    assert "https://weather.example.com/accounts/reset/" in message.body
    assert "evil" not in message.body and "evil" not in message.subject


def test_without_debug_a_missing_secret_key_stops_the_app():
    env = child_env(DEBUG="false")
    for name in ("SECRET_KEY", "DYNO"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-c", "import weatheralert.settings"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    # weatheralert.env.ConfigVarError, an ImproperlyConfigured.
    assert "ConfigVarError" in done.stderr and "SECRET_KEY" in done.stderr
    # manage.py (the release phase) says it in one line.
    release = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert release.returncode == 1
    assert release.stderr.startswith("error: SECRET_KEY is not set")
    assert "Traceback" not in release.stderr
    # A local DEBUG run may use the development key.
    env["DEBUG"] = "true"
    done = subprocess.run(
        [sys.executable, "-c", "import weatheralert.settings"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def test_child_processes_get_a_throwaway_secret_key(monkeypatch):
    monkeypatch.delenv("SECRET_KEY")
    key = child_env()["SECRET_KEY"]
    assert len(key) > 40 and key == child_env()["SECRET_KEY"]
    monkeypatch.setenv("SECRET_KEY", "mine")
    assert child_env()["SECRET_KEY"] == "mine"
    assert os.environ["SECRET_KEY"] == "mine"


def test_pages_with_secrets_are_not_cached(client, ann):
    place = Place.objects.create(owner=ann, name="Home", latitude=36.1, longitude=-79.9)
    client.force_login(ann)
    for path in (
        "/account/token/",
        f"/places/{place.pk}/",
        f"/places/{place.pk}/edit/",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "no-store" in response["Cache-Control"], path
