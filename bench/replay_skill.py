"""A replayed month: the live verification's figures on recorded weather.

    .venv/bin/python bench/replay_skill.py [--days 30] [--start 4000]

The cycle (``cycle_chunks`` and ``predict_cells``, in this process, SQLite in
a temporary folder) runs once per replayed hour over the committed
Greensboro observations (data/), one place, for ``days`` days from hour
``start`` of the file; then ``skill_report`` (what ``manage.py model_skill``
prints) gives the month's verified skill and the input drift of its last
day, plus each day's AUC. What a replay can show: that verification counts
what the recorded hours say, the model's skill on one station's recorded
weather and how those inputs differ from the training data. What it cannot:
Open-Meteo's skill (the replay makes no forecast of its own), or how the
model does on Open-Meteo's gridded hours (only live verification can).
Prints a table, then one JSON line.
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
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--start", type=int, default=4000)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="weatheralert-replay-")
    os.environ["WEATHERALERT_VAR_DIR"] = folder
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("SECRET_KEY", "bench-only")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "weatheralert.settings")
    import django

    django.setup()
    import logging

    logging.disable(logging.WARNING)
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from support import DATASET
    from weatherapp.alerting import cycle
    from weatherapp.alerting.verification import daily_skill, skill_report
    from weatherapp.forecast.card import read_card
    from weatherapp.forecast.sources import ReplaySource
    from weatherapp.models import Place

    call_command("migrate", verbosity=0)
    owner = User.objects.create_user("replay", "replay@example.com", "pw")
    Place.objects.create(owner=owner, name="Greensboro", latitude=36.1, longitude=-79.9)

    class Stepped(ReplaySource):
        clock = 0.0

        def position(self, now=None):
            return super().position(self.clock)

    source = Stepped(DATASET, speed=1.0)
    source.start = args.start
    cycle._source = source
    began = time.perf_counter()
    for _ in range(args.days * 24 + 6):
        for chunk in cycle.cycle_chunks():
            cycle.predict_cells(chunk)
        source.clock += 3600
    seconds = time.perf_counter() - began
    card = read_card(settings.MODEL_PATH)
    report = skill_report(args.days, card, drift_days=args.days)
    days = daily_skill(args.days, report["threshold"])
    report["daily_auc"] = [
        {"day": d["day"].isoformat(), "auc": d["model"]["auc"]} for d in days
    ]
    report["seconds"] = round(seconds, 1)
    print(f"replayed {args.days} days from hour {args.start} in {seconds:.0f} s")
    print(f"{'':18}{'our model':>12}{'Open-Meteo':>12}")
    for name in ("verified", "rain_rate", "auc", "brier", "bss", "onset_auc"):
        ours, theirs = report["model"].get(name), report["open_meteo"].get(name)
        print(f"{name:18}{_cell(ours):>12}{_cell(theirs):>12}")
    for name in ("onset_bss", "onset_verified", "alert_precision", "alert_recall"):
        ours, theirs = report["model"].get(name), report["open_meteo"].get(name)
        print(f"{name:18}{_cell(ours):>12}{_cell(theirs):>12}")
    print(f"input drift over the {args.days} replayed days (PSI):")
    for feature, row in report["drift"].items():
        flag = "  drifted" if row["drifted"] else ""
        print(f"  {feature:32}{row['psi']:>8.3f}{flag}")
    print(json.dumps({"benchmark": "replay_skill", **report}, default=str))


def _cell(value: object) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


if __name__ == "__main__":
    main()
