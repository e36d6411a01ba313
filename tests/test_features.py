import numpy as np
import pytest

from weatherapp.forecast import features
from weatherapp.forecast.features import FeatureError


def hourly(n: int, start: str = "2026-06-01T00:00") -> dict[str, np.ndarray]:
    time = np.datetime64(start, "s") + np.arange(n) * features.HOUR
    return {
        "time": time,
        "temperature_2m": np.linspace(20, 25, n),
        "relative_humidity_2m": np.full(n, 60.0),
        "dew_point_2m": np.full(n, 12.0),
        "surface_pressure": np.linspace(1000, 990, n),
        "cloud_cover": np.linspace(0, 100, n),
        "wind_speed_10m": np.full(n, 5.0),
        "wind_direction_10m": np.full(n, 90.0),
        "precipitation": np.zeros(n),
    }


def test_window_ends_never_span_a_gap():
    times = np.datetime64("2026-01-01T00:00", "s") + np.r_[0:30, 31:60] * features.HOUR
    ends = features.window_ends(times)
    # First run: hours 0..29 (30 hours) -> ends 23..29; second: 31..59 -> 29 hours.
    assert list(ends) == list(range(23, 30)) + list(range(30 + 23, 59))
    for end in ends:
        span = times[end] - times[end - features.WINDOW_HOURS + 1]
        assert span == (features.WINDOW_HOURS - 1) * features.HOUR


def test_window_ends_of_too_short_a_series_is_empty():
    assert len(features.window_ends(hourly(23)["time"])) == 0


def test_rain_labels_look_ahead_the_horizon_only():
    h = hourly(40)
    h["precipitation"][30] = 0.1
    ends = features.window_ends(h["time"])
    labels, known = features.rain_labels(h, ends)
    by_end = dict(zip(ends, labels, strict=True))
    assert [by_end[e] for e in (26, 27, 28, 29, 30)] == [0, 1, 1, 1, 0]
    # The last three ends have no complete horizon.
    assert not known[-3:].any() and known[:-3].all()


def test_rain_below_measurable_is_no_rain():
    h = hourly(30)
    h["precipitation"][27] = 0.09
    labels, _ = features.rain_labels(h, np.array([25]))
    assert labels[0] == 0


def test_features_have_the_documented_meaning():
    h = hourly(24)
    h["precipitation"][20] = 2.0
    x = features.features(features.stack_windows(h, [23]), h["time"][23:], -79.95)[0]
    f = dict(zip(features.FEATURES, x, strict=True))
    assert f["dew_point_depression"] == pytest.approx(25 - 12)
    assert f["pressure_tendency_3h"] == pytest.approx(-30 / 23, rel=1e-4)
    assert f["cloud_cover"] == pytest.approx(100)
    assert f["rain_hours_24h"] == 1
    assert f["hours_since_rain"] == 3
    # East wind (from 90°) blows towards the west: u < 0, v ~ 0.
    assert f["wind_u"] == pytest.approx(-5) and abs(f["wind_v"]) < 1e-5


def test_solar_time_follows_longitude_not_the_clock():
    h = hourly(24, start="2026-06-01T00:00")
    windows = features.stack_windows(h, [23])
    end = h["time"][23:]  # 23:00 UTC, i.e. the hour 22:00-23:00
    at_greenwich = features.features(windows, end, 0.0)[0]
    at_180_east = features.features(windows, end, 180.0)[0]
    i = features.FEATURES.index("solar_hour_sin")
    j = features.FEATURES.index("solar_hour_cos")
    angle = np.arctan2(at_greenwich[i], at_greenwich[j]) % (2 * np.pi)
    assert angle * 24 / (2 * np.pi) == pytest.approx(22.5, abs=1e-3)
    angle = np.arctan2(at_180_east[i], at_180_east[j]) % (2 * np.pi)
    assert angle * 24 / (2 * np.pi) == pytest.approx(10.5, abs=1e-3)


def test_pressure_msl_stands_in_for_surface_pressure():
    h = hourly(24)
    h["pressure_msl"] = h.pop("surface_pressure") + 25
    features.check_hours(h)
    x = features.features(features.stack_windows(h, [23]), h["time"][23:], 0.0)
    assert x[0, features.FEATURES.index("pressure_tendency_3h")] == pytest.approx(
        -30 / 23, rel=1e-4
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda h: h.pop("cloud_cover"), "cloud_cover"),
        (lambda h: h.pop("surface_pressure"), "surface_pressure"),
        (lambda h: h.__setitem__("precipitation", np.zeros(5)), "precipitation"),
        (lambda h: h["temperature_2m"].__setitem__(3, np.nan), "temperature_2m"),
        (
            lambda h: h["relative_humidity_2m"].__setitem__(3, 101),
            "relative_humidity_2m",
        ),
        (lambda h: h["wind_speed_10m"].__setitem__(0, -1), "wind_speed_10m"),
        (lambda h: h["time"].__setitem__(5, h["time"][4]), "time"),
    ],
)
def test_check_hours_names_the_bad_field(change, field):
    h = hourly(24)
    change(h)
    with pytest.raises(FeatureError) as caught:
        features.check_hours(h)
    assert caught.value.field == field


def test_standardize_uses_the_given_statistics():
    x = np.array([[2.0, 10.0]], np.float32)
    out = features.standardize(x, [1.0, 10.0], [0.5, 2.0])
    assert out.tolist() == [[2.0, 0.0]]
