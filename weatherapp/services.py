"""The cycle: cells -> weather -> one batched prediction -> decisions.

Plain functions; tasks.py only wires them to Celery.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import zoneinfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from .alerts import decide, in_quiet_hours
from .models import Alert, Cell, Place, Prediction

log = logging.getLogger(__name__)


def cycle_chunks() -> list[list[int]]:
    """The ids of every cell with an active place, in chunks for the workers."""
    ids = list(
        Cell.objects.filter(places__active=True)
        .distinct()
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    size = settings.CYCLE_CHUNK_CELLS
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def predict_cells(
    cell_ids: list[int],
    now: dt.datetime | None = None,
    fetch_seconds: float | None = None,
) -> list[int]:
    """Fetch each cell once, score every cell in one invoke, store and decide.

    A cell whose weather cannot be had is logged and skipped; the others go
    on. Fetching stops after ``fetch_seconds`` (a time limit that works in
    every Celery pool): the cells fetched so far are scored and stored, the
    rest wait for the next cycle. Idempotent: a place that already has a
    prediction for the hour is left alone, so a duplicated or retried chunk
    changes nothing and alerts nobody twice. Returns new alerts' ids.
    """
    import numpy as np

    from .ai import features
    from .ai.predictor import ModelError, get_model, predict_rain_batch
    from .sources import SourceError, get_source

    source = get_source()
    fetched: list[tuple[Cell, np.ndarray]] = []
    windows = []
    cells = list(Cell.objects.filter(pk__in=cell_ids).order_by("pk"))
    deadline = None if fetch_seconds is None else time.monotonic() + fetch_seconds
    for done, cell in enumerate(cells):
        if deadline is not None and time.monotonic() > deadline:
            log.warning(
                "chunk out of time after %.0f s: "
                "%d of %d cells left for the next cycle",
                fetch_seconds,
                len(cells) - done,
                len(cells),
            )
            break
        try:
            hours = source.recent_hours(cell.latitude, cell.longitude)
            features.check_hours(hours)
            n = len(hours["time"])
            if n < features.WINDOW_HOURS:
                raise features.FeatureError("time", f"only {n} hours")
        except (SourceError, features.FeatureError) as exc:
            log.warning("%s skipped: %s", cell, exc)
            continue
        windows.append(features.stack_windows(hours, [n - 1])[0])
        fetched.append((cell, hours["time"][-1]))
    if not fetched:
        return []
    end_times = np.array([end for _, end in fetched], dtype="datetime64[s]")
    longitudes = np.array([cell.longitude for cell, _ in fetched])
    try:
        probabilities = predict_rain_batch(np.stack(windows), end_times, longitudes)
        version = get_model().card["version"]
    except ModelError:
        log.exception("the rain model is unavailable; cycle chunk skipped")
        return []
    now = now or timezone.now()
    alert_ids = []
    for (cell, end), probability in zip(fetched, probabilities, strict=True):
        valid_at = dt.datetime.fromtimestamp(int(end.astype("int64")), tz=dt.UTC)
        alert_ids += store_and_decide(cell, valid_at, float(probability), version, now)
    return alert_ids


def store_and_decide(
    cell: Cell,
    valid_at: dt.datetime,
    probability: float,
    version: str,
    now: dt.datetime,
) -> list[int]:
    """One cell's probability for its active places: predictions and alerts."""
    with transaction.atomic():
        places = list(cell.places.filter(active=True).select_for_update())
        done = set(
            Prediction.objects.filter(place__in=places, valid_at=valid_at).values_list(
                "place_id", flat=True
            )
        )
        todo = [place for place in places if place.pk not in done]
        Prediction.objects.bulk_create(
            [
                Prediction(
                    place=place,
                    valid_at=valid_at,
                    probability=probability,
                    model_version=version,
                )
                for place in todo
            ],
            ignore_conflicts=True,
        )
        alert_ids = []
        for place in todo:
            local = now.astimezone(zoneinfo.ZoneInfo(place.timezone)).time()
            decision = decide(
                probability,
                place.threshold,
                place.rain_event_open,
                settings.ALERT_HYSTERESIS,
                quiet=in_quiet_hours(local, place.quiet_start, place.quiet_end),
            )
            if decision.event_open != place.rain_event_open:
                place.rain_event_open = decision.event_open
                place.save(update_fields=["rain_event_open"])
            if decision.alert:
                alert = record_alert(place, valid_at, probability, decision.suppressed)
                if alert is not None and not decision.suppressed:
                    alert_ids.append(alert.pk)
    return alert_ids


def record_alert(
    place: Place, valid_at: dt.datetime, probability: float, suppressed: bool
) -> Alert | None:
    """The event's one alert, or None when another task recorded it first."""
    try:
        with transaction.atomic():
            return Alert.objects.create(
                place=place,
                event_started_at=valid_at,
                probability=probability,
                status=Alert.Status.SUPPRESSED if suppressed else Alert.Status.PENDING,
            )
    except IntegrityError:
        return None
