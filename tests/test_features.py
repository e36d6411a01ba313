import numpy as np
import pytest

from weatherapp.forecast import features
from weatherapp.forecast.features import FeatureError

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


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
    assert f["pressure_tendency_1h"] == pytest.approx(-10 / 23, rel=1e-4)
    assert f["temperature_change_1h"] == pytest.approx(5 / 23, rel=1e-4)
    assert f["precipitation_6h_log1p"] == pytest.approx(np.log1p(2.0))
    assert f["precipitation_3h_log1p"] == 0
    assert f["relative_humidity_max_6h"] == 60
    assert f["wind_speed_change_3h"] == 0 and f["dew_point_change_3h"] == 0
    # Linear series: the newest value is half the 24-hour span above the mean.
    assert f["temperature_anomaly_24h"] == pytest.approx(2.5, rel=1e-4)
    assert f["pressure_anomaly_24h"] == pytest.approx(-5, rel=1e-4)
    assert f["dew_point_depression_anomaly_24h"] == pytest.approx(2.5, rel=1e-4)
    assert f["relative_humidity_anomaly_24h"] == 0 == f["dew_point_anomaly_24h"]
    assert f["wind_speed_anomaly_24h"] == 0
    # Absolute moisture (model v4), in °C.
    assert f["dew_point"] == f["dew_point_mean_24h"] == f["dew_point_max_24h"] == 12


def test_station_dependent_features_are_gone():
    # docs/MODEL.md: they encode local climate and did not transfer.
    for name in ("wind_u", "wind_v", "temperature_range_24h"):
        assert name not in features.FEATURES
    # Cloud cover's trends would reveal a filled (missing) sky: newest only.
    assert [n for n in features.FEATURES if n.startswith("cloud")] == ["cloud_cover"]


def test_fill_missing_carries_the_newest_earlier_value_only():
    h = hourly(30)
    h["cloud_cover"][[0, 1, 10, 11, 12, 29]] = np.nan
    h["temperature_2m"][:] = np.nan  # never observed: stays missing
    filled = features.fill_missing(h)
    cloud = filled["cloud_cover"]
    assert cloud[0] == cloud[1] == h["cloud_cover"][2]  # before the first: first
    assert cloud[10] == cloud[11] == cloud[12] == h["cloud_cover"][9]
    assert cloud[29] == h["cloud_cover"][28]  # a gap at the end borrows nothing
    assert np.isnan(filled["temperature_2m"]).all()
    assert filled["precipitation"] is h["precipitation"]  # never filled
    assert np.isnan(h["cloud_cover"][10])  # the input is left alone


def test_fill_unobserved_gives_a_never_reported_variable_its_constant():
    h = hourly(30)
    h["cloud_cover"][:] = np.nan  # no ceilometer
    h["pressure_msl"] = h.pop("surface_pressure")
    h["pressure_msl"][:] = np.nan  # no barometer
    h["dew_point_2m"][:] = np.nan  # no constant stands in for moisture
    h["wind_speed_10m"][3] = np.nan  # a gap is fill_missing's
    filled, names = features.fill_unobserved(h)
    assert names == ["pressure_msl", "cloud_cover"]
    assert (filled["cloud_cover"] == features.UNOBSERVED_VALUES["cloud_cover"]).all()
    assert (filled["pressure_msl"] == 1013.25).all()
    assert np.isnan(filled["dew_point_2m"]).all()
    assert np.isnan(filled["wind_speed_10m"][3])
    assert features.fill_unobserved(hourly(30))[1] == []


def test_unobserved_values_are_the_training_means():
    """The constants read as a typical hour for the model that ships."""
    import json
    from pathlib import Path

    card = Path(__file__).resolve().parent.parent / "models" / "rain_int8.json"
    stats = json.loads(card.read_text())["feature_stats"]
    for name, feature in (
        ("cloud_cover", "cloud_cover"),
        ("wind_speed_10m", "wind_speed"),
    ):
        mean, std = stats[feature]["mean"], stats[feature]["std"]
        assert abs(features.UNOBSERVED_VALUES[name] - mean) < 0.1 * std, name


