"""Shared fixtures: real data windows, real servers, real processes."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import hypothesis
import numpy as np
import pytest

import support
from support import DATASET, LONGITUDE

# Hypothesis: "dev" (the default, ./dev check) runs a few hundred fuzz examples,
# "ci" (./dev test, CI) the full count; both are reproducible.
for _name in ("dev", "ci"):
    hypothesis.settings.register_profile(
        _name,
        deadline=None,
        derandomize=True,
        database=None,
        print_blob=True,
    )
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(scope="session")
def hours() -> dict[str, np.ndarray]:
    from weatherapp.forecast.dataset import read_csv

    return read_csv(DATASET)


@pytest.fixture(scope="session")
def scored_windows(hours) -> tuple[np.ndarray, np.ndarray]:
    """Every window end of the committed data and the model's p there."""
    from weatherapp.ai.predictor import RainModel
    from weatherapp.forecast import features

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
    from weatherapp.forecast import features

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


def wait_for(condition, timeout: float = 60.0, interval: float = 0.2, what: str = ""):
    """Poll ``condition`` until it returns a truthy value; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what or condition}")


class Process:
    """A child process with its output kept in a file for failure messages."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._out = open(log, "w")  # noqa: SIM115 (closed by stop())
        self.popen = support.start(args, env, self._out)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        support.stop(self.popen)
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
    from weatherapp.alerting import cycle

    settings.WEATHER_SOURCE = "open-meteo"
    settings.OPEN_METEO_URL = weather_server.url
    settings.OPEN_METEO_BACKOFF = 0.01
    settings.OPEN_METEO_RETRIES = 1
    cycle._source = None
    yield weather_server
    cycle._source = None


@pytest.fixture(autouse=True)
def openapi_contract() -> Iterator[None]:
    """Fail a test whose test-Client requests got answers that break the OpenAPI
    document (recorded by tests.openapi_contract.ContractMiddleware)."""
    from tests import openapi_contract as contract

    contract.take()
    yield
    found = contract.take()
    if found:
        pytest.fail(
            "responses that break /api/v1/openapi.json:\n" + "\n".join(found),
            pytrace=False,
        )


def store_prediction(
    place, valid_at, probability: float, version: str = "v1", **fields
):
    """The place's cell's prediction for ``valid_at`` (what the cycle stores),
    with ``probability`` at every horizon unless ``probabilities`` is given."""
    from weatherapp.models import ModelVersion, Prediction

    fields.setdefault("probabilities", (probability,) * 6)
    prediction, _ = Prediction.objects.update_or_create(
        cell_id=place.cell_id,
        valid_at=valid_at,
        defaults={"model": ModelVersion.named(version), **fields},
    )
    return prediction
