import datetime as dt
import itertools

import pytest

from weatherapp.alerting.decisions import EventState, Rules, decide

T, H = 0.5, 0.1
# The rules before events needed dry hours and a quiet period.
ONE_HOUR = Rules(T, H, end_hours=1)
AT = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC)
OPEN, CLOSED = EventState(open=True), EventState()


@pytest.mark.parametrize(
    ("p", "before", "event_open", "alert"),
    [
        (0.49, CLOSED, False, False),
        (0.50, CLOSED, True, True),
        (0.90, CLOSED, True, True),
        (0.90, OPEN, True, False),
        (0.45, OPEN, True, False),  # within hysteresis
        (0.40, OPEN, True, False),  # at threshold - H
        (0.39, OPEN, False, False),  # closes
    ],
)
def test_decide(p, before, event_open, alert):
    d = decide(before, p, AT, ONE_HOUR)
    assert (d.event_open, d.alert, d.suppressed) == (event_open, alert, False)


def test_wobbling_probability_alerts_once_per_event():
    series = [0.1, 0.55, 0.45, 0.52, 0.41, 0.6, 0.2, 0.3, 0.7, 0.65]
    state, alerts = CLOSED, []
    for hour, p in enumerate(series):
        d = decide(state, p, AT + dt.timedelta(hours=hour), ONE_HOUR)
        state = d.state
        alerts.append(d.alert)
    # One alert for the event from 0.55 to 0.6, a second after it closed at 0.2.
    assert [i for i, a in enumerate(alerts) if a] == [1, 8]


def test_never_alerts_while_an_event_is_open():
    grid = [i / 20 for i in range(21)]
    for p, t in itertools.product(grid, grid):
        assert not decide(OPEN, p, AT, Rules(t, H, end_hours=2)).alert
