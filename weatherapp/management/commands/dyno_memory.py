"""Measure each Procfile process type as a Heroku dyno would run it.

    python manage.py dyno_memory [--places 10000] [--seconds 20] [--json]

Each dyno is started from the Procfile's own command line (``PORT`` set), in a
fresh folder with the embedded defaults (SQLite, filesystem broker, replay
weather on a fast clock), driven with realistic work, and its whole process
tree sampled (RSS and PSS) every 100 ms:

- web: page views, health checks and predictions from 4 concurrent clients;
- worker: an alert cycle over ``--places`` places every 2 s, a new weather
  hour each time;
- beat: its ticks;
- one-dyno: Procfile.one-dyno (web, worker and embedded beat in one dyno)
  with the web and worker work at once.
"""

from __future__ import annotations

import http.client
import json
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

import support
from weatherapp.ops.memory import sample

QUOTA_MB = 512
DYNOS = ("web", "worker", "beat", "one-dyno")


class Sampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.samples: list[tuple[float, float]] = []
        self.running = True

    def run(self) -> None:
        while self.running:
            s = sample(self.pid)
            self.samples.append((s.rss_mb, s.pss_mb))
            time.sleep(0.1)

    def result(self) -> dict:
        self.running = False
        self.join()
        rss = [r for r, _ in self.samples]
        pss = [p for _, p in self.samples]
        steady = sorted(pss[len(pss) // 2 :])  # the second half, after warm-up
        steady_rss = sorted(rss[len(rss) // 2 :])
        return {
            "peak_rss_mb": round(max(rss), 1),
            "peak_pss_mb": round(max(pss), 1),
            "steady_rss_mb": round(steady_rss[len(steady_rss) // 2], 1),
            "steady_pss_mb": round(steady[len(steady) // 2], 1),
            "share_of_quota": round(max(pss) / QUOTA_MB, 3),
        }


class Command(BaseCommand):
    help = "Peak and steady memory of each Procfile process type, and of one dyno."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--places", type=int, default=10000)
        parser.add_argument("--seconds", type=float, default=20.0)
        parser.add_argument("--json", action="store_true")
        parser.add_argument(
            "--only", nargs="+", choices=DYNOS, help="measure only these dynos"
        )

    def handle(
        self,
        places: int,
        seconds: float,
        json: bool = False,
        only: list[str] | None = None,
        **options: Any,
    ) -> None:
        if not 1 <= places <= 200000:
            raise CommandError("--places must be within [1, 200000]")
        if not 2 <= seconds <= 3600:
            raise CommandError("--seconds must be within [2, 3600]")
        root = Path(settings.BASE_DIR)
        one_dyno = root / "Procfile.one-dyno"
        plans = {
            "web": (support.procfile_args("web"), True, False),
            "worker": (support.procfile_args("worker"), False, True),
            "beat": (support.procfile_args("beat"), False, False),
            "one-dyno": (support.procfile_args("web", one_dyno), True, True),
        }
        dynos = {
            name: self.measure(line, places, seconds, web=web, cycles=cycles)
            for name, (line, web, cycles) in plans.items()
            if not only or name in only
        }
        self.stdout.write(
            f"{'dyno':<10}{'peak PSS':>10}{'peak RSS':>10}{'steady PSS':>12}"
            f"{'steady RSS':>12}{'of 512 MB':>11}"
        )
        for name, r in dynos.items():
            self.stdout.write(
                f"{name:<10}{r['peak_pss_mb']:>8.1f}MB{r['peak_rss_mb']:>8.1f}MB"
                f"{r['steady_pss_mb']:>10.1f}MB{r['steady_rss_mb']:>10.1f}MB"
                f"{r['share_of_quota']:>10.1%}"
            )
        if json:
            import json as json_module

            self.stdout.write(json_module.dumps({"quota_mb": QUOTA_MB, "dynos": dynos}))

    def measure(
        self,
        args: list[str],
        places: int,
        seconds: float,
        web: bool = False,
        cycles: bool = False,
    ) -> dict:
        with tempfile.TemporaryDirectory() as folder:
            port = support.free_port()
            env = support.embedded_env(
                folder,
                PORT=str(port),
                WEATHER_SOURCE="replay",
                WEATHER_REPLAY_SPEED="1800",  # a new hour every 2 s
                WEATHER_REPLAY_ANCHOR=str(time.time()),
                PREDICTION_INTERVAL_SECONDS="2",
            )
            self._manage(env, "migrate", "--noinput")
            self._manage(env, "shell", "-c", support.city_places(places))
            process = support.start(args, env)
            try:
                time.sleep(3)
                sampler = Sampler(process.pid)
                sampler.start()
                stop = time.monotonic() + seconds
                work = []
                refused: list[int] = []
                if web:
                    work.append(
                        threading.Thread(target=_drive_web, args=(port, stop, refused))
                    )
                if cycles:
                    work.append(
                        threading.Thread(target=self._drive_cycles, args=(env, stop))
                    )
                for t in work:
                    t.start()
                while time.monotonic() < stop:
                    time.sleep(0.2)
                for t in work:
                    t.join()
                if refused:
                    # A dyno that refused its load measured an idle process.
                    raise CommandError(
                        f"the web dyno answered {len(refused)} requests with an "
                        f"error (first: HTTP {refused[0]}); its figure would "
                        "be an idle process's"
                    )
                return sampler.result()
            finally:
                support.stop(process, grace=30)

    def _manage(self, env: dict[str, str], *args: str) -> None:
        try:
            support.manage(env, *args)
        except support.ManageError as exc:
            raise CommandError(str(exc).splitlines()[-1]) from None

    def _drive_cycles(self, env: dict[str, str], stop: float) -> None:
        while time.monotonic() < stop:
            self._manage(env, "shell", "-c", support.RUN_CYCLE)
            time.sleep(2)


def _drive_web(port: int, stop: float, refused: list[int]) -> None:
    """Four clients until ``stop``; the status of each answer that is not a
    success goes to ``refused``."""
    from weatherapp.forecast.dataset import read_csv
    from weatherapp.forecast.features import window_ends

    hours = read_csv(Path(settings.WEATHER_REPLAY_PATH))
    ends = window_ends(hours["time"])[::97][:50]
    bodies = [json.dumps(support.open_meteo_body(hours, int(end))) for end in ends]

    def client(k: int) -> None:
        i = 0
        while time.monotonic() < stop:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                if i % 3 == 0:
                    conn.request(
                        "GET", ["/healthz", "/accounts/login/", "/"][i % 9 // 3]
                    )
                else:
                    conn.request(
                        "POST",
                        "/api/v1/predict",
                        bodies[(i + k) % len(bodies)],
                        {"Content-Type": "application/json"},
                    )
                response = conn.getresponse()
                response.read()
                if response.status >= 400:
                    refused.append(response.status)
            except OSError:
                time.sleep(0.1)
            finally:
                conn.close()
            i += 1

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(client, range(4)))
