"""What one rain is (an event ends after EVENT_END_HOURS dry predictions and a
new one waits Place.min_gap_hours), quiet hours on the event's own clock in
the place's zone (DST included), and the wobbling evening that sent three
emails in seven hours."""

import datetime as dt
import zoneinfo

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.core import mail

from weatherapp.ai import predictor
from weatherapp.alerting import cycle as the_cycle
from weatherapp.alerting import delivery
from weatherapp.alerting.decisions import EventState, Rules, decide, quiet_at
from weatherapp.models import Alert, Place, Prediction

HOUR = dt.timedelta(hours=1)
EVENING = dt.datetime(2026, 11, 28, 20, tzinfo=dt.UTC)
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
SYDNEY = zoneinfo.ZoneInfo("Australia/Sydney")
NIGHT = (dt.time(22), dt.time(7))

# The evening reported in issue 13 (demo threshold 0.5, hysteresis 0.1): the
# probability peaks at 67 %, 63 % and 54 %, dipping below 40 % in between.
WOBBLE = [0.67, 0.45, 0.38, 0.63, 0.42, 0.35, 0.54, 0.30]
# The same shape around a 0.6 threshold (an event ends below 0.5).
WOBBLE_06 = [0.67, 0.55, 0.48, 0.63, 0.52, 0.45, 0.61, 0.40]
# The rules before this change: an event ended at its first dip, no waiting.
OLD = {"end_hours": 1, "min_gap": dt.timedelta(0)}
NEW = {"end_hours": 2, "min_gap": dt.timedelta(hours=6)}


def run(series, rules, start=EVENING):
    """The hours (indexes) that alert, and the state left behind."""
    alerts, state = [], EventState()
    for hour, p in enumerate(series):
        d = decide(state, p, start + hour * HOUR, rules)
        state = d.state
        if d.alert:
            alerts.append(hour)
    return alerts, state


# --- pure: what one rain is ---------------------------------------------------


@pytest.mark.parametrize(("series", "threshold"), [(WOBBLE, 0.5), (WOBBLE_06, 0.6)])
def test_a_wobbling_evening_is_one_rain(series, threshold):
    assert run(series, Rules(threshold, 0.1, **OLD))[0] == [0, 3, 6]  # before
    alerts, state = run(series, Rules(threshold, 0.1, **NEW))
    assert alerts == [0]
    assert state.open  # still the same rain: it has not stayed dry long enough


def test_each_rule_alone_makes_the_wobble_one_rain():
    # Dry hours alone: no dip lasts two predictions.
    assert run(WOBBLE, Rules(0.5, 0.1, end_hours=2))[0] == [0]
    # The quiet period alone: the event ends at each dip, but rain back
    # within 6 h resumes it silently.
    assert run(WOBBLE, Rules(0.5, 0.1, end_hours=1, min_gap=6 * HOUR))[0] == [0]


def test_an_event_ends_after_n_dry_predictions_in_a_row():
    rules = Rules(0.5, 0.1, end_hours=3)
    state = EventState(open=True)
    for dry in (1, 2):
        state = decide(state, 0.2, EVENING, rules).state
        assert state.open and state.dry_hours == dry
    # Back up to the hysteresis band: the count starts again.
    state = decide(state, 0.45, EVENING, rules).state
    assert state.open and state.dry_hours == 0
    for hour in range(3):
        state = decide(state, 0.2, EVENING + hour * HOUR, rules).state
    assert not state.open and state.ended_at == EVENING + 2 * HOUR


@pytest.mark.parametrize(
    ("hours_after", "alert"),
    [(0, False), (1, False), (5, False), (6, True), (30, True), (-48, True)],
)
def test_the_quiet_period_after_a_rain(hours_after, alert):
    """Rain back within min_gap is the same rain; a clock that went backwards
    (a replay started again) does not silence a place."""
    ended = EVENING
    d = decide(
        EventState(ended_at=ended),
        0.9,
        ended + hours_after * HOUR,
        Rules(0.5, 0.1, end_hours=2, min_gap=6 * HOUR),
    )
    assert d.event_open and d.alert == alert
    assert d.state.ended_at == ended  # the end of the last event is kept


def test_no_quiet_period_when_the_place_asks_for_none():
    rules = Rules(0.5, 0.1, end_hours=1, min_gap=dt.timedelta(0))
    assert run([0.9, 0.1, 0.9], rules)[0] == [0, 2]


def test_an_event_opening_in_quiet_hours_is_suppressed_and_stays_open():
    d = decide(EventState(), 0.9, EVENING, Rules(0.5, 0.1, **NEW), quiet=True)
    assert d.alert and d.suppressed and d.event_open


