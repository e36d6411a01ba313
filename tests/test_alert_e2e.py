"""End to end: a real Celery worker on Redis, PostgreSQL, Open-Meteo on
loopback, a webhook receiver, the email outbox and gunicorn for the
unsubscribe link."""

import email
import hashlib
import hmac
import json
import shlex
import urllib.request

import numpy as np
import psycopg
import pytest
from celery import Celery

from support import child_env, free_port, manage

from .conftest import wait_for

pytestmark = [pytest.mark.services, pytest.mark.slow]
HOUR = np.timedelta64(3600, "s")
WORKER = "celery -A weatherapp worker --loglevel=info --concurrency=1"
WEB = "gunicorn weatheralert.wsgi --log-file - --workers 1 --threads 2 --timeout 120"

SETUP = """
import datetime as dt
from django.contrib.auth.models import User
from weatherapp.models import Place
now = dt.datetime.now(dt.UTC)
ann = User.objects.create_user("ann", "ann@example.com", "pw")
Place.objects.create(owner=ann, name="Home", latitude=36.1, longitude=-80.0,
                     webhook_url="{webhook}")
# Quiet hours are judged at the event's hour: the loopback weather's newest
# hours are the last 12 before now.
Place.objects.create(owner=ann, name="Sleeping", latitude=40.0, longitude=-75.0,
                     quiet_start=(now - dt.timedelta(hours=14)).time(),
                     quiet_end=now.time())
Place.objects.create(owner=ann, name="Broken", latitude=-33.9, longitude=151.2)
"""


class Stack:
    def __init__(self, env, postgres_url, redis_url, tmp_path):
        self.env = env
        self.db = postgres_url
        self.celery = Celery(broker=redis_url)
        self.mail = tmp_path / "mail"

    def query(self, sql, *args):
        with psycopg.connect(self.db) as conn:
            return conn.execute(sql, args).fetchall()

    def emails(self) -> list[str]:
        if not self.mail.exists():
            return []
        text = "".join(p.read_text() for p in sorted(self.mail.iterdir()))
        return [m for m in text.split("-" * 79) if "Subject:" in m]

    def cycle(self, weather_server, wait=True):
        before = weather_server.locations_asked()
        self.celery.send_task("weatherapp.tasks.run_cycle")
        if wait:
            # Three cells, so three locations asked (more when one is retried).
            wait_for(
                lambda: weather_server.locations_asked() >= before + 3, what="a cycle"
            )

    def alerts(self):
        return self.query(
            "select p.name, a.status from weatherapp_alert a "
            "join weatherapp_place p on p.id = a.place_id order by a.id"
        )


def stack_env(tmp_path, postgres_url, redis_url, weather_server, setup, **extra):
    """The app's environment on these servers, migrated, with ``setup`` run."""
    env = child_env(
        **{
            "DATABASE_URL": postgres_url,
            "REDIS_URL": redis_url,
            "WEATHERALERT_VAR_DIR": str(tmp_path),
            "WEATHER_SOURCE": "open-meteo",
            "OPEN_METEO_URL": weather_server.url,
            "OPEN_METEO_BACKOFF": "0.01",
            "OPEN_METEO_RETRIES": "1",
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(tmp_path / "mail"),
            **extra,
        }
    )
    manage(env, "migrate", "--noinput")
    manage(env, "shell", "-c", setup)
    return env


@pytest.fixture
def stack(spawn, tmp_path, postgres_url, redis_url, weather_server, webhook_receiver):
    port = free_port()
    env = stack_env(
        tmp_path,
        postgres_url,
        redis_url,
        weather_server,
        SETUP.format(webhook=webhook_receiver.url),
        WEBHOOK_ALLOW_PRIVATE="true",
        WEBHOOK_BACKOFF="0.2",
        SITE_URL=f"http://127.0.0.1:{port}",
        PORT=str(port),
    )
    weather_server.set(-33.9, 151.2, "error")
    spawn("worker", shlex.split(WORKER), env)
    spawn("web", shlex.split(WEB), env)
    return Stack(env, postgres_url, redis_url, tmp_path)


