"""The cycle: cells -> weather -> one batched prediction -> decisions.

Plain functions; tasks.py only wires them to Celery. The weather source is
made here from the settings (forecast/sources.py knows nothing of Django).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import threading
import time
import zoneinfo
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from weatherapp.models import (
    Alert,
    Cell,
    FaultCount,
    ModelVersion,
    Place,
    Prediction,
    WeatherUsage,
)

from .decisions import (
    Decision,
    EventState,
    Rules,
    decide,
    likely_from,
    quiet_at,
    zone_or_utc,
)

if TYPE_CHECKING:
    import numpy as np
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


def newest_hour() -> dt.datetime:
    """The newest hour the weather source has now (a replay's own clock)."""
    return _utc(weather_source().newest_hour())


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
            deadline=settings.OPEN_METEO_DEADLINE,
            api_key=settings.OPEN_METEO_API_KEY,
            locations_per_request=settings.OPEN_METEO_LOCATIONS_PER_REQUEST,
            on_request=count_weather_request,
        )
    raise ValueError(f"unknown WEATHER_SOURCE {settings.WEATHER_SOURCE!r}")


def cycle_chunks() -> list[list[int]]:
    """The ids of every cell with an active place, in chunks for the workers
    (after moving some places onto the current grid, see regrid_places)."""
    regrid_places()
    ids = list(
        Cell.objects.filter(places__active=True)
        .distinct()
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    size = settings.CYCLE_CHUNK_CELLS
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def regrid_places(limit: int = 5000) -> int:
    """Move up to ``limit`` active places whose cell is of another size than
    CELL_DEGREES onto cells of the current grid; the old cells and their
    predictions stay where they were. Bounded, so that a changed setting at
    a million places spreads over a few cycles."""
    size = Cell.degrees()
    places = list(
        Place.objects.filter(active=True)
        .exclude(cell__size=size)
        .order_by("pk")  # the order chunks lock places in: no deadlock
        .only("pk", "latitude", "longitude")[:limit]
    )
    cells: dict[tuple[int, int], Cell] = {}
    for place in places:
        square = Cell.square(place.latitude, place.longitude, size)
        key = (int(square["lat_index"]), int(square["lon_index"]))
        if key not in cells:
            cells[key] = Cell.for_location(place.latitude, place.longitude)
        place.cell = cells[key]
    Place.objects.bulk_update(places, ["cell"], batch_size=1000)
    if places:
        log.info("moved %d places onto the %g-degree grid", len(places), size)
    return len(places)


# Told the ids of a cell's new alerts once they are committed.
AlertsCommitted = Callable[[list[int]], None]


def predict_cells(
    cell_ids: list[int],
    now: dt.datetime | None = None,
    fetch_seconds: float | None = None,
    on_commit: AlertsCommitted | None = None,
    interrupts: tuple[type[BaseException], ...] = (),
) -> list[int]:
    """Fetch the cells' weather in few requests, score every cell in one
    invoke, store one prediction per cell and decide each place.

    A cell already predicted for the newest hour the source has is not
    fetched again (the data changes hourly, the cycle runs more often); its
    places not yet decided on that hour (new, or left by a dead worker) are
    decided from the stored row. A cell whose weather cannot be had is logged
    and skipped; so is a cell or a place whose storing or deciding fails: the
    others go on, and each failure is logged with its id and counted
    (FaultCount, /metrics). Fetching stops after ``fetch_seconds`` (a time
    limit that works in every Celery pool): the cells fetched so far are
    scored and stored, the rest wait for the next cycle. Idempotent: a place
    is decided once per hour (``Place.decided_through``), so a duplicated or
    retried chunk changes nothing and alerts nobody twice.

    The chunk's writes are one transaction (a few statements for 200 cells,
    not five and a commit per cell); when it fails, each cell is done again
    in its own transaction, so a bad cell costs only itself. ``on_commit``
    hears the new alerts right after their commit (the task queues their
    delivery there; the outbox catches a worker that dies in between).
    ``interrupts`` end the chunk instead (the caller's time limit).
    Returns every new alert's id.
    """
    source = weather_source()
    cells = list(Cell.objects.filter(pk__in=cell_ids).order_by("pk"))
    newest = newest_hour()
    stored = {
        p.cell_id: p for p in Prediction.objects.filter(cell__in=cells, valid_at=newest)
    }
    todo = [cell for cell in cells if cell.pk not in stored]
    fetched = fetch_and_predict(source, todo, fetch_seconds)
    predictions = sorted(
        [*stored.values(), *fetched.predictions], key=lambda p: p.cell_id
    )
    now = now or timezone.now()
    try:
        alert_ids = store_and_decide(predictions, now, on_commit)
    except interrupts:  # e.g. the task's soft time limit: not a cell's fault
        raise
    except Exception:  # one bad cell must not cost the rest of the chunk
        log.warning(
            "a chunk of %d cells failed as one transaction; each cell on its own",
            len(predictions),
            exc_info=True,
        )
        count_fault(FaultCount.Stage.CHUNK)  # e.g. a deadlock: seen in /metrics
        alert_ids = []
        for prediction in predictions:
            try:
                alert_ids += store_and_decide([prediction], now, on_commit)
            except Exception:
                log.exception(
                    "cell (id %s) not stored; the chunk goes on", prediction.cell_id
                )
                count_fault(FaultCount.Stage.CELL)
    learn(fetched, newest)
    return alert_ids


def learn(fetched: Fetched, newest: dt.datetime) -> None:
    """What the fetched hours tell about earlier predictions (verification)
    and about the inputs (drift counts); a failure here is logged and
    counted, never costs the chunk's alerts."""
    from .verification import count_features, verify_cells

    try:
        verify_cells(fetched.hours)
    except DatabaseError:
        log.exception("verification skipped for this chunk")
        count_fault(FaultCount.Stage.VERIFY)
    if fetched.features is None or not fetched.feature_stats:
        return
    try:
        count_features(
            fetched.feature_names,
            fetched.features,
            fetched.feature_stats,
            newest.date(),
        )
    except DatabaseError:
        log.exception("input counts skipped for this chunk")
        count_fault(FaultCount.Stage.VERIFY)


@dataclass
class Fetched:
    """A chunk's new predictions, the hours they came from (by cell id) and
    their raw features with the card's training statistics (for drift)."""

    predictions: list[Prediction] = field(default_factory=list)
    hours: dict[int, dict[str, Any]] = field(default_factory=dict)
    features: Any = None
    feature_names: list[str] = field(default_factory=list)
    feature_stats: dict[str, Any] = field(default_factory=dict)


def fetch_and_predict(
    source: ReplaySource | OpenMeteoSource,
    cells: list[Cell],
    fetch_seconds: float | None,
) -> Fetched:
    """New (unsaved) predictions for the cells whose weather could be had."""
    import numpy as np

    from weatherapp.ai.predictor import ModelError, predict_rain_batch
    from weatherapp.forecast import features
    from weatherapp.forecast.fetch import STOP_RETRYING
    from weatherapp.forecast.sources import SourceError
    from weatherapp.ops.runtime import rain_model

    deadline = None if fetch_seconds is None else time.monotonic() + fetch_seconds
    result = Fetched()
    fetched: list[tuple[Cell, np.datetime64, tuple[float, ...] | None, bool]] = []
    windows: list[npt.NDArray[np.float32]] = []
    step = source.locations_per_request
    # Cells by why they were skipped: a failed request fails its whole batch
    # alike, and a line per cell flooded the logs in an outage (18,631 lines
    # a cycle).
    skipped: dict[str, list[Cell]] = {}
    for start in range(0, len(cells), step):
        if STOP_RETRYING.is_set():
            log.warning(
                "worker shutting down: %d of %d cells left for the next cycle",
                len(cells) - start,
                len(cells),
            )
            break
        if deadline is not None and time.monotonic() > deadline:
            log.warning(
                "chunk out of time after %.0f s: "
                "%d of %d cells left for the next cycle",
                fetch_seconds,
                len(cells) - start,
                len(cells),
            )
            break
        batch = cells[start : start + step]
        answers = source.recent_weather([(c.latitude, c.longitude) for c in batch])
        for cell, weather in zip(batch, answers, strict=True):
            try:
                if isinstance(weather, SourceError):
                    raise weather
                window, end = features.latest_window(weather.hours)
            except (SourceError, features.FeatureError) as exc:
                skipped.setdefault(str(exc), []).append(cell)
                count_fault(FaultCount.Stage.FETCH)
                continue
            last_hour = window[-1, features.VARIABLES.index("precipitation")]
            raining = bool(last_hour >= features.RAIN_MM)
            windows.append(window)
            fetched.append((cell, end, weather.chances, raining))
            result.hours[cell.pk] = weather.hours
    for why, missed in skipped.items():
        shown = ", ".join(f"{c} (id {c.pk})" for c in missed[:3])
        more = f" and {len(missed) - 3} more" if len(missed) > 3 else ""
        log.warning("%s%s skipped: %s", shown, more, why)
    if not fetched:
        return result
    end_times = np.array([end for _, end, _, _ in fetched], dtype="datetime64[s]")
    longitudes = np.array([cell.longitude for cell, _, _, _ in fetched])
    try:
        model = rain_model(observed=False)
        probabilities = predict_rain_batch(
            np.stack(windows), end_times, longitudes, model
        )
        version = ModelVersion.named(model.card["version"])
    except ModelError:
        log.exception("the rain model is unavailable; cycle chunk skipped")
        return result
    result.feature_stats = model.card.get("feature_stats") or {}
    if result.feature_stats:
        result.features = features.features(np.stack(windows), end_times, longitudes)
        result.feature_names = list(model.card["features"])
    result.predictions = [
        Prediction(
            cell=cell,
            valid_at=_utc(end),
            probabilities=tuple(float(p) for p in row),
            provider=chances,
            model=version,
            raining=raining,
        )
        for (cell, end, chances, raining), row in zip(
            fetched, probabilities, strict=True
        )
    ]
    return result


def _utc(time64: np.datetime64) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(time64.astype("int64")), tz=dt.UTC)


