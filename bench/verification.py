"""What verification costs the cycle: time and database rows.

    .venv/bin/python bench/verification.py [--places 10000 100000] [--hours 12]
                                           [--database-url postgresql://...]

For each size: an empty PostgreSQL database, migrated; ``n`` places spread
uniformly over the contiguous US; the replay weather source on a clock this
script moves one hour per cycle; then ``hours`` cycles run in this process
(``cycle_chunks`` and ``predict_cells``, as the worker runs them). Each
cycle's time is split into the part spent verifying earlier predictions and
counting inputs for drift (``learn``) and the rest. Prints a table, then one
JSON line with the rows each table holds at the end (raw predictions are
pruned after PREDICTION_RETENTION_HOURS; SkillCount and FeatureCount grow by
a fixed number of rows a day, whatever the number of places).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from storage import reset, setup_django  # noqa: E402


def run(n: int, hours: int, url: str) -> dict:
    from django.core.management import call_command
    from django.db import connection

    from support import DATASET, us_places
    from weatherapp.alerting import cycle
    from weatherapp.alerting.retention import prune_predictions
    from weatherapp.forecast.sources import ReplaySource
    from weatherapp.models import FeatureCount, Prediction, SkillCount

    class Stepped(ReplaySource):
        clock = 0.0

        def position(self, now=None):
            return super().position(self.clock)

    reset(url)
    connection.close()
    call_command("migrate", verbosity=0)
    namespace: dict = {}
    exec(us_places(n).replace("print(len(cells))", ""), namespace)
    source = Stepped(DATASET, speed=1.0)
    source.start = 4000
    cycle._source = source
    spent = {"learn": 0.0}
    learn = cycle.learn

    def timed_learn(*args, **kwargs):
        began = time.perf_counter()
        try:
            return learn(*args, **kwargs)
        finally:
            spent["learn"] += time.perf_counter() - began

    cycle.learn = timed_learn
    per_hour = []
    for hour in range(hours):
        spent["learn"] = 0.0
        began = time.perf_counter()
        for chunk in cycle.cycle_chunks():
            cycle.predict_cells(chunk)
        prune_predictions(cycle.newest_hour())
        total = time.perf_counter() - began
        per_hour.append({"hour": hour, "seconds": total, "learn": spent["learn"]})
        print(
            f"  {n:>7} places  hour {hour:>2}: {total:6.1f} s, "
            f"verification {spent['learn']:5.2f} s",
            flush=True,
        )
        source.clock += 3600
    cycle.learn = learn
    steady = per_hour[7:] or per_hour  # from the hour rows start to be verified
    mean = sum(h["seconds"] for h in steady) / len(steady)
    verify = sum(h["learn"] for h in steady) / len(steady)
    with connection.cursor() as cursor:
        cursor.execute(
            "select pg_total_relation_size('weatherapp_skillcount') + "
            "pg_total_relation_size('weatherapp_featurecount')"
        )
        aggregate_bytes = cursor.fetchone()[0]
    return {
        "places": n,
        "cells": len(namespace["cells"]),
        "hours": hours,
        "cycle_seconds": round(mean, 2),
        "verification_seconds": round(verify, 2),
        "verification_share": round(verify / mean, 3) if mean else None,
        "verified": Prediction.objects.filter(rain_hour__isnull=False).count(),
        "prediction_rows": Prediction.objects.count(),
        "skill_rows": SkillCount.objects.count(),
        "feature_rows": FeatureCount.objects.count(),
        "aggregate_kb": round(aggregate_bytes / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--places", type=int, nargs="+", default=[10000, 100000])
    parser.add_argument("--hours", type=int, default=12)
    parser.add_argument(
        "--database-url",
        default="postgresql://postgres@127.0.0.1:5432/weatheralert_bench_verify",
    )
    args = parser.parse_args()
    setup_django(args.database_url)
    import logging

    logging.disable(logging.INFO)
    results = [run(n, args.hours, args.database_url) for n in args.places]
    print()
    print(
        f"{'places':>8} {'cells':>7} {'cycle s':>8} {'verify s':>9} {'share':>6} "
        f"{'verified':>9} {'skill rows':>10} {'feature rows':>12}"
    )
    for r in results:
        print(
            f"{r['places']:>8} {r['cells']:>7} {r['cycle_seconds']:>8} "
            f"{r['verification_seconds']:>9} {r['verification_share']:>6} "
            f"{r['verified']:>9} {r['skill_rows']:>10} {r['feature_rows']:>12}"
        )
    print(json.dumps({"benchmark": "verification", "results": results}))


if __name__ == "__main__":
    main()