def test_one_alert_per_event_through_each_channel(
    stack, weather_server, webhook_receiver
):
    weather_server.default = "rainy"
    stack.cycle(weather_server)
    wait_for(lambda: len(stack.emails()) == 1, what="the alert email")
    wait_for(lambda: webhook_receiver.received, what="the webhook")
    assert sorted(stack.alerts()) == [("Home", "sent"), ("Sleeping", "suppressed")]
    # The broken cell was skipped with its reason; the others went on.
    assert stack.query("select count(*) from weatherapp_prediction")[0][0] == 2

    # The webhook is signed with the place's secret.
    (secret,) = stack.query(
        "select webhook_secret from weatherapp_place where name='Home'"
    )[0]
    hook = webhook_receiver.received[0]
    mac = hmac.new(
        secret.encode(),
        hook["headers"]["X-Weatheralert-Timestamp"].encode() + b"." + hook["body"],
        hashlib.sha256,
    )
    assert hook["headers"]["X-Weatheralert-Signature"] == f"sha256={mac.hexdigest()}"
    assert json.loads(hook["body"])["place"]["name"] == "Home"

    # Duplicate and retried work: the same cycle twice more and the same chunk
    # twice at once. Nothing new is stored or sent.
    cells = [
        row[0] for row in stack.query("select id from weatherapp_cell order by id")
    ]
    for _ in range(2):
        stack.celery.send_task("weatherapp.tasks.predict_cells", args=[cells])
    stack.cycle(weather_server)
    stack.cycle(weather_server)
    # Still raining an hour later: the same event.
    weather_server.end += HOUR
    stack.cycle(weather_server)
    wait_for(
        lambda: stack.query("select count(*) from weatherapp_prediction")[0][0] == 4,
        what="the next hour's predictions",
    )
    assert len(stack.emails()) == 1
    assert len(webhook_receiver.received) == 1
    assert len(stack.alerts()) == 2

    # Dry for EVENT_END_HOURS (2): the rain has passed.
    weather_server.default = "dry"
    for predictions in (6, 8):
        weather_server.end += HOUR
        stack.cycle(weather_server)
        wait_for(
            lambda n=predictions: (
                stack.query("select count(*) from weatherapp_prediction")[0][0] == n
            ),
            what="a dry hour",
        )
    # Rain again once the place's quiet period (6 h) is over: a new event,
    # one more of each.
    weather_server.end += 6 * HOUR
    weather_server.default = "rainy"
    stack.cycle(weather_server)
    wait_for(lambda: len(stack.emails()) == 2, what="the second event's email")
    wait_for(lambda: len(webhook_receiver.received) == 2, what="the second webhook")
    assert [a for a in stack.alerts() if a[0] == "Home"] == [("Home", "sent")] * 2
    deliveries = stack.query(
        "select channel, outcome from weatherapp_delivery order by id"
    )
    assert sorted(deliveries) == [("email", "sent")] * 2 + [("webhook", "sent")] * 2


def test_unsubscribe_link_from_the_email(stack, weather_server):
    weather_server.default = "rainy"
    stack.cycle(weather_server)
    wait_for(lambda: stack.emails(), what="the alert email")
    message = email.message_from_string(stack.emails()[0].strip())
    link = message["List-Unsubscribe"].strip().strip("<>")
    text = message.get_payload()[0].get_payload(decode=True).decode()
    assert link in text  # also in the body
    # One click, as a mail client does it (RFC 8058): a POST without a session.
    request = urllib.request.Request(
        link, data=b"List-Unsubscribe=One-Click", method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    assert stack.query(
        "select email_enabled from weatherapp_place where name='Home'"
    ) == [(False,)]


def test_webhook_retries_until_the_receiver_recovers(
    stack, weather_server, webhook_receiver
):
    webhook_receiver.statuses = [503, 502]
    weather_server.default = "rainy"
    stack.cycle(weather_server)
    wait_for(lambda: len(webhook_receiver.received) == 3, what="two retries")
    wait_for(
        lambda: (
            stack.query(
                "select outcome from weatherapp_delivery "
                "where channel = 'webhook' order by id"
            )
            == [("failed",), ("failed",), ("sent",)]
        ),
        what="the stored attempts",
    )
