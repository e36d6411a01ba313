"""Peak memory of the web and worker process trees under work.

    .venv/bin/python bench/memory.py [--predictions 1000] [--tasks 100]

Starts the Procfile's own web line (gunicorn) and worker line (celery) on the
embedded defaults (SQLite, filesystem broker) in a temporary folder, drives
predictions through HTTP and tasks through the broker, and samples the RSS and
PSS of each whole process tree (master + forked children) every 50 ms.
Prints a table and, last, one JSON line.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "weatheralert.settings")
import django  # noqa: E402

django.setup()

from tests.conftest import open_meteo_body  # noqa: E402
from weatherapp.ai.dataset import read_csv  # noqa: E402
from weatherapp.ai.features import window_ends  # noqa: E402
from weatherapp.management.commands.demo import read_procfile  # noqa: E402

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


def env_for(folder: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update(
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]]),
        WEATHERALERT_VAR_DIR=str(folder),
        SECURE_SSL_REDIRECT="false",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        **extra,
    )
    return env


def manage(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(line: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        shlex.split(line),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, 15)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.wait()


def web(predictions: int, clients: int) -> dict:
    procfile = read_procfile(ROOT / "Procfile")
    hours = read_csv(ROOT / "data" / "greensboro_723170_hourly.csv")
    ends = window_ends(hours["time"])[::37][:200]
    bodies = [json.dumps(open_meteo_body(hours, int(end))) for end in ends]
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        env = env_for(Path(folder), PORT=str(port))
        manage(env, "migrate", "--noinput")
        process = start(procfile["web"], env)
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
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.request(
                    "POST",
                    "/api/v1/predict",
                    bodies[i % len(bodies)],
                    {"Content-Type": "application/json"},
                )
                status = conn.getresponse().status
                conn.close()
                return status

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


ADD_PLACES = """
from django.contrib.auth.models import User
from weatherapp.models import Place
user = User.objects.create_user("bench", "bench@example.com", "pw")
Place.objects.bulk_create(
    Place(owner=user, name=f"p{{i}}", latitude=36.1, longitude=-79.95)
    for i in range({n})
)
"""
ENQUEUE = """
from weatherapp.models import Place
from weatherapp.tasks import predict_place
for pk in Place.objects.values_list("pk", flat=True):
    predict_place.delay(pk)
"""


def worker(tasks: int) -> dict:
    import sqlite3

    procfile = read_procfile(ROOT / "Procfile")
    with tempfile.TemporaryDirectory() as folder:
        env = env_for(Path(folder))
        manage(env, "migrate", "--noinput")
        manage(env, "shell", "-c", ADD_PLACES.format(n=tasks))
        process = start(procfile["worker"], env)
        try:
            time.sleep(3)
            sampler = TreeSampler(process.pid)
            idle = sampler.sample()[0]
            sampler.start()
            started = time.perf_counter()
            manage(env, "shell", "-c", ENQUEUE)
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
