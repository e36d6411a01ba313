"""Raw predictions are kept for PREDICTION_RETENTION_HOURS, then deleted.

What reads them: the place page and the API (the last 24 hours of a cell),
the cycle (this hour's row) and verification (a row until the hours after it
are reported). One row per cell and hour, so at 100,000 places spread over a
country (~57,000 cells) a day is ~1.4 million rows: without pruning the
smallest Heroku Postgres plan fills in weeks.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Min

from weatherapp.models import Prediction

log = logging.getLogger(__name__)


def prune_predictions(
    newest: dt.datetime,
    retention_hours: float | None = None,
    max_hours: int = 48,
) -> int:
    """Delete predictions made more than ``retention_hours`` before
    ``newest`` (the weather source's newest hour: a replay runs on its own
    clock), one hour's rows per transaction (every cell once) and at most
    ``max_hours`` hours per call, so that no call holds a long lock or a
    huge transaction. Returns the rows deleted."""
    hours = (
        settings.PREDICTION_RETENTION_HOURS
        if retention_hours is None
        else (retention_hours)
    )
    cutoff = newest - dt.timedelta(hours=hours)
    deleted = 0
    for _ in range(max_hours):
        oldest = Prediction.objects.aggregate(oldest=Min("valid_at"))["oldest"]
        if oldest is None or oldest >= cutoff:
            break
        with transaction.atomic():
            count, _ = Prediction.objects.filter(
                valid_at__lt=min(cutoff, oldest + dt.timedelta(hours=1))
            ).delete()
        deleted += count
    if deleted:
        log.info("pruned %d predictions from before %s", deleted, cutoff)
    return deleted
