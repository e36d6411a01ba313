import itertools

import pytest

from weatherapp.alerting.decisions import Decision, decide

T, H = 0.5, 0.1


@pytest.mark.parametrize(
    ("p", "open_before", "expected"),
    [
        (0.49, False, Decision(event_open=False, alert=False)),
        (0.50, False, Decision(event_open=True, alert=True)),
        (0.90, False, Decision(event_open=True, alert=True)),
        (0.90, True, Decision(event_open=True, alert=False)),
        (0.45, True, Decision(event_open=True, alert=False)),  # within hysteresis
        (0.40, True, Decision(event_open=True, alert=False)),  # at threshold - H
        (0.39, True, Decision(event_open=False, alert=False)),  # closes
    ],
)
def test_decide(p, open_before, expected):
    assert decide(p, T, open_before, H) == expected


def test_wobbling_probability_alerts_once_per_event():
    series = [0.1, 0.55, 0.45, 0.52, 0.41, 0.6, 0.2, 0.3, 0.7, 0.65]
    event_open, alerts = False, []
    for p in series:
        d = decide(p, T, event_open, H)
        event_open = d.event_open
        alerts.append(d.alert)
    # One alert for the event from 0.55 to 0.6, a second after it closed at 0.2.
    assert [i for i, a in enumerate(alerts) if a] == [1, 8]


def test_never_alerts_while_an_event_is_open():
    grid = [i / 20 for i in range(21)]
    for p, t in itertools.product(grid, grid):
        assert not decide(p, t, True, H).alert