# --- pure: quiet hours on the event's clock, in the place's zone --------------


@pytest.mark.parametrize(
    ("at", "zone", "quiet"),
    [
        # 22:00 UTC is 09:00 in Sydney (AEDT, +11): the false "quiet".
        (dt.datetime(2026, 11, 28, 22, tzinfo=dt.UTC), SYDNEY, False),
        (dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC), SYDNEY, True),  # 23:00
        # Sydney in winter (AEST, +10): 20:30 UTC is 06:30, still quiet.
        (dt.datetime(2026, 6, 30, 20, 30, tzinfo=dt.UTC), SYDNEY, True),
        (dt.datetime(2026, 11, 28, 4, tzinfo=dt.UTC), NEW_YORK, True),  # 23:00 EST
        (dt.datetime(2026, 11, 28, 22, tzinfo=dt.UTC), NEW_YORK, False),  # 17:00
        # 2026-03-08 New York springs forward at 02:00 EST: the same 11:30 UTC
        # is 06:30 EST (quiet) the day before and 07:30 EDT (not) that day.
        (dt.datetime(2026, 3, 7, 11, 30, tzinfo=dt.UTC), NEW_YORK, True),
        (dt.datetime(2026, 3, 8, 11, 30, tzinfo=dt.UTC), NEW_YORK, False),
        # 2026-11-01 it falls back at 02:00 EDT: 11:30 UTC is 07:30 EDT the
        # day before (not quiet) and 06:30 EST that day (quiet).
        (dt.datetime(2026, 10, 31, 11, 30, tzinfo=dt.UTC), NEW_YORK, False),
        (dt.datetime(2026, 11, 1, 11, 30, tzinfo=dt.UTC), NEW_YORK, True),
        # The repeated hour 01:00-02:00 that night is quiet both times.
        (dt.datetime(2026, 11, 1, 5, 30, tzinfo=dt.UTC), NEW_YORK, True),  # EDT
        (dt.datetime(2026, 11, 1, 6, 30, tzinfo=dt.UTC), NEW_YORK, True),  # EST
    ],
)
def test_quiet_hours_are_read_on_the_places_clock(at, zone, quiet):
    assert quiet_at(at, zone, *NIGHT) is quiet


def test_quiet_hours_ending_at_the_hour_skipped_by_dst():
    """22:00-02:30 on 2026-03-08: 02:30 never happens in New York that night;
    03:00 EDT (07:00 UTC) is already outside."""
    start, end = dt.time(22), dt.time(2, 30)
    assert quiet_at(dt.datetime(2026, 3, 8, 6, 59, tzinfo=dt.UTC), NEW_YORK, start, end)
    assert not quiet_at(
        dt.datetime(2026, 3, 8, 7, 0, tzinfo=dt.UTC), NEW_YORK, start, end
    )


# --- the cycle ----------------------------------------------------------------


@pytest.fixture
def owner(db):
    return User.objects.create_user("ann", "ann@example.com", "pw")


def make_place(owner, name, **fields):
    return Place.objects.create(
        owner=owner, name=name, latitude=36.1, longitude=-79.95, **fields
    )


def hour_ago(days: int, hour: int) -> np.datetime64:
    """``hour`` o'clock UTC ``days`` ago: an hour the weather source has."""
    day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days)
    return np.datetime64(f"{day.isoformat()}T{hour:02d}:00", "s")


def cycle(now) -> list[int]:
    ids = []
    for chunk in the_cycle.cycle_chunks():
        ids += the_cycle.predict_cells(chunk, now=now)
    return ids


@pytest.mark.django_db
def test_the_cycle_judges_quiet_hours_at_the_events_hour_per_zone(open_meteo, owner):
    """One cell, one prediction for 22:00 UTC: 08:00/09:00 in Sydney (not
    quiet), 17:00/18:00 in New York (quiet 16:00-20:00), while the worker's
    wall clock says 12:00 UTC (23:00 in Sydney, 07:00 in New York), which is
    what quiet hours were judged by before."""
    sydney = make_place(
        owner,
        "Sydney",
        timezone="Australia/Sydney",
        quiet_start=dt.time(22),
        quiet_end=dt.time(7),
    )
    new_york = make_place(
        owner,
        "New York",
        timezone="America/New_York",
        quiet_start=dt.time(16),
        quiet_end=dt.time(20),
    )
    open_meteo.default = "rainy"
    open_meteo.end = hour_ago(2, 22)  # the newest hour read: 22:00 UTC
    wall = dt.datetime.combine(
        dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1), dt.time(12), dt.UTC
    )
    sent = cycle(now=wall)
    (valid_at,) = set(Prediction.objects.values_list("valid_at", flat=True))
    assert valid_at.hour == 22
    assert [Alert.objects.get(pk=i).place for i in sent] == [sydney]
    assert Alert.objects.get(place=sydney).status == Alert.Status.PENDING
    assert Alert.objects.get(place=new_york).status == Alert.Status.SUPPRESSED


