"""The model's live skill, Open-Meteo's beside it, and input drift.

    python manage.py model_skill [--days 7] [--json]

From verified predictions (alerting/verification.py): AUC, Brier score, Brier
skill against the verified cases' own rain rate, onset skill (the last hour
dry), alert precision and recall at the model's threshold, for our model and
for Open-Meteo's precipitation probability; per feature the population
stability index of today's inputs against the training data. With --json the
last line is one JSON object.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from weatherapp.alerting.verification import skill_report, warn_drift
from weatherapp.forecast.card import read_card

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Live skill of our model and Open-Meteo's, and input drift."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", default="7", help="rolling window (1-90)")
        parser.add_argument("--json", action="store_true", help="end with JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        raw = options["days"]
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 90:
            raise CommandError(f"--days {raw!r}: give whole days from 1 to 90")
        card = read_card(settings.MODEL_PATH)
        report = skill_report(int(raw), card)
        warn_drift(card)
        self.stdout.write(text(report))
        if options["json"]:
            self.stdout.write(json.dumps(report))


def text(report: dict[str, Any]) -> str:
    lines = [
        f"Skill over {report['days']} days, model {report['model_version'] or '-'}:"
    ]
    names = (
        *("verified", "auc", "brier", "bss", "onset_auc", "onset_bss"),
        *("alert_precision", "alert_recall"),
    )
    lines.append(f"{'':18}{'our model':>12}{'Open-Meteo':>12}")
    for name in names:
        ours, theirs = report["model"][name], report["open_meteo"][name]
        lines.append(f"{name:18}{_cell(ours):>12}{_cell(theirs):>12}")
    for key, label in (("model", "our model"), ("open_meteo", "Open-Meteo")):
        if not report[key]["enough"]:
            lines.append(
                f"{label}: too few verified predictions "
                f"({report[key]['verified']}) for figures that mean anything"
            )
    if report["drift"]:
        lines.append(
            f"Input drift on the newest day (PSI; over {report['psi_limit']} "
            f"flagged from {report['min_drift_windows']} windows):"
        )
        for feature, row in report["drift"].items():
            flag = "  DRIFTED" if row["drifted"] else ""
            lines.append(f"  {feature:32}{row['psi']:>8.3f}{flag}")
    else:
        lines.append("Input drift: no inputs counted today")
    return "\n".join(lines)


def _cell(value: object) -> str:
    return (
        "-"
        if value is None
        else f"{value:.3f}"
        if isinstance(value, float)
        else str(value)
    )