# Places read (and locked) a query at a time: a chunk of a dense city holds
# tens of thousands, ~1.3 KB each as model instances.
PLACES_A_QUERY = 2000


def store_and_decide(
    predictions: list[Prediction],
    now: dt.datetime,
    on_commit: AlertsCommitted | None = None,
) -> list[int]:
    """Cells' predictions (stored unless they are already) and a decision for
    each of their active places not yet decided on their hour, in one
    transaction: one insert, then per PLACES_A_QUERY places one locking
    select, a savepoint only for a place that writes and one update of
    ``decided_through`` per hour. A place whose decision fails loses only
    itself."""
    if not predictions:
        return []
    faults: Counter[str] = Counter()
    token = _chunk_faults.set(faults)
    try:
        alert_ids = _store_and_decide(predictions, now, on_commit)
    finally:
        _chunk_faults.reset(token)
    for stage in sorted(faults):  # committed: count what the chunk met
        add_faults(stage, faults[stage])
    return alert_ids


def _store_and_decide(
    predictions: list[Prediction],
    now: dt.datetime,
    on_commit: AlertsCommitted | None,
) -> list[int]:
    with transaction.atomic():
        relaxed_commit()
        Prediction.objects.bulk_create(predictions, ignore_conflicts=True)
        by_cell = {p.cell_id: p for p in predictions}
        undecided = Q(pk__in=[])
        for valid_at, cell_ids in _by_hour(predictions).items():
            undecided |= Q(cell_id__in=cell_ids) & (
                Q(decided_through__isnull=True) | Q(decided_through__lt=valid_at)
            )
        alert_ids: list[int] = []
        after = 0
        while True:
            # In key order, so that a duplicated chunk waits, never deadlocks.
            places = list(
                Place.objects.filter(undecided, active=True, pk__gt=after)
                .order_by("pk")
                .select_for_update()[:PLACES_A_QUERY]
            )
            if places:
                after = places[-1].pk
                alert_ids += decide_places(places, by_cell, now)
            # LIMIT counts only the rows still undecided once locked: a short
            # page is the last.
            if len(places) < PLACES_A_QUERY:
                break
        if alert_ids and on_commit is not None:
            # Robust: a queue failing after the commit is logged (the outbox
            # sends those alerts), never taken for a failed chunk. A lambda,
            # not a partial: Django's log line reads the callback's __qualname__.
            hand_over = on_commit
            transaction.on_commit(lambda: hand_over(alert_ids), robust=True)
    return alert_ids