@pytest.fixture
def scripted(monkeypatch):
    """The model answers from a script, one probability per cycle; the
    weather still comes from the loopback Open-Meteo."""
    answers: list[float] = []

    def predict(windows, end_times, longitudes, model):
        return np.full((len(windows), 6), answers.pop(0), dtype=np.float32)

    monkeypatch.setattr(predictor, "predict_rain_batch", predict)
    return answers


def evening(open_meteo, scripted, series, now=None) -> list[int]:
    """Each probability of ``series`` as the prediction of the next hour."""
    open_meteo.default = "rainy"
    open_meteo.end = hour_ago(2, 12)
    alert_ids = []
    for p in series:
        scripted.append(p)
        alert_ids += cycle(now or dt.datetime.now(dt.UTC))
        open_meteo.end += np.timedelta64(3600, "s")
    return alert_ids


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("end_hours", "gap_hours", "emails"),
    [(1, 0, 3), (2, 6, 1)],  # the rules before (three emails), and now
)
def test_the_wobbling_evening_sends_one_email_end_to_end(
    open_meteo, scripted, owner, settings, end_hours, gap_hours, emails
):
    """Loopback weather -> cycle -> decisions -> email delivery, hour by hour
    through the reported evening (67 %, 63 %, 54 % around a 0.5 threshold)."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.EVENT_END_HOURS = end_hours
    make_place(owner, "Greensboro", threshold=0.5, min_gap_hours=gap_hours)
    for alert_id in evening(open_meteo, scripted, WOBBLE):
        for channel in delivery.channels_for(alert_id):
            delivery.deliver(alert_id, channel)
    assert len(mail.outbox) == emails
    assert Prediction.objects.count() == len(WOBBLE)
    assert [m.subject.split(" (")[1] for m in mail.outbox] == [
        "67%)",
        "63%)",
        "54%)",
    ][:emails]
    if emails == 1:
        (message,) = mail.outbox
        # The promise, and what "this rain" means, as the rules apply it.
        assert "We will not write again about this rain" in message.body
        assert "below 40% for 2 hours in a row" in message.body
        assert "comes back within 6 hours" in message.body


@pytest.mark.django_db
def test_the_cycle_keeps_the_event_state_on_the_place(open_meteo, scripted, owner):
    place = make_place(owner, "Home", threshold=0.5)
    ids = evening(open_meteo, scripted, [0.9, 0.2])
    assert len(ids) == 1
    place.refresh_from_db()
    assert place.rain_event_open and place.event_dry_hours == 1
    # The second dry hour ends it, at that prediction's hour.
    scripted.append(0.2)
    cycle(dt.datetime.now(dt.UTC))
    place.refresh_from_db()
    assert not place.rain_event_open and place.event_dry_hours == 0
    assert place.last_event_ended_at == Prediction.objects.first().valid_at


# --- the place form: the quiet period after a rain ------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("value", "saved"),
    [
        (None, 6),  # left out (older clients): the default
        ("", 6),
        ("0", 0),
        ("12", 12),
        ("48", 48),
        ("49", None),
        ("-1", None),
        ("six", None),
        ("1e400", None),
    ],
)
def test_the_place_form_takes_a_quiet_period(owner, value, saved):
    from weatherapp.web.forms import PlaceForm

    field = PlaceForm().fields["min_gap_hours"]
    assert field.widget.input_type == "number" and field.help_text
    assert field.widget.attrs["min"] == 0
    data = {
        "name": "Home",
        "latitude": "36.1",
        "longitude": "-79.9",
        "timezone": "America/New_York",
        "threshold_preset": "custom",
        "threshold": "50",
        "email_enabled": "on",
        "active": "on",
    }
    if value is not None:
        data["min_gap_hours"] = value
    form = PlaceForm(data, instance=Place(owner=owner))
    if saved is None:
        assert not form.is_valid() and "min_gap_hours" in form.errors
        return
    assert form.is_valid(), form.errors
    assert form.save().min_gap_hours == saved
