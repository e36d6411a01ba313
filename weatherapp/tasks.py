"""Thin Celery tasks: ids in, plain functions do the work.

Every task is idempotent (see alerting/cycle.py and alerting/delivery.py),
acknowledged late (settings: a worker killed mid-chunk gets the chunk delivered
again) and bounded by soft and hard time limits; arguments are JSON, results
ignored.
"""

from __future__ import annotations

from django.conf import settings

from .celery import app


@app.task(name="weatherapp.tasks.run_cycle")
def run_cycle() -> int:
    """Beat's cycle: one predict_cells task per chunk of cells."""
    from .alerting.cycle import cycle_chunks

    chunks = cycle_chunks()
    for cell_ids in chunks:
        predict_cells.delay(cell_ids)
    return len(chunks)


# The hard limits hold in the prefork pool; in every pool the chunk stops
# fetching after CHUNK_FETCH_SECONDS and stores what it has.
@app.task(name="weatherapp.tasks.predict_cells", soft_time_limit=240, time_limit=300)
def predict_cells(cell_ids: list[int]) -> None:
    from .alerting.cycle import predict_cells as predict

    for alert_id in predict(cell_ids, fetch_seconds=settings.CHUNK_FETCH_SECONDS):
        deliver_alert.delay(alert_id)


@app.task(name="weatherapp.tasks.deliver_alert")
def deliver_alert(alert_id: int) -> None:
    """Fan an alert out to its place's channels."""
    from .alerting.delivery import channels
    from .models import Alert

    alert = Alert.objects.select_related("place").filter(pk=alert_id).first()
    if alert is None:
        return
    for channel in channels(alert.place):
        deliver.delay(alert_id, channel)


@app.task(name="weatherapp.tasks.deliver", bind=True, max_retries=None)
def deliver(self, alert_id: int, channel: str) -> None:
    from .alerting.delivery import deliver as attempt

    final = self.request.retries >= settings.WEBHOOK_RETRIES
    result = attempt(alert_id, channel, final=final)
    if result is not None and result.retry and not final:
        backoff = settings.WEBHOOK_BACKOFF * 2**self.request.retries
        raise self.retry(countdown=backoff)
