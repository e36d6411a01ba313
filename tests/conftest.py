"""Shared fixtures: real data windows, real servers, real processes."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATASET = ROOT / "data" / "greensboro_723170_hourly.csv"
LONGITUDE = -79.95
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(scope="session")
def hours() -> dict[str, np.ndarray]:
    from weatherapp.ai.dataset import read_csv

    return read_csv(DATASET)


@pytest.fixture(scope="session")
def scored_windows(hours) -> tuple[np.ndarray, np.ndarray]:
    """Every window end of the committed data and the model's p there."""
    from weatherapp.ai import features
    from weatherapp.ai.predictor import RainModel

    ends = features.window_ends(hours["time"])
    x = features.features(
        features.stack_windows(hours, ends), hours["time"][ends], LONGITUDE
    )
    return ends, RainModel().predict(x)


@pytest.fixture(scope="session")
def rainy_hour(hours, scored_windows) -> str:
    """The first hour of the committed data at which the model says p >= 0.6."""
    ends, p = scored_windows
    return str(hours["time"][ends[np.argmax(p >= 0.6)]])


@pytest.fixture
def weather_server(hours, scored_windows):
    """Open-Meteo on loopback: "rainy" hours score >= 0.7, "dry" ones the least."""
    from weatherapp.ai import features

    from .weather_server import WeatherServer

    ends, p = scored_windows
    # Ends with 30 consecutive hours before them, enough for past_hours.
    p = np.where(np.isin(ends, features.window_ends(hours["time"], 30)), p, np.nan)
    server = WeatherServer(
        hours,
        rainy_end=int(ends[np.argmax(np.nan_to_num(p) >= 0.7)]),
        dry_end=int(ends[np.nanargmin(p)]),
    )
    yield server
    server.close()


def open_meteo_body(hours: dict[str, np.ndarray], end: int, n: int = 24) -> dict:
    """The ``n`` hours ending at ``end`` in Open-Meteo's forecast shape
    (default units: wind in km/h)."""
    window = slice(end - n + 1, end + 1)
    times = hours["time"][window].astype("datetime64[m]")
    hourly = {"time": [str(t) for t in times]}
    for name, values in hours.items():
        if name == "time":
            continue
        values = values[window] * (3.6 if name == "wind_speed_10m" else 1.0)
        hourly[name] = [round(float(v), 3) for v in values]
    return {
        "latitude": 36.1,
        "longitude": LONGITUDE,
        "generationtime_ms": 0.1,
        "utc_offset_seconds": 0,
        "timezone": "GMT",
        "timezone_abbreviation": "GMT",
        "elevation": 273.0,
        "hourly_units": {
            "time": "iso8601",
            "temperature_2m": "°C",
            "relative_humidity_2m": "%",
            "dew_point_2m": "°C",
            "surface_pressure": "hPa",
            "cloud_cover": "%",
            "wind_speed_10m": "km/h",
            "wind_direction_10m": "°",
            "precipitation": "mm",
        },
        "hourly": hourly,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, timeout: float = 60.0, interval: float = 0.2, what: str = ""):
    """Poll ``condition`` until it returns a truthy value; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what or condition}")


def base_env(**extra: str) -> dict[str, str]:
    """Environment for a child process of the app: embedded defaults unless given."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        PYTHONUNBUFFERED="1",
        SECURE_SSL_REDIRECT="false",
        **extra,
    )
    return env


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


class Process:
    """A child process with its output kept in a file for failure messages."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._out = open(log, "w")  # noqa: SIM115 (closed by stop())
        self.popen = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        # The whole process group, even when its leader is gone: a child it
        # left behind (Celery's embedded beat, say) must not outlive the test.
        try:
            os.killpg(self.popen.pid, 15)
            self.popen.wait(timeout=20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, 9)
            self.popen.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, 9)
        self._out.close()


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator:
    started: list[Process] = []

    def start(name: str, args: list[str], env: dict[str, str]) -> Process:
        process = Process(args, env, tmp_path / f"{name}.log")
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test, dropped afterwards."""
    import psycopg

    name = f"weatheralert_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {POSTGRES_URL} is needed: {exc}")
    admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = POSTGRES_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def redis_url() -> str:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5)
    try:
        client.flushdb()
    except redis.RedisError as exc:
        pytest.fail(f"Redis at {REDIS_URL} is needed: {exc}")
    return REDIS_URL


@pytest.fixture
def webhook_receiver():
    from .webhook_server import WebhookReceiver

    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def open_meteo(settings, weather_server):
    """This process's weather source is the loopback Open-Meteo."""
    from weatherapp import sources

    settings.WEATHER_SOURCE = "open-meteo"
    settings.OPEN_METEO_URL = weather_server.url
    settings.OPEN_METEO_BACKOFF = 0.01
    settings.OPEN_METEO_RETRIES = 1
    sources._source = None
    yield weather_server
    sources._source = None
