"""Thin Celery tasks: ids in, plain functions do the work (see services.py)."""

from __future__ import annotations

from .celery import app


@app.task(name="weatherapp.tasks.predict_all")
def predict_all() -> int:
    """Beat's cycle: one predict_place task per active place."""
    from .models import Place

    ids = list(Place.objects.filter(active=True).values_list("id", flat=True))
    for place_id in ids:
        predict_place.delay(place_id)
    return len(ids)


@app.task(name="weatherapp.tasks.predict_place")
def predict_place(place_id: int) -> None:
    from . import services

    alert_id = services.predict_place(place_id)
    if alert_id is not None:
        deliver_alert.delay(alert_id)


@app.task(name="weatherapp.tasks.deliver_alert")
def deliver_alert(alert_id: int) -> None:
    from . import services

    services.deliver_alert(alert_id)
