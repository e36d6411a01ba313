"""Wall time of one alert cycle on one worker process, and its weather requests.

    .venv/bin/python bench/cycle.py [--places 1000 10000] [--database-url URL]
                                    [--redis-url URL] [--workers 1]

For each size: a fresh database (SQLite in a temporary folder unless
--database-url names a PostgreSQL server, whose database is emptied), places
spread uniformly over a city-sized square (40 km by 40 km around Greensboro,
NC), the Procfile's own worker line on the replay weather source, and one
``run_cycle`` task; the time runs from sending that task until every place
has its prediction. Weather requests per cycle = cells with an active place
(what the Open-Meteo source would fetch). Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    RUN_CYCLE,
    city_places,
    embedded_env,
    manage,
    procfile_args,
    start,
    stop,
)


def predictions(env: dict[str, str]) -> int:
    if "DATABASE_URL" in env:
        import psycopg

        with psycopg.connect(env["DATABASE_URL"]) as conn:
            sql = "select count(*) from weatherapp_prediction"
            return conn.execute(sql).fetchone()[0]
    import sqlite3

    with sqlite3.connect(
        Path(env["WEATHERALERT_VAR_DIR"]) / "weatheralert.sqlite3"
    ) as db:
        return db.execute("select count(*) from weatherapp_prediction").fetchone()[0]


def reset_postgres(url: str) -> None:
    import psycopg

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
            done = 0
            while done < n and time.perf_counter() - started < 900:
                time.sleep(0.1)
                done = predictions(env)
            seconds = time.perf_counter() - started
        finally:
            for p in processes:
                stop(p)
    return {
        "places": n,
        "predictions": done,
        "cells": cells,
        "weather_requests": cells,
        "workers": workers,
        "seconds": round(seconds, 2),
        "places_per_s": round(done / seconds),
        "database": "postgresql" if database_url else "sqlite",
        "broker": "redis" if redis_url else "filesystem",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--places", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--database-url")
    parser.add_argument("--redis-url")
    args = parser.parse_args()
    results = [
        run(n, args.workers, args.database_url, args.redis_url) for n in args.places
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


if __name__ == "__main__":
    main()
