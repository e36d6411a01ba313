"""PostgreSQL size of 30 days of predictions, with hourly pruning.

    .venv/bin/python bench/storage.py [--places 10000 100000] [--days 30]
                                      [--database-url postgresql://...]

For each size: an empty database (its public schema is dropped), migrated;
``n`` places spread uniformly over the contiguous US (what each cell stores
does not depend on how many places share it, only the number of cells does);
then every simulated hour one prediction row per cell, as the cycle stores it
(the same table, the same two-byte horizons for ours and the provider's, the
same indexes), and the beat task's pruning (``prune_predictions``, the real
function, at the PREDICTION_RETENTION_HOURS setting, 16 by default). Rows are
written with COPY, the fastest way in, so that 30 days take minutes;
PostgreSQL's autovacuum, which
on a live server reclaims the pruned rows' space within minutes, is stood in
for by a plain VACUUM every 6 simulated hours. Prints, per simulated day, the
rows and ``pg_total_relation_size`` of the predictions table (heap, indexes,
TOAST) and of the whole database; then one JSON line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def reset(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("drop schema public cascade")
        conn.execute("create schema public")


def setup_django(url: str) -> None:
    """Django on the PostgreSQL database ``url`` (made when absent)."""
    import psycopg

    admin = url.rsplit("/", 1)[0] + "/postgres"
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute(
            "select 1 from pg_database where datname = %s", [name]
        ).fetchone():
            conn.execute(f'create database "{name}"')
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("SECRET_KEY", "bench-only")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "weatheralert.settings")
    import django

    django.setup()


def sizes(cursor) -> tuple[int, int, int]:
    cursor.execute(
        "select count(*), pg_total_relation_size('weatherapp_prediction'), "
        "pg_database_size(current_database()) from weatherapp_prediction"
    )
    return cursor.fetchone()


def run(n: int, days: int, url: str) -> dict:
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection

    from support import us_places
    from weatherapp.alerting.retention import prune_predictions
    from weatherapp.models import ModelVersion

    reset(url)
    connection.close()
    call_command("migrate", verbosity=0)
    User.objects.filter(username="bench").delete()
    namespace: dict = {}
    exec(us_places(n).replace("print(len(cells))", ""), namespace)
    cells = np.array(sorted(c.pk for c in namespace["cells"].values()))
    version = ModelVersion.named("bench").pk
    rng = np.random.default_rng(1)
    start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    daily = []
    began = time.perf_counter()
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg's own cursor, for COPY
        for hour in range(days * 24):
            valid_at = start + dt.timedelta(hours=hour)
            ours = rng.integers(0, 10001, (len(cells), 6), dtype=np.uint16)
            theirs = rng.integers(0, 10001, (len(cells), 6), dtype=np.uint16)
            verified = hour >= 6  # rows older than their horizons get outcomes
            lines = io.StringIO()
            for cell, a, b in zip(cells, ours, theirs, strict=True):
                lines.write(
                    f"{cell}\t{valid_at.isoformat()}\t\\\\x{a.tobytes().hex()}\t"
                    f"\\\\x{b.tobytes().hex()}\t{version}\t{valid_at.isoformat()}\t"
                    f"f\t{0 if verified else chr(92) + 'N'}\n"
                )
            lines.seek(0)
            with raw.copy(
                "copy weatherapp_prediction (cell_id, valid_at, probabilities, "
                "provider, model_id, created_at, raining, rain_hour) from stdin"
            ) as copy:
                copy.write(lines.read())
            prune_predictions(valid_at, max_hours=48)
            if hour % 6 == 5:
                cursor.execute("vacuum weatherapp_prediction")
            if hour % 24 == 23:
                rows, table, database = sizes(cursor)
                daily.append(
                    {
                        "day": hour // 24 + 1,
                        "rows": rows,
                        "table_mb": round(table / 2**20, 1),
                        "database_mb": round(database / 2**20, 1),
                    }
                )
                print(
                    f"  {n:>7} places  day {daily[-1]['day']:>2}: {rows:>9} rows  "
                    f"{daily[-1]['table_mb']:>7} MB table  "
                    f"{daily[-1]['database_mb']:>7} MB database",
                    flush=True,
                )
    return {
        "places": n,
        "cells": len(cells),
        "days": days,
        "retention_hours": settings.PREDICTION_RETENTION_HOURS,
        "seconds": round(time.perf_counter() - began, 1),
        "rows": daily[-1]["rows"],
        "table_mb": daily[-1]["table_mb"],
        "database_mb": daily[-1]["database_mb"],
        "bytes_per_row": round(daily[-1]["table_mb"] * 2**20 / daily[-1]["rows"]),
        "daily": daily,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--places", type=int, nargs="+", default=[10000, 100000])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument(
        "--database-url",
        default="postgresql://postgres@127.0.0.1:5432/weatheralert_bench_storage",
        help="a PostgreSQL database to empty and use (made if absent)",
    )
    args = parser.parse_args()
    setup_django(args.database_url)
    results = [run(n, args.days, args.database_url) for n in args.places]
    print()
    print(f"{'places':>8} {'cells':>7} {'rows':>9} {'table MB':>9} {'db MB':>7} B/row")
    for r in results:
        print(
            f"{r['places']:>8} {r['cells']:>7} {r['rows']:>9} {r['table_mb']:>9} "
            f"{r['database_mb']:>7} {r['bytes_per_row']:>5}"
        )
    print(json.dumps({"benchmark": "storage", "results": results}))


if __name__ == "__main__":
    main()
