"""Peak memory of the web and worker process trees under work.

    .venv/bin/python bench/memory.py [--predictions 1000] [--tasks 100]

Starts the Procfile's own web line (gunicorn) and worker line (celery) on the
embedded defaults (SQLite, filesystem broker) in a temporary folder, drives
predictions through HTTP and tasks through the broker (one alert cycle over
--tasks cells, one predict_cells task each), and samples the RSS and PSS of
each whole process tree every 50 ms.
Prints a table and, last, one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "weatheralert.settings")
# The settings refuse to start without a key; a measurement needs no real one.
os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")
import django  # noqa: E402

django.setup()

from common import (  # noqa: E402
    RUN_CYCLE,
    embedded_env,
    free_port,
    manage,
    open_meteo_body,  # noqa: E402
    post_prediction,
    procfile_args,
    start,
    stop,
)

from weatherapp.forecast.dataset import read_csv  # noqa: E402
from weatherapp.forecast.features import window_ends  # noqa: E402

MB = 1024 * 1024


class TreeSampler(threading.Thread):
    """Peak summed RSS and PSS over a process and all its descendants."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.peak_rss = self.peak_pss = 0.0
        self.running = True

    def sample(self) -> tuple[float, float]:
        rss = pss = 0
        for p in [self.root, *self.root.children(recursive=True)]:
            try:
                info = p.memory_full_info()
            except psutil.Error:
                continue
            rss += info.rss
            pss += getattr(info, "pss", info.rss)
        return rss / MB, pss / MB

    def run(self) -> None:
        while self.running:
            rss, pss = self.sample()
            self.peak_rss, self.peak_pss = (
                max(self.peak_rss, rss),
                max(self.peak_pss, pss),
            )
            time.sleep(0.05)

    def stop(self) -> dict[str, float]:
        self.running = False
        self.join()
        rss, pss = self.sample()
        return {
            "peak_rss_mb": round(self.peak_rss, 1),
            "peak_pss_mb": round(self.peak_pss, 1),
            "end_rss_mb": round(rss, 1),
            "processes": 1 + len(self.root.children(recursive=True)),
        }


def web(predictions: int, clients: int) -> dict:
    hours = read_csv(ROOT / "data" / "greensboro_723170_hourly.csv")
    ends = window_ends(hours["time"])[::37][:200]
    bodies = [json.dumps(open_meteo_body(hours, int(end))) for end in ends]
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        env = embedded_env(folder, PORT=str(port))
        manage(env, "migrate", "--noinput")
        process = start(procfile_args("web"), env)
        try:
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            time.sleep(0.5)
            sampler = TreeSampler(process.pid)
            idle = sampler.sample()[0]
            sampler.start()

            def post(i: int) -> int:
                return post_prediction(port, bodies[i % len(bodies)])

            started = time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                statuses = list(pool.map(post, range(predictions)))
            seconds = time.perf_counter() - started
            result = sampler.stop()
        finally:
            stop(process)
    assert statuses.count(200) == predictions, set(statuses)
    return {
        **result,
        "idle_rss_mb": round(idle, 1),
        "requests": predictions,
        "requests_per_s": round(predictions / seconds, 1),
    }


# One place in each of ``n`` cells, one cell per chunk: a cycle is n tasks.
ADD_PLACES = """
from django.contrib.auth.models import User
from weatherapp.models import Place
user = User.objects.create_user("bench", "bench@example.com", "pw")
for i in range({n}):
    Place.objects.create(owner=user, name=f"p{{i}}", latitude=10 + i * 0.1,
                         longitude=-79.95, email_enabled=False)
"""


def worker(tasks: int) -> dict:
    import sqlite3

    with tempfile.TemporaryDirectory() as folder:
        env = embedded_env(folder, CYCLE_CHUNK_CELLS="1")
        manage(env, "migrate", "--noinput")
        manage(env, "shell", "-c", ADD_PLACES.format(n=tasks))
        process = start(procfile_args("worker"), env)
        try:
            time.sleep(3)
            sampler = TreeSampler(process.pid)
            idle = sampler.sample()[0]
            sampler.start()
            started = time.perf_counter()
            manage(env, "shell", "-c", RUN_CYCLE)
            db = Path(folder) / "weatheralert.sqlite3"
            done = 0
            while done < tasks and time.perf_counter() - started < 600:
                time.sleep(0.2)
                with sqlite3.connect(db) as conn:
                    sql = "select count(*) from weatherapp_prediction"
                    done = conn.execute(sql).fetchone()[0]
            seconds = time.perf_counter() - started
            result = sampler.stop()
        finally:
            stop(process)
    return {
        **result,
        "idle_rss_mb": round(idle, 1),
        "tasks": done,
        "seconds": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--predictions", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--tasks", type=int, default=100)
    args = parser.parse_args()
    results = {
        "web": web(args.predictions, args.clients),
        "worker": worker(args.tasks),
    }
    print(f"{'process tree':<14}{'idle RSS':>10}{'peak RSS':>10}{'peak PSS':>10}  work")
    for name, r in results.items():
        work = (
            f"{r['requests']} predictions, {r['requests_per_s']}/s"
            if name == "web"
            else f"{r['tasks']} tasks in {r['seconds']} s"
        )
        print(
            f"{name:<14}{r['idle_rss_mb']:>8.1f}MB{r['peak_rss_mb']:>8.1f}MB"
            f"{r['peak_pss_mb']:>8.1f}MB  {work} ({r['processes']} processes)"
        )
    print(json.dumps({"quota_mb": 512, **results}))


if __name__ == "__main__":
    main()
