"""Soak: does memory creep? 50,000 requests to the web dyno and 200 cycles on
the worker dyno, RSS and PSS of each process tree sampled before and after.

    .venv/bin/python bench/soak.py [--requests 50000] [--cycles 200] [--places 1000]

Embedded defaults (SQLite, filesystem broker, replay weather with a new hour
per cycle). Growth is measured from the end of a warm-up (the first 5% of the
work) to the end. Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "weatheralert.settings")
# The settings refuse to start without a key; a measurement needs no real one.
os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50000)
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--places", type=int, default=1000)
    args = parser.parse_args()
    from concurrent.futures import ThreadPoolExecutor

    from common import open_meteo_body

    from weatherapp.forecast.dataset import read_csv
    from weatherapp.forecast.features import window_ends
    from weatherapp.ops.memory import sample

    hours = read_csv(ROOT / "data" / "greensboro_723170_hourly.csv")
    ends = window_ends(hours["time"])[::83]
    bodies = [json.dumps(open_meteo_body(hours, int(e))) for e in ends]
    from common import (
        city_places,
        embedded_env,
        free_port,
        manage,
        post_prediction,
        procfile_args,
        start,
        stop,
    )

    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        env = embedded_env(
            folder,
            PORT=str(port),
            WEATHER_REPLAY_SPEED="36000",  # a new hour every 0.1 s
            WEATHER_REPLAY_ANCHOR=str(time.time()),
        )
        manage(env, "migrate", "--noinput")
        manage(env, "shell", "-c", city_places(args.places))
        web = start(procfile_args("web"), env)
        worker = start(procfile_args("worker"), env)
        # Cycles go through the app's own Celery setup, pointed at this folder.
        os.environ["WEATHERALERT_VAR_DIR"] = folder
        os.environ.pop("REDIS_URL", None)
        import django

        django.setup()
        from weatherapp.tasks import run_cycle

        try:
            time.sleep(4)

            def post(i: int) -> int:
                return post_prediction(port, bodies[i % len(bodies)])

            def count(db: Path) -> int:
                import sqlite3

                with sqlite3.connect(db) as c:
                    sql = "select count(*) from weatherapp_prediction"
                    return c.execute(sql).fetchone()[0]

            def cycles(n: int) -> None:
                db = Path(folder) / "weatheralert.sqlite3"
                for _ in range(n):
                    before = count(db)
                    run_cycle.delay()
                    deadline = time.monotonic() + 20
                    while time.monotonic() < deadline:
                        time.sleep(0.05)
                        if count(db) >= before + args.places:
                            break

            warm_requests, warm_cycles = args.requests // 20, max(1, args.cycles // 20)
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(post, range(warm_requests)))
            cycles(warm_cycles)
            start = {"web": sample(web.pid), "worker": sample(worker.pid)}
            with ThreadPoolExecutor(5) as pool:
                job = pool.submit(cycles, args.cycles - warm_cycles)
                statuses = list(pool.map(post, range(args.requests - warm_requests)))
                job.result()
            end = {"web": sample(web.pid), "worker": sample(worker.pid)}
        finally:
            stop(web)
            stop(worker)
    bad = sum(1 for x in statuses if x != 200)
    result = {
        name: {
            "start_rss_mb": round(start[name].rss_mb, 1),
            "end_rss_mb": round(end[name].rss_mb, 1),
            "start_pss_mb": round(start[name].pss_mb, 1),
            "end_pss_mb": round(end[name].pss_mb, 1),
            "rss_growth": round(end[name].rss_mb / start[name].rss_mb - 1, 4),
        }
        for name in ("web", "worker")
    }
    print(f"{'dyno':<8}{'RSS after warm-up':>19}{'RSS at end':>12}{'growth':>9}")
    for name, r in result.items():
        print(
            f"{name:<8}{r['start_rss_mb']:>17.1f}MB{r['end_rss_mb']:>10.1f}MB"
            f"{r['rss_growth']:>9.1%}"
        )
    print(
        json.dumps(
            {"requests": args.requests, "cycles": args.cycles, "non_200": bad, **result}
        )
    )


if __name__ == "__main__":
    main()