def test_runtime_refuses_a_variable_with_no_value_at_all():
    h = hourly(30)
    h["cloud_cover"][:] = np.nan
    with pytest.raises(features.FeatureError, match="cloud_cover"):
        features.latest_window(h)


def test_fill_missing_never_looks_ahead():
    # Whatever follows hour i, the filled value of hour i is the same.
    h = hourly(30)
    h["cloud_cover"][20:] = np.nan
    first = features.fill_missing(h)["cloud_cover"][:25].copy()
    h["cloud_cover"][25:] = 3.0
    assert np.array_equal(features.fill_missing(h)["cloud_cover"][:25], first)


def test_runtime_and_offline_features_agree_on_gappy_hours():
    """latest_window (runtime) fills as make_samples (offline) does."""
    from model_tools.samples import make_samples

    h = hourly(40)
    h["cloud_cover"][[30, 36, 37, 38, 39]] = np.nan
    h["dew_point_2m"][39] = np.nan
    h["relative_humidity_2m"][39] = np.nan
    window, end = features.latest_window({k: v[:34] for k, v in h.items()})
    runtime = features.features(window[None], np.array([end]), -80.0)
    offline = make_samples(h, -80.0, split=False)
    at = int(np.flatnonzero(offline.end_times == end)[0])
    assert np.array_equal(runtime[0], offline.x[at])
    assert not offline.sky_observed[at]  # hour 30 is within its last 6 hours
    # Every window is scored: a missing input never drops one.
    assert offline.counts["scored"] == offline.counts["eligible"]


def test_offline_windows_never_read_hours_after_their_end():
    """A window that ends before a variable's first report reads what a
    series without it reads, not the later report; one that holds the first
    report reads it as the runtime does."""
    from model_tools.samples import make_samples

    def samples(later: float, gap: str = "cloud_cover"):
        h = hourly(80)
        h[gap][:40] = np.nan
        h[gap][40:] = later
        return make_samples(h, -80.0, split=False)

    low, high = samples(10.0), samples(90.0)
    first_report = hourly(80)["time"][40]
    before = low.end_times < first_report
    assert before.sum() == 40 - 23
    np.testing.assert_array_equal(low.x[before], high.x[before])
    cloud = features.FEATURES.index("cloud_cover")
    assert (low.x[before, cloud] == features.UNOBSERVED_VALUES["cloud_cover"]).all()
    assert (low.x[~before, cloud] == 10.0).all()
    h = hourly(80)
    h["cloud_cover"][:40] = np.nan
    h["cloud_cover"][40:] = 10.0
    window, end = features.latest_window({k: v[:45] for k, v in h.items()})
    runtime = features.features(window[None], np.array([end]), -80.0)
    np.testing.assert_array_equal(runtime[0], low.x[low.end_times == end][0])
    # Temperature has no neutral value: windows before its first report are
    # not scored, and nothing later is read into them.
    warm = samples(25.0, "temperature_2m")
    assert warm.end_times.min() == first_report
    assert warm.counts["scored"] == warm.counts["eligible"] - (40 - 23)


def test_latest_window_still_needs_precipitation():
    h = hourly(24)
    h["precipitation"][23] = np.nan
    with pytest.raises(FeatureError) as caught:
        features.latest_window(h)
    assert caught.value.field == "precipitation"


def test_horizon_labels_are_cumulative_and_need_every_hour():
    h = hourly(40)
    h["precipitation"][30] = 0.5
    h["precipitation"][37] = np.nan
    ends = np.array([24, 26, 28, 29, 30, 31])
    labels, known = features.horizon_labels(h, ends)
    assert labels.shape == (6, len(features.HORIZONS))
    # End 24: rain 6 h later; 26: 4 h; 29: 1 h.
    assert labels[0].tolist() == [0, 0, 0, 0, 0, 1]
    assert labels[1].tolist() == [0, 0, 0, 1, 1, 1]
    assert labels[3].tolist() == [1, 1, 1, 1, 1, 1]
    assert labels[4].tolist() == [0] * 6  # rain in the window is not ahead
    assert known[:5].all() and not known[5]  # hour 37 missing: end 31 unknown
    assert np.all(np.diff(labels, axis=1) >= 0)


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
