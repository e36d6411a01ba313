"""What the benchmarks share: a fresh app folder, its commands, its dynos."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Places spread uniformly over a 40 km square around Greensboro, NC: 25 cells.
CITY_PLACES = """
import numpy as np
from django.contrib.auth.models import User
from weatherapp.models import Cell, Place
rng = np.random.default_rng(0)
user = User.objects.create_user("bench", "bench@example.com", "bench-password-1")
lat = 36.1 + rng.uniform(-0.18, 0.18, {n})
lon = -79.9 + rng.uniform(-0.22, 0.22, {n})
cells = {{}}
places = []
for i, (a, b) in enumerate(zip(lat, lon)):
    key = (round(a / 0.1), round(b / 0.1))
    if key not in cells:
        cells[key] = Cell.objects.get_or_create(lat_index=key[0], lon_index=key[1])[0]
    places.append(Place(owner=user, name=f"p{{i}}", latitude=a, longitude=b,
                        cell=cells[key], email_enabled=False))
Place.objects.bulk_create(places, batch_size=2000)
print(len(cells))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_env(folder: str | Path, **extra: str) -> dict[str, str]:
    """The embedded defaults in ``folder`` (SQLite, filesystem broker)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]]),
        WEATHERALERT_VAR_DIR=str(folder),
        SECURE_SSL_REDIRECT="false",
        PREDICT_RATE_LIMIT="1000000000/60",
        RUNTIME_METRICS_INTERVAL="0",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
    )
    env.update(extra)
    return env


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise SystemExit(done.stderr)
    return done.stdout.strip()


def procfile_line(name: str) -> list[str]:
    for line in (ROOT / "Procfile").read_text().splitlines():
        kind, _, command = line.partition(":")
        if kind.strip() == name:
            return shlex.split(command)
    raise SystemExit(f"Procfile has no {name} line")


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        args,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop(process: subprocess.Popen) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left of it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
