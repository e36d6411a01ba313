"""What the tests, the benchmarks and the ``demo`` / ``dyno_memory`` commands
share: free ports, a child process's environment, process groups, the
Procfile, Open-Meteo bodies and seeded places.

Development scaffolding, never imported by the runtime (an import contract in
pyproject.toml says so); numpy and Django are imported only where needed.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
DATASET = ROOT / "data" / "greensboro_723170_hourly.csv"
LONGITUDE = -79.95  # Greensboro, NC: the committed data's station

# Configured servers a child must not inherit unless a caller sets them.
_SERVER_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "EMAIL_HOST",
    "DJANGO_SETTINGS_MODULE",
)


# The app refuses to start without SECRET_KEY (unless DEBUG); children started
# for tests, benchmarks and the demo share this process's throwaway one.
_THROWAWAY_SECRET_KEY = f"dev-only-{secrets.token_urlsafe(40)}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child process of the app: this one's, with this
    interpreter's scripts (gunicorn, celery) first on PATH, plain http, and
    the embedded defaults unless ``extra`` names a server, and a throwaway
    SECRET_KEY unless one is set."""
    env = {k: v for k, v in os.environ.items() if k not in _SERVER_VARIABLES}
    env.update(
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        PYTHONUNBUFFERED="1",
        SECURE_SSL_REDIRECT="false",
    )
    if not env.get("SECRET_KEY"):
        env["SECRET_KEY"] = _THROWAWAY_SECRET_KEY
    env.update(extra)
    return env


def embedded_env(folder: str | Path, **extra: str) -> dict[str, str]:
    """A dyno started for a measurement: embedded defaults in ``folder``
    (SQLite, filesystem broker), no rate limit, no memory lines of its own,
    email kept in memory."""
    return child_env(
        WEATHERALERT_VAR_DIR=str(folder),
        # Served on loopback, whatever this shell's config vars allow.
        ALLOWED_HOSTS="127.0.0.1,localhost",
        PREDICT_RATE_LIMIT="1000000000/60",
        RUNTIME_METRICS_INTERVAL="0",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        **extra,
    )


class ManageError(RuntimeError):
    """A ``manage.py`` command exited non-zero; the message is its stderr."""


def manage(env: Mapping[str, str], *args: str, timeout: float = 600) -> str:
    """Run ``python manage.py ARGS`` in a child; its stdout, stripped."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode:
        raise ManageError(done.stderr.strip() or f"manage.py {args[0]} failed")
    return done.stdout.strip()


def read_procfile(path: str | Path = ROOT / "Procfile") -> dict[str, str]:
    """Process type -> command line, as Heroku reads a Procfile."""
    lines = {}
    for line in Path(path).read_text().splitlines():
        name, sep, command = line.partition(":")
        if sep and name.strip() and not name.startswith("#"):
            lines[name.strip()] = command.strip()
    return lines


def procfile_args(name: str, path: str | Path = ROOT / "Procfile") -> list[str]:
    """One Procfile line as argv, with ``$VARIABLES`` expanded as a shell would."""
    procfile = read_procfile(path)
    if name not in procfile:
        raise KeyError(f"{Path(path).name} has no {name} line")
    return shlex.split(os.path.expandvars(procfile[name]))


def start(
    args: list[str],
    env: Mapping[str, str],
    output: IO[Any] | int | None = subprocess.DEVNULL,
    **popen: Any,
) -> subprocess.Popen[Any]:
    """Start ``args`` as the leader of its own process group (like a dyno), so
    that stop() ends everything it starts."""
    return subprocess.Popen(
        args,
        cwd=ROOT,
        env=dict(env),
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        **popen,
    )


def stop(process: subprocess.Popen[Any], grace: float = 20) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left of it, even
    when the leader is gone (Celery's embedded beat, say, must not linger)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def open_meteo_body(hours: Mapping[str, Any], end: int, n: int = 24) -> dict[str, Any]:
    """The ``n`` hours of *hours* ending at index ``end`` in Open-Meteo's
    forecast shape (its default units: wind in km/h)."""
    window = slice(end - n + 1, end + 1)
    times = hours["time"][window].astype("datetime64[m]")
    hourly: dict[str, list[Any]] = {"time": [str(t) for t in times]}
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


# A `manage.py shell -c` script: enqueue one cycle, as beat would.
RUN_CYCLE = "from weatherapp.tasks import run_cycle; run_cycle.delay()"


def city_places(n: int) -> str:
    """A ``manage.py shell -c`` script: ``n`` places of one user spread over a
    40 km square around Greensboro, NC (25 cells); prints the cell count."""
    return PLACES.format(
        n=n,
        lat="36.1 + rng.uniform(-0.18, 0.18, n)",
        lon="-79.9 + rng.uniform(-0.22, 0.22, n)",
    )


def us_places(n: int) -> str:
    """The same script with ``n`` places spread uniformly over the contiguous
    US box (24.5-49 N, 124.5-67 W: 245 x 575 = 140,875 cells of 0.1 degree,
    land and sea; 100,000 places fill ~71,700 of them)."""
    return PLACES.format(
        n=n, lat="rng.uniform(24.5, 49.0, n)", lon="rng.uniform(-124.5, -67.0, n)"
    )


PLACES = """
import numpy as np
from django.contrib.auth.models import User
from weatherapp.models import Cell, Place
rng = np.random.default_rng(0)
n = {n}
user = User.objects.create_user("bench", "bench@example.com", "bench-password-1")
lat = {lat}
lon = {lon}
size = Cell.degrees()
squares = {{}}
for a, b in zip(lat, lon):
    square = Cell.square(a, b, size)
    squares.setdefault((square["lat_index"], square["lon_index"]), square)
Cell.objects.bulk_create(
    [Cell(**square) for square in squares.values()],
    batch_size=2000,
    ignore_conflicts=True,
)
cells = {{
    (c.lat_index, c.lon_index): c
    for c in Cell.objects.filter(size=size).only("id", "lat_index", "lon_index")
}}
places = [
    Place(owner=user, name=f"p{{i}}", latitude=a, longitude=b, email_enabled=False,
          cell=cells[round(a / size), round(b / size)])
    for i, (a, b) in enumerate(zip(lat, lon))
]
Place.objects.bulk_create(places, batch_size=2000)
print(len(squares))
"""
