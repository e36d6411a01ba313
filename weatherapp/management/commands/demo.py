"""Run the whole app on embedded defaults: the Procfile's processes, side by side.

SQLite, the filesystem Celery broker, the replay weather source on a fast
clock (so rain arrives within minutes) and email on the console. The
Procfile's own command lines are run, so the demo also proves they work.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

import support
from weatherapp.models import EmailAddress, Place

PROCESSES = ("web", "worker", "beat")


def rainy_start(speed: float, lead_seconds: float, threshold: float) -> str:
    """An hour of the replay data ``lead_seconds`` of demo time before the
    model's probability first climbs from below ``threshold`` to well above
    it, so the demo shows the probability rising and an alert going out."""
    import numpy as np

    from weatherapp.ai.predictor import RainModel
    from weatherapp.forecast import features
    from weatherapp.forecast.sources import ReplaySource

    source = ReplaySource(settings.WEATHER_REPLAY_PATH)
    hours, ends = source.hours, source.ends
    x = features.features(
        features.stack_windows(hours, ends),
        hours["time"][ends],
        DEMO_PLACE["longitude"],
    )
    p = RainModel(settings.MODEL_PATH).predict(x)
    lead = max(1, round(lead_seconds * speed / 3600))
    for k in range(lead, len(ends)):
        if p[k] >= threshold + 0.1 and (p[k - lead : k] < threshold - 0.2).all():
            return str(hours["time"][ends[k - lead]])
    return str(np.datetime_as_string(hours["time"][ends[0]]))


DEMO_PLACE: dict[str, Any] = {
    "latitude": 36.1,
    "longitude": -79.95,
    "threshold": 0.5,
    "timezone": "America/New_York",
}

_HOST_NAME = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?"
)


def site_address(host: str, port: int) -> tuple[str, str]:
    """(gunicorn's bind address, the SITE_URL for links) for ``host:port``.

    Listening on every address (0.0.0.0, ::) the links use this machine's
    loopback, which the person running the demo can open. Raises ValueError
    on a host that is neither an IP address nor a host name."""
    if not 1 <= port <= 65535:
        raise ValueError("--port must be within [1, 65535]")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if not _HOST_NAME.fullmatch(host):
            problem = f"--host {host!r} is not an IP address or host name"
            raise ValueError(problem) from None
        return f"{host}:{port}", f"http://{host}:{port}"
    if address.version == 6:
        link = "[::1]" if address.is_unspecified else f"[{address.compressed}]"
        return f"[{address.compressed}]:{port}", f"http://{link}:{port}"
    link = "127.0.0.1" if address.is_unspecified else address.compressed
    return f"{address.compressed}:{port}", f"http://{link}:{port}"


def demo_env(
    host: str, port: int, speed: float, interval: float, start: str
) -> dict[str, str]:
    """The environment of the demo's processes: embedded defaults only (a
    demo never touches a configured server), gunicorn on ``host:port`` and
    links in emails to that same address."""
    bind, site_url = site_address(host, port)
    allowed = [
        "localhost",
        "127.0.0.1",
        "[::1]",
        site_url.split("//", 1)[1].rsplit(":", 1)[0],  # [::1] keeps brackets
    ]
    try:
        anywhere = ipaddress.ip_address(host).is_unspecified
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        anywhere, loopback = False, host == "localhost"
    return support.child_env(
        DJANGO_SETTINGS_MODULE="weatheralert.settings",
        PORT=str(port),
        # gunicorn binds 0.0.0.0:$PORT by itself; its command-line arguments
        # from the environment come first.
        GUNICORN_CMD_ARGS=f"--bind {bind}",
        SITE_URL=site_url,
        ALLOWED_HOSTS="*" if anywhere else ",".join(dict.fromkeys(allowed)),
        # Django's debug pages (tracebacks, the URLconf) only for this
        # machine; a demo others can reach gets production's error pages,
        # over plain http (cookies without Secure, no HSTS).
        DEBUG=str(loopback).lower(),
        SECURE_COOKIES="false",
        SECURE_HSTS_SECONDS="0",
        WHITENOISE_USE_FINDERS="true",  # the admin's CSS without collectstatic
        WEATHER_REPLAY_SPEED=str(speed),
        WEATHER_REPLAY_ANCHOR=str(time.time()),
        WEATHER_REPLAY_START=start,
        PREDICTION_INTERVAL_SECONDS=str(interval),
        EMAIL_BACKEND="django.core.mail.backends.console.EmailBackend",
        # Three processes' memory lines every 20 s buried the emails.
        RUNTIME_METRICS_INTERVAL=os.environ.get("RUNTIME_METRICS_INTERVAL", "120"),
    )


class Command(BaseCommand):
    help = "Run web, worker and beat on embedded defaults, with a demo user and place."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--host",
            default="127.0.0.1",
            help="address to listen on (127.0.0.1: this machine only; "
            "0.0.0.0 for every interface)",
        )
        parser.add_argument(
            "--port", type=int, default=8000, help="port to serve on (default 8000)"
        )
        parser.add_argument(
            "--speed",
            type=float,
            default=120.0,
            help="replayed hours per real hour (default 120: one hour every 30 s)",
        )
        parser.add_argument(
            "--interval",
            type=float,
            default=15.0,
            help="seconds between prediction cycles (default 15); the pages "
            "reload once a cycle, at most every 15 s",
        )

    def handle(
        self, host: str, port: int, speed: float, interval: float, **options: Any
    ) -> None:
        try:
            site_address(host, port)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if not 0 < speed <= 3600:
            raise CommandError("--speed must be within (0, 3600]")
        if not 1 <= interval <= 3600:
            raise CommandError("--interval must be within [1, 3600] seconds")
        procfile = support.read_procfile()
        missing = [p for p in PROCESSES if p not in procfile]
        if missing:
            raise CommandError(f"Procfile has no {', '.join(missing)} line")

        call_command("migrate", interactive=False, verbosity=0)
        password = secrets.token_urlsafe(9)
        user, _ = get_user_model().objects.get_or_create(
            username="demo", defaults={"email": "demo@example.com"}
        )
        user.set_password(password)
        user.save()
        EmailAddress.mark_verified(user)  # the demo's address needs no link
        place, _ = Place.objects.get_or_create(
            owner=user,
            name="Greensboro, NC",
            defaults=DEMO_PLACE,
        )

        env = demo_env(
            host,
            port,
            speed,
            interval,
            start=rainy_start(speed, lead_seconds=90, threshold=place.threshold),
        )
        url = f"{env['SITE_URL']}{place.get_absolute_url()}"
        self.stdout.write(
            f"\nweatheralert demo: log in at {url}\n"
            f"  user: demo   password: {password}\n"
            f"  replaying observations at {speed:g}x "
            f"from {env['WEATHER_REPLAY_START']}Z; "
            "an alert email prints here when rain is likely. Ctrl-C stops.\n\n"
        )
        self._run(procfile, env)

    def _run(self, procfile: dict[str, str], env: dict[str, str]) -> None:
        children = {}
        for name in PROCESSES:
            children[name] = support.start(
                support.procfile_args(name), env, subprocess.PIPE, text=True
            )
            threading.Thread(
                target=self._relay, args=(name, children[name]), daemon=True
            ).start()
        stopping = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopping.set())
        try:
            while not stopping.is_set():
                dead = [n for n, c in children.items() if c.poll() is not None]
                if dead:
                    raise CommandError(f"{', '.join(dead)} exited; stopping the demo")
                stopping.wait(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            for child in children.values():
                support.stop(child, grace=10)

    def _relay(self, name: str, child: subprocess.Popen[str]) -> None:
        if child.stdout is None:  # started with stdout=PIPE, so never
            return
        for line in child.stdout:
            sys.stdout.write(f"{name:>6} | {line}")
            sys.stdout.flush()
