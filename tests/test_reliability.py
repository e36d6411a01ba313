"""Workers that die, a Redis that goes away, workers that race: nothing is
lost and nothing is sent twice. Real processes, real servers."""

import os
import shlex
import signal
import subprocess
import time

import pytest
from celery import Celery

from support import child_env, free_port, manage

from .conftest import wait_for
from .test_alert_e2e import WORKER, Stack
from .test_alert_e2e import stack_env as e2e_stack_env

pytestmark = [pytest.mark.services, pytest.mark.slow]

PLACES = """
from django.contrib.auth.models import User
from weatherapp.models import Place
ann = User.objects.create_user("ann", "ann@example.com", "pw")
for name, lat, lon in [("A", 36.1, -80.0), ("B", 40.0, -75.0), ("C", 45.0, 7.0)]:
    Place.objects.create(owner=ann, name=name, latitude=lat, longitude=lon)
"""


def stack_env(tmp_path, postgres_url, redis_url, weather_server, **extra):
    """Three places in three cells; no retries, so a fault shows at once."""
    return e2e_stack_env(
        tmp_path,
        postgres_url,
        redis_url,
        weather_server,
        PLACES,
        OPEN_METEO_RETRIES="0",
        **extra,
    )


def counts(stack: Stack) -> tuple[int, int]:
    predictions = stack.query("select count(*) from weatherapp_prediction")[0][0]
    alerts = stack.query("select count(*) from weatherapp_alert")[0][0]
    return predictions, alerts


def test_a_worker_killed_mid_chunk_loses_nothing_and_sends_nothing_twice(
    spawn, tmp_path, postgres_url, redis_url, weather_server
):
    env = stack_env(
        tmp_path, postgres_url, redis_url, weather_server, BROKER_VISIBILITY_TIMEOUT="3"
    )
    stack = Stack(env, postgres_url, redis_url, tmp_path)
    weather_server.default = "rainy"
    weather_server.set(40.0, -75.0, "slow")  # the chunk's second cell hangs
    weather_server.slow_seconds = 8
    first = spawn("worker1", shlex.split(WORKER), env)
    stack.celery.send_task("weatherapp.tasks.run_cycle")
    wait_for(lambda: weather_server.requests_for(40.0, -75.0), what="the slow fetch")
    os.killpg(first.popen.pid, signal.SIGKILL)  # in the middle of the chunk
    first.popen.wait()
    assert counts(stack) == (0, 0)  # the chunk's work is one transaction
    weather_server.set(40.0, -75.0, "rainy")
    spawn("worker2", shlex.split(WORKER), env)
    wait_for(
        lambda: counts(stack) == (3, 3), timeout=60, what="the chunk, delivered again"
    )
    wait_for(lambda: len(stack.emails()) == 3, what="one email per alert")
    time.sleep(4)  # past another visibility timeout: nothing more arrives
    assert counts(stack) == (3, 3) and len(stack.emails()) == 3


def test_racing_workers_decide_each_event_once(
    spawn, tmp_path, postgres_url, redis_url, weather_server
):
    env = stack_env(tmp_path, postgres_url, redis_url, weather_server)
    stack = Stack(env, postgres_url, redis_url, tmp_path)
    weather_server.default = "rainy"
    for i in range(3):
        spawn(f"worker{i}", [*shlex.split(WORKER), "-n", f"w{i}@%h"], env)
    time.sleep(3)
    cells = [
        row[0] for row in stack.query("select id from weatherapp_cell order by id")
    ]
    for _ in range(8):  # duplicated chunks, at once, on three workers
        stack.celery.send_task("weatherapp.tasks.predict_cells", args=[cells])
    wait_for(lambda: len(stack.emails()) >= 3, what="the alert emails")
    wait_for(lambda: weather_server.locations_asked() >= 24, what="all eight chunks")
    time.sleep(2)
    assert counts(stack) == (3, 3)
    assert len(stack.emails()) == 3
    deliveries = stack.query("select count(*) from weatherapp_delivery")[0][0]
    assert deliveries == 3


def test_the_worker_reconnects_when_redis_returns(
    spawn, tmp_path, postgres_url, weather_server
):
    port = free_port()
    redis_args = [
        "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    redis_url = f"redis://127.0.0.1:{port}/0"
    server = spawn("redis1", redis_args, child_env())
    wait_for(lambda: "Ready to accept" in server.output(), what="Redis")
    env = stack_env(tmp_path, postgres_url, redis_url, weather_server)
    stack = Stack(env, postgres_url, redis_url, tmp_path)
    worker = spawn("worker", shlex.split(WORKER), env)
    wait_for(lambda: "ready." in worker.output(), what="the worker")

    server.stop()  # Redis goes away ...
    wait_for(
        lambda: "Cannot connect" in worker.output() or "Connection" in worker.output(),
        what="the worker to notice",
    )
    time.sleep(2)
    server = spawn("redis2", redis_args, child_env())  # ... and comes back
    wait_for(lambda: "Ready to accept" in server.output(), what="Redis again")
    Celery(broker=redis_url).send_task("weatherapp.tasks.run_cycle")
    wait_for(lambda: counts(stack)[0] == 3, timeout=90, what="a cycle after the outage")
    assert worker.popen.poll() is None


def test_rediss_with_a_self_signed_certificate(
    spawn, tmp_path, postgres_url, weather_server
):
    """Heroku Redis serves rediss:// with a self-signed certificate: the broker
    and the cache must connect anyway."""
    import ssl

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=redis.invalid",
        ],
        check=True,
        capture_output=True,
    )
    port = free_port()
    server = spawn(
        "redis-tls",
        [
            "redis-server",
            "--port",
            "0",
            "--tls-port",
            str(port),
            "--tls-cert-file",
            str(cert),
            "--tls-key-file",
            str(key),
            "--tls-ca-cert-file",
            str(cert),
            "--tls-auth-clients",
            "no",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        child_env(),
    )
    wait_for(lambda: "Ready to accept" in server.output(), what="Redis with TLS")
    redis_url = f"rediss://127.0.0.1:{port}/0"
    env = stack_env(tmp_path, postgres_url, redis_url, weather_server)
    stack = Stack(env, postgres_url, redis_url, tmp_path)
    cache_check = (
        "from django.core.cache import cache as c; c.set('k', 41); print(c.get('k'))"
    )
    assert manage(env, "shell", "-c", cache_check).strip().endswith("41")
    spawn("worker", shlex.split(WORKER), env)
    client = Celery(broker=redis_url, broker_use_ssl={"ssl_cert_reqs": ssl.CERT_NONE})
    client.send_task("weatherapp.tasks.run_cycle")
    wait_for(lambda: counts(stack)[0] == 3, timeout=60, what="a cycle over rediss://")