def decide_places(
    places: list[Place], by_cell: dict[int, Prediction], now: dt.datetime
) -> list[int]:
    """Decide locked places on their cell's prediction, mark them decided on
    its hour; the new alerts' ids."""
    alert_ids: list[int] = []
    decided: dict[dt.datetime, list[int]] = {}
    for place in places:
        prediction = by_cell[place.cell_id]
        valid_at = prediction.valid_at
        decided.setdefault(valid_at, []).append(place.pk)
        probability = place.alert_probability(
            prediction.probabilities, prediction.provider
        )
        try:
            judged = judge(place, valid_at, probability)
            if judged[0] == judged[1].state and not judged[1].alert:
                continue  # most places, most hours: nothing to write
            with transaction.atomic():  # a savepoint: only this place undone
                alert_id = decide_place(
                    place,
                    valid_at,
                    probability,
                    now,
                    place.alert_probabilities(
                        prediction.probabilities, prediction.provider
                    ),
                    judged,
                )
        except Exception:
            log.exception("place %s in cell %s not decided", place.pk, place.cell_id)
            count_fault(FaultCount.Stage.PLACE)
            continue
        if alert_id is not None:
            alert_ids.append(alert_id)
    for valid_at, place_ids in decided.items():
        Place.objects.filter(pk__in=place_ids).update(decided_through=valid_at)
    return alert_ids


