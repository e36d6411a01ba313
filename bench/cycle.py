"""Wall time of one alert cycle, its weather requests and the workers' memory.

    .venv/bin/python bench/cycle.py [--places 1000 10000] [--database-url URL]
                                    [--redis-url URL] [--workers 1 [2 ...]]

    .venv/bin/python bench/cycle.py --source open-meteo --places 10000 100000
        --workers 1 2 --database-url postgres://postgres@127.0.0.1:5432/NAME
        --redis-url redis://127.0.0.1:6379/7 [--latency 0.1] [--spread us]

Replay (the default): for each size a fresh database (SQLite in a temporary
folder unless --database-url names a PostgreSQL server, whose database is
emptied), places spread uniformly over a city-sized square (40 km by 40 km
around Greensboro, NC), the Procfile's own worker line on the replay weather
source, and one ``run_cycle`` task; the time runs from sending that task until
every cell has its prediction (stored per cell) and every place is decided.
Weather requests per cycle = cells with an active place (what the Open-Meteo
source would fetch, were it one location a request).

``--source open-meteo``: the cycle over a real network. A child process serves
tests/weather_server.py's stand-in for Open-Meteo's forecast API on loopback
(multi-coordinate requests, keep-alive, ``--latency`` seconds a request); the
workers run with WEATHER_SOURCE=open-meteo and OPEN_METEO_URL pointing at it,
PostgreSQL and Redis (both required). Places are spread over the contiguous
US (``--spread us``, the default here; ``city`` for the 25-cell square). For
each size the places are made once; before each worker count every
prediction, alert and count is deleted and every place made undecided, Redis's
database is flushed, and the server's newest hour is set to the hour before
the current one (what OpenMeteoSource.newest_hour asks for). The time runs
from sending ``run_cycle`` until every cell with an active place has its
prediction for that hour and no active place is undecided
(``decided_through`` not null). Requests and locations are counted by the
server (and cross-checked against the app's WeatherUsage row); the PSS of
each worker's process tree is sampled every 0.25 s (psutil).

Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    ROOT,
    RUN_CYCLE,
    city_places,
    embedded_env,
    manage,
    procfile_args,
    start,
    stop,
)

HOUR = 3600


# Predictions are stored per cell; a place is done once decided on its hour.
PROGRESS = (
    "select count(*) from weatherapp_prediction",
    "select count(*) from weatherapp_place where active and decided_through is null",
)


def progress(env: dict[str, str]) -> tuple[int, int]:
    """(predictions stored, active places not yet decided)."""
    if "DATABASE_URL" in env:
        import psycopg

        with psycopg.connect(env["DATABASE_URL"]) as conn:
            rows = [conn.execute(q).fetchone()[0] for q in PROGRESS]
    else:
        import sqlite3

        path = Path(env["WEATHERALERT_VAR_DIR"]) / "weatheralert.sqlite3"
        with sqlite3.connect(path) as db:
            rows = [db.execute(q).fetchone()[0] for q in PROGRESS]
    return rows[0], rows[1]


def reset_postgres(url: str) -> None:
    """An empty database at ``url``, created when the server lacks it."""
    import psycopg
    from psycopg import sql as pgsql

    try:
        psycopg.connect(url).close()
    except psycopg.OperationalError as exc:
        if "does not exist" not in str(exc):
            raise
        info = psycopg.conninfo.conninfo_to_dict(url)
        name = info.pop("dbname")
        info["dbname"] = "postgres"
        with psycopg.connect(**info, autocommit=True) as conn:
            conn.execute(pgsql.SQL("create database {}").format(pgsql.Identifier(name)))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("drop schema public cascade")
        conn.execute("create schema public")


def run(n: int, workers: int, database_url: str | None, redis_url: str | None) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        env = embedded_env(
            folder, WEATHER_SOURCE="replay", PREDICTION_INTERVAL_SECONDS="100000"
        )
        if database_url:
            reset_postgres(database_url)
            env["DATABASE_URL"] = database_url
        if redis_url:
            env["REDIS_URL"] = redis_url
            import redis

            redis.Redis.from_url(redis_url).flushdb()
        manage(env, "migrate", "--noinput")
        cells = int(manage(env, "shell", "-c", city_places(n)).splitlines()[-1])
        processes = [
            start([*procfile_args("worker"), "-n", f"bench{i}@%h"], env)
            for i in range(workers)
        ]
        try:
            time.sleep(4)  # workers ready, model not loaded yet (lazy)
            started = time.perf_counter()
            manage(env, "shell", "-c", RUN_CYCLE)
            done, undecided = 0, n
            while time.perf_counter() - started < 900:
                time.sleep(0.1)
                done, undecided = progress(env)
                if done >= cells and not undecided:
                    break
            seconds = time.perf_counter() - started
        finally:
            for p in processes:
                stop(p)
    return {
        "places": n,
        "predictions": done,
        "undecided": undecided,
        "cells": cells,
        "weather_requests": cells,
        "workers": workers,
        "seconds": round(seconds, 2),
        "places_per_s": round((n - undecided) / seconds),
        "database": "postgresql" if database_url else "sqlite",
        "broker": "redis" if redis_url else "filesystem",
    }


# ---------------------------------------------------------------------------
# The cycle over a real network: the loopback Open-Meteo server.


def serve_weather(latency: float) -> None:
    """The child process: tests/weather_server.py's server on loopback, every
    location dry (a window without rain before or after), each body made once
    per shape (the server's CPU is not what is measured). Prints its URL;
    then answers lines on stdin: ``reset EPOCH`` (forget the requests, newest
    hour EPOCH), ``stats`` (one JSON line); exits at end of input."""
    import numpy as np

    from support import DATASET
    from tests.weather_server import WeatherServer
    from weatherapp.forecast import features
    from weatherapp.forecast.dataset import read_csv

    hours = read_csv(DATASET)
    rain = np.asarray(hours["precipitation"]) >= 0.1
    ends = features.window_ends(hours["time"], 40)
    dry = next(
        int(e) for e in ends if e + 7 < len(rain) and not rain[e - 30 : e + 7].any()
    )
    wet = next(int(e) for e in ends if rain[e - 2 : e + 1].all())

    class Server(WeatherServer):
        def __init__(self) -> None:
            super().__init__(hours, rainy_end=wet, dry_end=dry)
            self.cache: dict[tuple, dict] = {}

        def body(self, kind, past_hours, ahead=1, chances=None, key=("", "")):
            if chances is not None and self.chances.get(key):
                return super().body(kind, past_hours, ahead, chances, key)
            shape = (kind, past_hours, ahead, chances is None)
            if shape not in self.cache:
                self.cache[shape] = super().body(kind, past_hours, ahead, chances, key)
            return self.cache[shape]

    server = Server()
    server.latency = latency
    print(server.url, flush=True)
    for line in sys.stdin:
        command, *args = line.split()
        with server.lock:
            if command == "reset":
                server.end = np.datetime64(int(args[0]), "s")
                server.cache.clear()
                server.requests.clear()
            elif command == "stats":
                stats = {
                    "requests": len(server.requests),
                    "locations": sum(len(r["locations"]) for r in server.requests),
                    "most_locations": max(
                        (len(r["locations"]) for r in server.requests), default=0
                    ),
                    "connections": len({r["client_port"] for r in server.requests}),
                }
                print(json.dumps(stats), flush=True)
    server.close()


class WeatherChild:
    """The loopback Open-Meteo server in a child process."""

    def __init__(self, latency: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve-weather", str(latency)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http://127.0.0.1:"):
            raise RuntimeError("the weather server did not start")

    def ask(self, line: str) -> str:
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline() if line == "stats" else ""

    def reset(self, newest: int) -> None:
        self.ask(f"reset {newest}")

    def stats(self) -> dict:
        return json.loads(self.ask("stats"))

    def close(self) -> None:
        self.process.stdin.close()
        stop(self.process, grace=5)


class PssSampler(threading.Thread):
    """Peak PSS and RSS of each process tree, sampled every ``every`` s."""

    def __init__(self, pids: list[int], every: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.pids, self.every = pids, every
        self.peak_pss = [0.0] * len(pids)
        self.peak_rss = [0.0] * len(pids)
        self.first_pss: list[float] = []
        self.samples = 0
        self.done = threading.Event()

    def tree(self, pid: int) -> tuple[float, float]:
        import psutil

        pss = rss = 0
        try:
            root = psutil.Process(pid)
            for p in [root, *root.children(recursive=True)]:
                info = p.memory_full_info()
                pss, rss = pss + info.pss, rss + info.rss
        except psutil.Error:
            pass
        return pss / 2**20, rss / 2**20

    def run(self) -> None:
        while not self.done.is_set():
            for i, pid in enumerate(self.pids):
                pss, rss = self.tree(pid)
                self.peak_pss[i] = max(self.peak_pss[i], pss)
                self.peak_rss[i] = max(self.peak_rss[i], rss)
                if not self.samples:
                    self.first_pss.append(pss)
            self.samples += 1
            self.done.wait(self.every)

    def stop(self) -> None:
        self.done.set()
        self.join()


RESET_STATE = [
    "delete from weatherapp_delivery",
    "delete from weatherapp_alert",
    "delete from weatherapp_prediction",
    "delete from weatherapp_weatherusage",
    "delete from weatherapp_faultcount",
    "update weatherapp_place set decided_through = null, rain_event_open = false,"
    " event_dry_hours = 0, last_event_ended_at = null",
    "vacuum analyze",
]


def sql(url: str, *statements: str, args: tuple = ()) -> list:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        rows = []
        for statement in statements:
            cursor = conn.execute(statement, args if "%s" in statement else ())
            rows.append(cursor.fetchone() if cursor.description else None)
        return rows


def wait_ready(log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and " ready." in log.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise RuntimeError(f"worker not ready within {timeout:.0f} s: see {log}")


def network_cycle(
    env: dict[str, str],
    server: WeatherChild,
    folder: Path,
    n: int,
    cells: int,
    workers: int,
    timeout: float,
) -> dict:
    import redis

    url = env["DATABASE_URL"]
    sql(url, *RESET_STATE)
    redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    newest = int(time.time()) // HOUR * HOUR - HOUR
    server.reset(newest)
    valid_at = dt.datetime.fromtimestamp(newest, tz=dt.UTC)
    logs = [folder / f"worker{workers}-{i}.log" for i in range(workers)]
    processes = []
    for i, log in enumerate(logs):
        with log.open("w") as output:
            args = [*procfile_args("worker"), "-n", f"bench{i}@%h"]
            processes.append(start(args, env, output))
    try:
        for log in logs:
            wait_ready(log)
        for p in processes:  # the workers run this tree's code
            cwd = os.readlink(f"/proc/{p.pid}/cwd")
            if Path(cwd).resolve() != ROOT.resolve():
                raise RuntimeError(f"worker {p.pid} runs in {cwd}, not {ROOT}")
        sampler = PssSampler([p.pid for p in processes])
        sampler.start()
        time.sleep(1)  # an idle sample first
        load = os.getloadavg()[0]
        started = time.perf_counter()
        manage(env, "shell", "-c", RUN_CYCLE)
        sent = time.perf_counter() - started
        done = undecided = 0
        every = 0.2 if n <= 100_000 else 1.0
        while time.perf_counter() - started < timeout:
            done, undecided = (
                row[0]
                for row in sql(
                    url,
                    "select count(*) from weatherapp_prediction where valid_at = %s",
                    "select count(*) from weatherapp_place"
                    " where active and decided_through is null",
                    args=(valid_at,),
                )
            )
            if done >= cells and not undecided:
                break
            time.sleep(every)
        seconds = time.perf_counter() - started
        sampler.stop()
    finally:
        for p in processes:
            stop(p)
    stats = server.stats()
    usage, faults = sql(
        url,
        "select coalesce(sum(requests), 0), coalesce(sum(calls), 0)"
        " from weatherapp_weatherusage",
        "select coalesce(sum(count), 0) from weatherapp_faultcount",
    )
    text = "".join(log.read_text(errors="replace") for log in logs)
    lines = text.splitlines()
    chunks = sum("predict_cells[" in line and " succeeded " in line for line in lines)
    return {
        "places": n,
        "cells": cells,
        "workers": workers,
        "seconds": round(seconds, 2),
        "send_seconds": round(sent, 2),
        "complete": done >= cells and not undecided,
        "predictions": done,
        "undecided": undecided,
        "weather_requests": stats["requests"],
        "locations": stats["locations"],
        "most_locations_a_request": stats["most_locations"],
        "client_connections": stats["connections"],
        "app_requests": usage[0],
        "app_calls": float(usage[1]),
        "requests_per_day": 24 * stats["requests"],
        "calls_per_day": round(24 * float(usage[1])),
        "faults": faults[0],
        "tasks_succeeded": chunks,
        "log_errors": text.count(" ERROR/") + text.count("Traceback"),
        "log_warnings": text.count(" WARNING/"),
        "first_warnings": [line[-160:] for line in lines if " WARNING/" in line][:3],
        "idle_pss_mb": [round(v, 1) for v in sampler.first_pss],
        "peak_pss_mb": [round(v, 1) for v in sampler.peak_pss],
        "peak_rss_mb": [round(v, 1) for v in sampler.peak_rss],
        "pss_samples": sampler.samples,
        "places_per_s": round(n / seconds),
        "cells_per_s": round(cells / seconds),
        # The machine's 1-minute load average before and after (2 cores,
        # shared): what else competed for the CPU.
        "load_average": [round(load, 1), round(os.getloadavg()[0], 1)],
    }


# A ``manage.py shell -c`` script: the first chunk of a cycle, run here under
# cProfile (the weather fetched from the loopback server as a worker would).
PROFILE_CHUNK = """
import cProfile, pstats, time
from weatherapp.alerting.cycle import cycle_chunks, predict_cells
chunk = cycle_chunks()[0]
profile = cProfile.Profile()
started = time.perf_counter()
profile.runcall(predict_cells, chunk, fetch_seconds=180)
print(f"one chunk of {len(chunk)} cells: {time.perf_counter() - started:.2f} s")
stats = pstats.Stats(profile)
stats.sort_stats("cumulative").print_stats(40)
stats.sort_stats("tottime").print_stats(25)
"""


def profile_chunk(env: dict[str, str], server: WeatherChild) -> None:
    sql(env["DATABASE_URL"], *RESET_STATE)
    server.reset(int(time.time()) // HOUR * HOUR - HOUR)
    print(manage(env, "shell", "-c", PROFILE_CHUNK))


def run_network(
    n: int,
    workers: list[int],
    database_url: str,
    redis_url: str,
    latency: float,
    spread: str,
    timeout: float,
    profile: bool = False,
) -> list[dict]:
    from support import us_places

    with tempfile.TemporaryDirectory() as folder:
        server = WeatherChild(latency)
        try:
            env = embedded_env(
                folder,
                WEATHER_SOURCE="open-meteo",
                OPEN_METEO_URL=server.url,
                PREDICTION_INTERVAL_SECONDS="100000",
                DATABASE_URL=database_url,
                REDIS_URL=redis_url,
                # As app.json ships it: each worker dyno's own setting.
                MALLOC_ARENA_MAX=os.environ.get("MALLOC_ARENA_MAX", "2"),
            )
            reset_postgres(database_url)
            manage(env, "migrate", "--noinput")
            made = time.perf_counter()
            script = (us_places if spread == "us" else city_places)(n)
            cells = int(
                manage(env, "shell", "-c", script, timeout=7200).splitlines()[-1]
            )
            print(
                f"# {n} places in {cells} cells made in "
                f"{time.perf_counter() - made:.0f} s",
                file=sys.stderr,
                flush=True,
            )
            if profile:
                profile_chunk(env, server)
            results = []
            for w in workers:
                result = network_cycle(env, server, Path(folder), n, cells, w, timeout)
                result.update(latency_s=latency, spread=spread)
                results.append(result)
                print(f"# {json.dumps(result)}", file=sys.stderr, flush=True)
        finally:
            server.close()
    one = next((r for r in results if r["workers"] == 1), None)
    for r in results:
        r["speedup"] = round(one["seconds"] / r["seconds"], 2) if one else None
    return results


def print_network(results: list[dict], chunk_cells: int) -> None:
    print(
        f"{'places':>9}{'cells':>7}{'workers':>8}{'seconds':>9}{'req/cycle':>10}"
        f"{'req/day':>9}{'calls/day':>11}{'peak PSS':>10}{'speed-up':>9}"
    )
    for r in results:
        print(
            f"{r['places']:>9}{r['cells']:>7}{r['workers']:>8}{r['seconds']:>9}"
            f"{r['weather_requests']:>10}{r['requests_per_day']:>9}"
            f"{r['calls_per_day']:>11}{max(r['peak_pss_mb']):>10}"
            f"{r['speedup'] or '':>9}" + ("" if r["complete"] else "  INCOMPLETE")
        )
    print(
        f"(latency {results[0]['latency_s']} s a request, chunks of {chunk_cells}"
        " cells; per day = 24 cycles that fetch: a cell fetched this hour is"
        " skipped; calls as Open-Meteo bills them, one per location)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--places", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--workers", type=int, nargs="+", default=[1])
    parser.add_argument("--database-url")
    parser.add_argument("--redis-url")
    parser.add_argument("--source", choices=["replay", "open-meteo"], default="replay")
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--spread", choices=["us", "city"], default="us")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="open-meteo: first run the cycle's first chunk under cProfile",
    )
    parser.add_argument("--serve-weather", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_weather is not None:
        return serve_weather(args.serve_weather)
    if args.source == "open-meteo":
        if not (args.database_url and args.redis_url):
            parser.error("--source open-meteo needs --database-url and --redis-url")
        results = [
            r
            for n in args.places
            for r in run_network(
                n,
                args.workers,
                args.database_url,
                args.redis_url,
                args.latency,
                args.spread,
                args.timeout,
                args.profile,
            )
        ]
        print_network(results, int(os.environ.get("CYCLE_CHUNK_CELLS", "200")))
        print(json.dumps({"cycles": results}))
        return None
    results = [
        run(n, w, args.database_url, args.redis_url)
        for n in args.places
        for w in args.workers
    ]
    header = f"{'places':>8}{'cells':>7}{'requests':>10}{'seconds':>9}{'places/s':>10}"
    print(f"{header}  setup")
    for r in results:
        print(
            f"{r['places']:>8}{r['cells']:>7}{r['weather_requests']:>10}"
            f"{r['seconds']:>9}{r['places_per_s']:>10}  {r['workers']} worker(s), "
            f"{r['database']}, {r['broker']} broker"
        )
    print(json.dumps({"cycles": results}))
    return None


if __name__ == "__main__":
    main()
