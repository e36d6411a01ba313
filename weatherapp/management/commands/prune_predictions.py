"""Delete raw predictions past their retention now, as beat does hourly.

python manage.py prune_predictions [--hours 30] [--max-hours 48]
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from weatherapp.alerting.cycle import newest_hour
from weatherapp.alerting.retention import prune_predictions


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise CommandError(f"{text!r} is not a number of hours") from None
    if not 0 < value < 24 * 3650:  # also refuses NaN
        raise CommandError(f"{text!r}: give hours above 0 (and below ten years)")
    return value


class Command(BaseCommand):
    help = "Delete predictions older than the retention (PREDICTION_RETENTION_HOURS)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--hours",
            type=str,
            default=None,
            help="keep this many hours before the newest (default: the setting)",
        )
        parser.add_argument(
            "--max-hours",
            type=int,
            default=24 * 400,
            help="delete at most this many hours of rows (one transaction each)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        hours = (
            settings.PREDICTION_RETENTION_HOURS
            if options["hours"] is None
            else _positive(options["hours"])
        )
        if options["max_hours"] < 1:
            raise CommandError("--max-hours must be at least 1")
        newest = newest_hour()
        deleted = prune_predictions(newest, hours, options["max_hours"])
        self.stdout.write(
            f"deleted {deleted} predictions made before "
            f"{newest:%Y-%m-%d %H:%M} UTC - {hours:g} h"
        )
