"""A real Celery worker process consumes the tasks; predictions land in a real DB."""

import os
import signal
import socket
import sqlite3
import threading
import time

import psycopg
import pytest

from support import RUN_CYCLE, child_env, manage

from .conftest import wait_for

pytestmark = pytest.mark.slow

WORKER = ["celery", "-A", "weatherapp", "worker", "--loglevel=info", "--concurrency=1"]
BEAT = ["celery", "-A", "weatherapp", "beat", "--loglevel=info"]

CREATE_PLACE = """
from django.contrib.auth.models import User
from weatherapp.models import Place
user = User.objects.create_user("ann", "ann@example.com", "pw")
print(Place.objects.create(owner=user, name="Here", latitude=36.1, longitude=-79.95,
                           threshold=0.5).pk)
"""


def rainy_replay_with_file_mail(tmp_path, rainy_hour):
    """The replay clock held at an hour the model scores >= 0.6; mail to files."""
    return {
        "WEATHER_REPLAY_START": rainy_hour,
        "WEATHER_REPLAY_ANCHOR": str(time.time()),
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(tmp_path / "mail"),
    }


def sent_mail(tmp_path) -> list[str]:
    folder = tmp_path / "mail"
    return [p.read_text() for p in folder.iterdir()] if folder.exists() else []


def query_postgres(url, sql):
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


@pytest.mark.services
def test_worker_on_redis_writes_to_postgresql(
    spawn, tmp_path, postgres_url, redis_url, rainy_hour
):
    env = child_env(
        DATABASE_URL=postgres_url,
        REDIS_URL=redis_url,
        WEATHERALERT_VAR_DIR=str(tmp_path),
        **rainy_replay_with_file_mail(tmp_path, rainy_hour),
    )
    manage(env, "migrate", "--noinput")
    manage(env, "shell", "-c", CREATE_PLACE)
    worker = spawn("worker", WORKER, env)
    manage(env, "shell", "-c", RUN_CYCLE)

    rows = wait_for(
        lambda: query_postgres(
            postgres_url,
            "select length(probabilities), m.name from weatherapp_prediction p "
            "join weatherapp_modelversion m on m.id = p.model_id",
        ),
        what="a prediction in PostgreSQL\n" + worker.output(),
    )
    assert rows == [(12, rows[0][1])] and rows[0][1]  # six horizons, two bytes each
    status = wait_for(
        lambda: query_postgres(
            postgres_url,
            "select status from weatherapp_alert where status != 'pending'",
        ),
        what="the alert delivery\n" + worker.output(),
    )
    assert status == [("sent",)]
    deliveries = query_postgres(
        postgres_url, "select channel, outcome from weatherapp_delivery"
    )
    assert deliveries == [("email", "sent")]
    assert "ann@example.com" in sent_mail(tmp_path)[0]

    # The same cycle again (a retry, a duplicate): nothing new is stored or sent.
    manage(env, "shell", "-c", RUN_CYCLE)
    wait_for(
        lambda: worker.output().count("predict_cells") >= 4,  # 2 received, 2 succeeded
        what="the second chunk",
    )
    assert (
        len(query_postgres(postgres_url, "select cell_id from weatherapp_prediction"))
        == 1
    )
    assert len(query_postgres(postgres_url, "select id from weatherapp_alert")) == 1
    assert len(sent_mail(tmp_path)) == 1
    assert "tensorflow" not in worker.output().lower()


# An hour between cycles too: a dyno restart (daily, every release) loses
# beat's schedule, and its first cycle came one interval after it started.
@pytest.mark.parametrize("interval", ["2", "3600"])
def test_beat_and_worker_on_sqlite_with_the_embedded_broker(
    spawn, tmp_path, rainy_hour, interval
):
    """No servers at all: SQLite and kombu's filesystem transport; beat's
    first cycle as it starts."""
    env = child_env(
        WEATHERALERT_VAR_DIR=str(tmp_path),
        PREDICTION_INTERVAL_SECONDS=interval,
        **rainy_replay_with_file_mail(tmp_path, rainy_hour),
    )
    manage(env, "migrate", "--noinput")
    manage(env, "shell", "-c", CREATE_PLACE)
    worker = spawn("worker", WORKER, env)
    spawn("beat", BEAT, env)

    def predictions():
        with sqlite3.connect(tmp_path / "weatheralert.sqlite3") as db:
            return db.execute(
                "select length(probabilities) from weatherapp_prediction"
            ).fetchall()

    rows = wait_for(predictions, what="a prediction in SQLite\n" + worker.output())
    assert rows[0][0] == 12  # six horizons, two bytes each
    wait_for(lambda: sent_mail(tmp_path), what="the alert email")


def test_a_hanging_weather_server_does_not_hold_a_stopping_worker(spawn, tmp_path):
    """Heroku sends SIGTERM, then SIGKILL 30 s later. With Open-Meteo
    accepting and never answering, the chunk's retries held the worker for
    88 s; once told to stop it retries nothing and stores what it has."""
    silent = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def hold() -> None:
        while True:
            try:
                held.append(silent.accept()[0])
            except OSError:  # closed: the test is over
                return

    threading.Thread(target=hold, daemon=True).start()
    env = child_env(
        WEATHERALERT_VAR_DIR=str(tmp_path),
        WEATHER_SOURCE="open-meteo",
        OPEN_METEO_URL=f"http://127.0.0.1:{silent.getsockname()[1]}",
        OPEN_METEO_READ_TIMEOUT="5",
        OPEN_METEO_RETRIES="5",  # about 45 s of attempts and backoff
    )
    try:
        manage(env, "migrate", "--noinput")
        manage(env, "shell", "-c", CREATE_PLACE)
        worker = spawn("worker", WORKER, env)
        wait_for(lambda: "ready." in worker.output(), what=worker.output())
        manage(env, "shell", "-c", RUN_CYCLE)
        wait_for(lambda: held, what="the worker's weather request\n" + worker.output())
        told = time.monotonic()
        os.killpg(worker.popen.pid, signal.SIGTERM)
        worker.popen.wait(timeout=120)
        stopped_after = time.monotonic() - told
    finally:
        silent.close()
        for conn in held:
            conn.close()
    # One 5 s attempt now, 45 s of them before; Heroku's SIGKILL comes at 30.
    assert stopped_after < 28, f"{stopped_after:.0f} s\n{worker.output()}"
    assert "not retried: shutting down" in worker.output()
