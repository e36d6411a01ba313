"""Thin Celery tasks: ids in, plain functions do the work.

Every task is idempotent (see alerting/cycle.py and alerting/delivery.py) and
acknowledged late (settings: a worker killed mid-chunk gets the chunk delivered
again); arguments are JSON, results ignored. Tasks carry soft and hard time
limits, but Celery enforces time limits in its prefork pool only (and gevent):
the hard ones do not hold in the threads pool the worker runs by default
(CELERY_WORKER_POOL). There a task is bounded by its own deadlines instead: a
chunk stops fetching after CHUNK_FETCH_SECONDS, and every network call has a
total deadline (weatherapp/deadline.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings

from .celery import app

if TYPE_CHECKING:
    from celery import Task


@app.task(name="weatherapp.tasks.run_cycle")
def run_cycle() -> int:
    """Beat's cycle: one predict_cells task per chunk of cells, and the
    outbox: alerts whose delivery was never queued are queued now."""
    from .alerting.cycle import cycle_chunks, unqueued_alerts

    chunks = cycle_chunks()
    for cell_ids in chunks:
        predict_cells.delay(cell_ids)
    queue_deliveries(unqueued_alerts())
    return len(chunks)


def queue_deliveries(alert_ids: list[int]) -> None:
    """Hand alerts to delivery and say so (the outbox sweeps what was not)."""
    from .alerting.cycle import mark_queued

    for alert_id in alert_ids:
        deliver_alert.delay(alert_id)
    if alert_ids:
        mark_queued(alert_ids)


# The hard limits hold in the prefork pool; in every pool the chunk stops
# fetching after CHUNK_FETCH_SECONDS and stores what it has.
@app.task(name="weatherapp.tasks.predict_cells", soft_time_limit=240, time_limit=300)
def predict_cells(cell_ids: list[int]) -> None:
    from celery.exceptions import SoftTimeLimitExceeded

    from .alerting.cycle import predict_cells as predict

    # The chunk's alerts are queued as soon as the chunk commits.
    predict(
        cell_ids,
        fetch_seconds=settings.CHUNK_FETCH_SECONDS,
        on_commit=queue_deliveries,
        interrupts=(SoftTimeLimitExceeded,),
    )


@app.task(
    name="weatherapp.tasks.prune_predictions", soft_time_limit=240, time_limit=300
)
def prune_predictions() -> int:
    """Beat's hourly pruning of raw predictions past their retention, and a
    look at input drift (a warning per drifted feature)."""
    from .alerting.cycle import newest_hour
    from .alerting.retention import prune_predictions as prune
    from .alerting.verification import warn_drift
    from .forecast.card import read_card

    pruned = prune(newest_hour())
    warn_drift(read_card(settings.MODEL_PATH))
    return pruned


# Deliveries queue behind the cycle's tasks (Redis priorities: 0, the default,
# goes first): a backlog of slow receivers, each bounded by DELIVERY_DEADLINE,
# never holds back the next cycle by more than the attempt in progress.
DELIVERY_PRIORITY = 6


@app.task(name="weatherapp.tasks.deliver_alert", priority=DELIVERY_PRIORITY)
def deliver_alert(alert_id: int) -> None:
    """Fan an alert out to its place's channels."""
    from .alerting.delivery import channels_for

    for channel in channels_for(alert_id):
        deliver.delay(alert_id, channel)


@app.task(
    name="weatherapp.tasks.deliver",
    bind=True,
    max_retries=None,
    priority=DELIVERY_PRIORITY,
)
def deliver(self: Task, alert_id: int, channel: str) -> None:
    from .alerting.delivery import Busy
    from .alerting.delivery import deliver as attempt

    final = self.request.retries >= settings.WEBHOOK_RETRIES
    try:
        result = attempt(alert_id, channel, final=final)
    except Busy as busy:  # another worker is mid-attempt: look again later
        raise self.retry(countdown=busy.seconds) from None
    if result is not None and result.retry and not final:
        backoff = settings.WEBHOOK_BACKOFF * 2**self.request.retries
        raise self.retry(countdown=backoff)
