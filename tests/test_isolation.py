"""Issue 12's fast half: one bad cell or place costs only itself, alerts are
handed to delivery as their chunk commits (and the outbox catches the rest),
delivery holds no lock across the network and is bounded in time, and a
webhook carries one idempotency key over every attempt."""

import datetime as dt
import json
import time

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from weatherapp.alerting import cycle, delivery
from weatherapp.forecast.sources import OpenMeteoSource, SourceError
from weatherapp.models import Alert, Cell, Delivery, FaultCount, Place, Prediction

pytestmark = pytest.mark.django_db

DAYTIME = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC)


@pytest.fixture
def owner():
    return User.objects.create_user("ann", "ann@example.com", "pw")


def grid(owner, n: int, **fields) -> list[Place]:
    """``n`` places, each in its own 0.1° cell, in one chunk of the cycle."""
    return [
        Place.objects.create(
            owner=owner,
            name=f"p{i}",
            latitude=30 + (i // 20) * 0.1,
            longitude=-100 + (i % 20) * 0.1,
            **fields,
        )
        for i in range(n)
    ]


def run(now=DAYTIME, on_commit=None) -> list[int]:
    ids = []
    for chunk in cycle.cycle_chunks():
        ids += cycle.predict_cells(chunk, now=now, on_commit=on_commit)
    return ids


def test_a_zone_gone_from_tzdata_costs_nothing_in_a_chunk_of_200(
    open_meteo, owner, caplog
):
    open_meteo.default = "rainy"
    places = grid(owner, 200, threshold=0.3)
    # Saved when the zone existed; tzdata dropped US/Pacific-New in 2020.
    Place.objects.filter(pk=places[3].pk).update(timezone="US/Pacific-New")
    assert len(cycle.cycle_chunks()) == 1
    alert_ids = run()
    assert Prediction.objects.count() == 200
    assert len(alert_ids) == 200  # the odd place is judged in UTC, not dropped
    assert f"place {places[3].pk}: time zone 'US/Pacific-New'" in caplog.text
    assert FaultCount.objects.get(stage="timezone").count == 1


def test_faults_are_counted_in_metrics(client, settings):
    settings.METRICS_TOKEN = "t" * 32
    FaultCount.objects.create(day=DAYTIME.date(), stage="place", count=2)
    FaultCount.objects.create(day=DAYTIME.date() - dt.timedelta(1), stage="place")
    FaultCount.objects.filter(count=0).update(count=3)
    text = client.get("/metrics", HTTP_AUTHORIZATION="Bearer " + "t" * 32).content
    lines = text.decode().splitlines()
    assert 'weatheralert_cycle_faults_total{stage="place"} 5' in lines
    assert 'weatheralert_cycle_faults_total{stage="fetch"} 0' in lines


def test_one_failing_place_loses_only_itself(open_meteo, owner, monkeypatch, caplog):
    open_meteo.default = "rainy"
    places = grid(owner, 40, threshold=0.3)
    real = cycle.decide_place

    def broken_for_p7(place, *args):
        if place.name == "p7":
            raise RuntimeError("a row the code cannot handle")
        return real(place, *args)

    monkeypatch.setattr(cycle, "decide_place", broken_for_p7)
    alert_ids = run()
    assert len(alert_ids) == 39
    assert not Alert.objects.filter(place=places[7]).exists()
    assert f"place {places[7].pk} in cell" in caplog.text
    assert FaultCount.objects.get(stage="place").count == 1


def test_one_failing_cell_loses_only_itself(open_meteo, owner, monkeypatch, caplog):
    open_meteo.default = "rainy"
    grid(owner, 40, threshold=0.3)
    real = cycle.store_and_decide
    bad = Cell.objects.order_by("pk")[5]

    def broken_for_one_cell(predictions, *args):
        if any(p.cell_id == bad.pk for p in predictions):
            raise RuntimeError("disk full")
        return real(predictions, *args)

    monkeypatch.setattr(cycle, "store_and_decide", broken_for_one_cell)
    assert len(run()) == 39
    assert Prediction.objects.count() == 39
    assert "a chunk of 40 cells failed as one transaction" in caplog.text
    assert f"(id {bad.pk}) not stored" in caplog.text
    assert FaultCount.objects.get(stage="cell").count == 1


@pytest.mark.django_db(transaction=True)  # a real COMMIT, where the check runs
def test_a_cell_the_database_refuses_at_commit_costs_only_itself(
    open_meteo, owner, monkeypatch, caplog
):
    # A failure inside the database at COMMIT (a deferred foreign key: the
    # cell is gone), not a Python error: the chunk's one transaction is
    # rolled back whole, then every other cell is stored and decided alone.
    open_meteo.default = "rainy"
    places = grid(owner, 40, threshold=0.3)
    # A fault counted in the failed chunk is counted once, not again.
    Place.objects.filter(pk=places[9].pk).update(timezone="US/Pacific-New")
    bad = Cell.objects.order_by("pk")[5]
    real = cycle.fetch_and_predict

    def one_cell_gone(*args):
        fetched = real(*args)
        for prediction in fetched.predictions:
            if prediction.cell_id == bad.pk:
                prediction.cell_id = bad.pk + 10**6
        return fetched

    monkeypatch.setattr(cycle, "fetch_and_predict", one_cell_gone)
    assert len(run()) == 39
    assert "a chunk of 40 cells failed as one transaction" in caplog.text
    assert Prediction.objects.count() == 39
    assert not Prediction.objects.filter(cell=bad).exists()
    undecided = Place.objects.filter(decided_through__isnull=True)
    assert list(undecided) == [places[5]]
    assert Alert.objects.count() == 39
    assert FaultCount.objects.get(stage="cell").count == 1
    assert FaultCount.objects.get(stage="timezone").count == 1
    assert FaultCount.objects.get(stage="chunk").count == 1


class Interrupted(Exception):
    """Stands in for Celery's SoftTimeLimitExceeded (an Exception too)."""


def test_an_interrupt_ends_the_chunk_instead_of_a_cell_by_cell_retry(
    open_meteo, owner, monkeypatch
):
    open_meteo.default = "rainy"
    grid(owner, 5, threshold=0.3)
    calls = []

    def interrupted(predictions, *args):
        calls.append(len(predictions))
        raise Interrupted

    monkeypatch.setattr(cycle, "store_and_decide", interrupted)
    (chunk,) = cycle.cycle_chunks()
    with pytest.raises(Interrupted):
        cycle.predict_cells(chunk, now=DAYTIME, interrupts=(Interrupted,))
    assert calls == [5]  # no retry of each cell on the time that is left


@pytest.mark.django_db(transaction=True)  # a real COMMIT and its callbacks
def test_a_queue_failing_after_the_commit_is_not_a_failed_chunk(
    open_meteo, owner, caplog
):
    open_meteo.default = "rainy"
    grid(owner, 5, threshold=0.3)

    def queue_down(alert_ids):
        raise ConnectionError("Redis is down")

    alert_ids = run(on_commit=queue_down)
    assert len(alert_ids) == 5  # committed, and said so: the outbox sends them
    assert sorted(alert_ids) == sorted(Alert.objects.values_list("pk", flat=True))
    assert "Redis is down" in caplog.text
    assert "failed as one transaction" not in caplog.text
    assert not FaultCount.objects.filter(stage__in=["cell", "chunk"]).exists()


def test_alerts_are_handed_over_as_the_chunk_commits(
    open_meteo, owner, django_capture_on_commit_callbacks
):
    open_meteo.default = "rainy"
    grid(owner, 30, threshold=0.3)
    handed: list[list[int]] = []
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        ids = run(on_commit=handed.append)
    assert len(callbacks) == 1  # the chunk's one transaction
    assert [i for batch in handed for i in batch] == ids


def test_the_outbox_holds_alerts_never_queued(owner, settings):
    settings.OUTBOX_GRACE_SECONDS = 60
    place = grid(owner, 1)[0]
    now = timezone.now()

    def alert(hours_ago: int, **fields) -> Alert:
        row = Alert.objects.create(
            place=place,
            event_started_at=now - dt.timedelta(hours=hours_ago),
            probability=0.9,
            **fields,
        )
        Alert.objects.filter(pk=row.pk).update(created_at=now - dt.timedelta(minutes=5))
        return row

    lost = alert(1)
    fresh = alert(2)
    Alert.objects.filter(pk=fresh.pk).update(created_at=now)  # within the grace
    alert(3, queued_at=now)  # queued: its task is on the way
    alert(4, status=Alert.Status.SUPPRESSED)
    alert(5, status=Alert.Status.SENT)
    assert cycle.unqueued_alerts(now) == [lost.pk]
    cycle.mark_queued([lost.pk], now)
    assert cycle.unqueued_alerts(now) == []


def test_an_alert_with_every_channel_off_says_so(owner):
    place = grid(owner, 1, email_enabled=False)[0]
    row = Alert.objects.create(place=place, event_started_at=DAYTIME, probability=0.9)
    assert delivery.channels_for(row.pk) == []
    row.refresh_from_db()
    assert row.status == Alert.Status.NO_CHANNEL


@pytest.fixture
def hook_alert(owner, webhook_receiver, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    place = grid(owner, 1, webhook_url=webhook_receiver.url, email_enabled=False)[0]
    return Alert.objects.create(place=place, event_started_at=DAYTIME, probability=0.9)


def test_a_dripping_webhook_is_cut_off_at_the_deadline(
    hook_alert, webhook_receiver, settings
):
    # The attack: a receiver answering one byte every 4 s held a delivery for
    # 148 s (each read is quick, so the 5 s read timeout never fired).
    settings.DELIVERY_DEADLINE = 1.5
    webhook_receiver.drip_seconds = 0.5
    started = time.monotonic()
    result = delivery.deliver(hook_alert.pk, "webhook", final=False)
    elapsed = time.monotonic() - started
    assert result.outcome == "failed" and result.retry
    assert result.detail == "no complete answer within 1.5 s"
    assert elapsed < 5  # the whole answer would have taken ~20 s
    (attempt,) = Delivery.objects.filter(alert=hook_alert)
    assert attempt.outcome == "failed"  # the claim was settled, not left sending


def test_a_webhook_is_claimed_before_the_post(hook_alert, webhook_receiver, settings):
    seen = []
    real = delivery.SENDERS["webhook"]

    def sender(alert):
        seen.append(list(Delivery.objects.values_list("outcome", flat=True)))
        return real(alert)

    settings.WEBHOOK_ALLOW_PRIVATE = True
    delivery.SENDERS["webhook"] = sender
    try:
        assert delivery.deliver(hook_alert.pk, "webhook").outcome == "sent"
    finally:
        delivery.SENDERS["webhook"] = real
    assert seen == [["sending"]]
    assert list(Delivery.objects.values_list("outcome", flat=True)) == ["sent"]


def test_a_fresh_claim_means_another_worker_is_on_it(hook_alert, settings):
    settings.DELIVERY_DEADLINE = 15
    Delivery.objects.create(alert=hook_alert, channel="webhook", outcome="sending")
    with pytest.raises(delivery.Busy) as busy:
        delivery.deliver(hook_alert.pk, "webhook")
    assert 25 < busy.value.seconds <= 30


def test_a_stale_webhook_claim_is_sent_again_with_the_same_key(
    hook_alert, webhook_receiver, settings
):
    settings.DELIVERY_DEADLINE = 15
    delivery.deliver(hook_alert.pk, "webhook")
    # Now pretend the worker died mid-POST a minute ago: the first POST did
    # arrive, its answer never got recorded.
    Delivery.objects.filter(alert=hook_alert).update(
        outcome="sending", created_at=timezone.now() - dt.timedelta(minutes=1)
    )
    Alert.objects.filter(pk=hook_alert.pk).update(status="pending")
    assert delivery.deliver(hook_alert.pk, "webhook").outcome == "sent"
    first, second = webhook_receiver.received
    key = f"weatheralert-alert-{hook_alert.pk}"
    assert first["headers"]["Idempotency-Key"] == key
    assert second["headers"]["Idempotency-Key"] == key
    assert json.loads(first["body"]) == json.loads(second["body"])
    outcomes = list(
        Delivery.objects.order_by("attempt").values_list("outcome", "detail")
    )
    assert outcomes[0][0] == "failed" and "Idempotency-Key" in outcomes[0][1]
    assert outcomes[1] == ("sent", "HTTP 200")


def test_a_stale_email_claim_is_not_sent_twice(owner, settings, mailoutbox):
    settings.DELIVERY_DEADLINE = 15
    place = grid(owner, 1)[0]
    row = Alert.objects.create(place=place, event_started_at=DAYTIME, probability=0.9)
    Delivery.objects.create(alert=row, channel="email", outcome="sending")
    Delivery.objects.filter(alert=row).update(
        created_at=timezone.now() - dt.timedelta(minutes=1)
    )
    assert delivery.deliver(row.pk, "email") is None
    assert mailoutbox == []
    row.refresh_from_db()
    assert row.status == Alert.Status.FAILED
    (attempt,) = row.deliveries.all()
    assert attempt.outcome == "failed" and "not sent again" in attempt.detail


def test_a_dripping_weather_api_is_cut_off_at_the_deadline(weather_server):
    weather_server.set(36.1, -79.9, "drip")
    weather_server.drip_seconds = 0.2
    source = OpenMeteoSource(weather_server.url, retries=0, deadline=1.0)
    started = time.monotonic()
    with pytest.raises(SourceError, match="no complete answer within 1 s"):
        source.recent_hours(36.1, -79.9)
    assert time.monotonic() - started < 4