def _by_hour(predictions: list[Prediction]) -> dict[dt.datetime, list[int]]:
    hours: dict[dt.datetime, list[int]] = {}
    for prediction in predictions:
        hours.setdefault(prediction.valid_at, []).append(prediction.cell_id)
    return hours


def relaxed_commit() -> None:
    """Let this transaction's commit return before its WAL reaches the disk
    (PostgreSQL's synchronous_commit off, for this transaction only): the
    fsync was ~30% of a cell's time (docs/PERFORMANCE.md). A database crash
    in the next fraction of a second could lose the commit, never corrupt
    anything: the chunk is then decided again by the next cycle (decisions are
    idempotent, an alert whose row was lost finds no row and is not sent, and
    is recorded again)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")


def judge(
    place: Place, valid_at: dt.datetime, probability: float
) -> tuple[EventState, Decision]:
    """The place's event state before, and the decision (no writes).

    Everything is judged at the prediction's hour ``valid_at`` in the place's
    zone, the clock its pages and emails show: quiet hours, the dry hours
    that end an event and the quiet period after one."""
    before = EventState(
        open=place.rain_event_open,
        dry_hours=place.event_dry_hours,
        ended_at=place.last_event_ended_at,
    )
    rules = Rules(
        threshold=place.threshold,
        hysteresis=settings.ALERT_HYSTERESIS,
        end_hours=settings.EVENT_END_HOURS,
        min_gap=dt.timedelta(hours=place.min_gap_hours),
    )
    quiet = quiet_at(valid_at, place_zone(place), place.quiet_start, place.quiet_end)
    return before, decide(before, probability, valid_at, rules, quiet=quiet)


def decide_place(
    place: Place,
    valid_at: dt.datetime,
    probability: float,
    now: dt.datetime,
    probabilities: tuple[float, ...] = (),
    judged: tuple[EventState, Decision] | None = None,
) -> int | None:
    """Open, keep or end the place's event (``judge``'s decision, made here
    unless given); the id of an alert to deliver. ``now`` is the worker's
    wall clock, which differs from ``valid_at`` in a replay or after an
    outage: nothing is judged by it."""
    before, decision = judged or judge(place, valid_at, probability)
    after = decision.state
    if after != before:
        place.rain_event_open = after.open
        place.event_dry_hours = after.dry_hours
        place.last_event_ended_at = after.ended_at
        # An update, not save(): save() also looks up the place's cell.
        Place.objects.filter(pk=place.pk).update(
            rain_event_open=after.open,
            event_dry_hours=after.dry_hours,
            last_event_ended_at=after.ended_at,
        )
    if not decision.alert:
        return None
    alert = record_alert(
        place, valid_at, probability, decision.suppressed, probabilities
    )
    if alert is None or decision.suppressed:
        return None
    return alert.pk


def place_zone(place: Place) -> zoneinfo.ZoneInfo:
    """The place's time zone; UTC (logged, counted) when this machine's tz
    database lacks it, e.g. a zone removed from tzdata after it was saved."""
    zone, found = zone_or_utc(place.timezone)
    if not found:
        log.warning(
            "place %s: time zone %r is unknown here; quiet hours judged in UTC",
            place.pk,
            place.timezone,
        )
        count_fault(FaultCount.Stage.TIMEZONE)
    return zone


# The faults counted while a chunk's transaction is open (see store_and_decide).
_chunk_faults: contextvars.ContextVar[Counter[str] | None] = contextvars.ContextVar(
    "chunk_faults", default=None
)


def count_fault(stage: str) -> None:
    """One more ``stage`` fault today. Inside a chunk's transaction it is
    held until the chunk commits (and dropped with it when it rolls back,
    since each cell is then done again): updating the day's row there would
    lock it for the whole chunk, making two workers wait on each other or
    deadlock when they count two stages in opposite orders."""
    pending = _chunk_faults.get()
    if pending is not None:
        pending[stage] += 1
    else:
        add_faults(stage, 1)


def add_faults(stage: str, count: int) -> None:
    today = timezone.now().date()
    try:
        updated = FaultCount.objects.filter(day=today, stage=stage).update(
            count=F("count") + count
        )
        if not updated:
            FaultCount.objects.get_or_create(day=today, stage=stage)
            FaultCount.objects.filter(day=today, stage=stage).update(
                count=F("count") + count
            )
    except DatabaseError:
        log.exception("fault count for %s not stored", stage)


def count_weather_request(requests: int, calls: float) -> None:
    """Count a request to the weather API for today (UTC), and warn once a
    day when the calls pass OPEN_METEO_BUDGET_WARN_SHARE of
    OPEN_METEO_DAILY_BUDGET (Open-Meteo's free tier: 10,000 calls a day per
    address, shared by every app on that address)."""
    today = timezone.now().date()
    try:
        with transaction.atomic():
            WeatherUsage.objects.get_or_create(day=today)
            WeatherUsage.objects.filter(day=today).update(
                requests=F("requests") + requests, calls=F("calls") + calls
            )
            total = WeatherUsage.objects.values_list("calls", flat=True).get(day=today)
    except DatabaseError:
        log.exception("weather request not counted")
        return
    budget = settings.OPEN_METEO_DAILY_BUDGET
    limit = budget * settings.OPEN_METEO_BUDGET_WARN_SHARE
    if total - calls < limit <= total:
        log.warning(
            "weather API budget: %.0f of %.0f calls used today (%.0f%%); "
            "see OPEN_METEO_DAILY_BUDGET and OPEN_METEO_API_KEY",
            total,
            budget,
            100 * total / budget,
        )


def unqueued_alerts(now: dt.datetime | None = None) -> list[int]:
    """The outbox: pending alerts whose delivery was never handed to the
    queue (their worker died between the commit and the queue) and are older
    than OUTBOX_GRACE_SECONDS, or were queued an hour ago and never tried.
    The cycle queues them again; delivery is idempotent."""
    now = now or timezone.now()
    grace = now - dt.timedelta(seconds=settings.OUTBOX_GRACE_SECONDS)
    stale = now - dt.timedelta(hours=1)
    rows = Alert.objects.filter(
        Q(queued_at__isnull=True, created_at__lt=grace)
        | Q(queued_at__lt=stale, deliveries__isnull=True),
        status=Alert.Status.PENDING,
        created_at__gte=now - dt.timedelta(days=1),
    )
    return list(rows.order_by("pk").values_list("pk", flat=True)[:10000])


def mark_queued(alert_ids: list[int], now: dt.datetime | None = None) -> None:
    Alert.objects.filter(pk__in=alert_ids).update(queued_at=now or timezone.now())


def record_alert(
    place: Place,
    valid_at: dt.datetime,
    probability: float,
    suppressed: bool,
    probabilities: tuple[float, ...] = (),
) -> Alert | None:
    """The event's one alert, or None when another task recorded it first."""
    try:
        with transaction.atomic():
            return Alert.objects.create(
                place=place,
                event_started_at=valid_at,
                probability=probability,
                probabilities=probabilities or None,
                rain_likely_from=likely_from(valid_at, probabilities, place.threshold),
                status=Alert.Status.SUPPRESSED if suppressed else Alert.Status.PENDING,
            )
    except IntegrityError:
        return None
