"""The cycle: cells -> weather -> one batched prediction -> decisions.

Plain functions; tasks.py only wires them to Celery. The weather source is
made here from the settings (forecast/sources.py knows nothing of Django).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import zoneinfo
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from weatherapp.models import Alert, Cell, Place, Prediction

from .decisions import decide, in_quiet_hours

if TYPE_CHECKING:
    import numpy.typing as npt

    from weatherapp.forecast.sources import OpenMeteoSource, ReplaySource

log = logging.getLogger(__name__)

_source: ReplaySource | OpenMeteoSource | None = None
_source_lock = threading.Lock()


def weather_source() -> ReplaySource | OpenMeteoSource:
    """The process-wide weather source chosen by settings (made on first use)."""
    global _source
    if _source is None:
        with _source_lock:
            if _source is None:
                _source = make_source()
    return _source


def make_source() -> ReplaySource | OpenMeteoSource:
    from weatherapp.forecast.sources import OpenMeteoSource, ReplaySource

    if settings.WEATHER_SOURCE == "replay":
        return ReplaySource(
            settings.WEATHER_REPLAY_PATH,
            speed=settings.WEATHER_REPLAY_SPEED,
            anchor=settings.WEATHER_REPLAY_ANCHOR,
            start=settings.WEATHER_REPLAY_START,
        )
    if settings.WEATHER_SOURCE == "open-meteo":
        return OpenMeteoSource(
            settings.OPEN_METEO_URL,
            connect_timeout=settings.OPEN_METEO_CONNECT_TIMEOUT,
            read_timeout=settings.OPEN_METEO_READ_TIMEOUT,
            retries=settings.OPEN_METEO_RETRIES,
            backoff=settings.OPEN_METEO_BACKOFF,
            user_agent=settings.USER_AGENT,
        )
    raise ValueError(f"unknown WEATHER_SOURCE {settings.WEATHER_SOURCE!r}")


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

    from weatherapp.ai.predictor import ModelError, predict_rain_batch
    from weatherapp.forecast import features
    from weatherapp.forecast.sources import SourceError
    from weatherapp.ops.runtime import rain_model

    source = weather_source()
    fetched: list[tuple[Cell, np.datetime64]] = []
    windows: list[npt.NDArray[np.float32]] = []
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
            window, end = features.latest_window(hours)
        except (SourceError, features.FeatureError) as exc:
            log.warning("%s skipped: %s", cell, exc)
            continue
        windows.append(window)
        fetched.append((cell, end))
    if not fetched:
        return []
    end_times = np.array([end for _, end in fetched], dtype="datetime64[s]")
    longitudes = np.array([cell.longitude for cell, _ in fetched])
    try:
        model = rain_model()
        probabilities = predict_rain_batch(
            np.stack(windows), end_times, longitudes, model
        )
        version = model.card["version"]
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
