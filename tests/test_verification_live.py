"""Issue 11: stored predictions verified against what then fell (replay and
loopback Open-Meteo), skill from the counts, no double counting."""

import datetime as dt
import json

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError

from support import DATASET
from weatherapp.ai.scores import psi_from_counts
from weatherapp.alerting import cycle as the_cycle
from weatherapp.alerting.skill import Counts, first_rain_hour, scores
from weatherapp.forecast.sources import ReplaySource, rain_chances
from weatherapp.models import Alert, Place, Prediction, SkillCount

pytestmark = pytest.mark.django_db
HOUR = np.timedelta64(3600, "s")


class SteppedReplay(ReplaySource):
    """The replay on a clock the test moves, one hour per step."""

    clock = 0.0

    def position(self, now=None):
        return super().position(self.clock)


@pytest.fixture
def replay():
    source = SteppedReplay(DATASET, speed=1.0, anchor=0.0, start="")
    source.start = 4000  # late enough for a window, in one lap
    the_cycle._source = source
    yield source
    the_cycle._source = None


@pytest.fixture
def places():
    owner = User.objects.create_user("v", "v@example.com", "pw")
    for i, (lat, lon) in enumerate([(36.1, -79.9), (35.2, -80.8)]):
        Place.objects.create(owner=owner, name=f"p{i}", latitude=lat, longitude=lon)


def run_hours(source, hours: int, twice: bool = False) -> None:
    for _ in range(hours):
        for chunk in the_cycle.cycle_chunks():
            the_cycle.predict_cells(chunk)
            if twice:  # a duplicated or retried task
                the_cycle.predict_cells(chunk)
        source.clock += 3600


def expected_rain_hour(source, valid_at) -> int | None:
    times = source.hours["time"]
    i = int(np.flatnonzero(times == np.datetime64(valid_at.replace(tzinfo=None)))[0])
    after = [float(v) for v in source.hours["precipitation"][i + 1 : i + 7]]
    return first_rain_hour(after)


def test_verification_matches_the_observations(replay, places):
    run_hours(replay, 30)
    rows = list(Prediction.objects.order_by("valid_at"))
    assert len(rows) == 60  # 2 cells x 30 hours
    newest = rows[-1].valid_at
    verified = [r for r in rows if r.rain_hour is not None]
    # Every row whose six hours have been fetched since is verified ...
    assert {r.valid_at for r in verified} >= {
        r.valid_at for r in rows if (newest - r.valid_at).total_seconds() >= 6 * 3600
    }
    # ... and says exactly what the recorded hours say.
    for row in verified:
        assert row.rain_hour == expected_rain_hour(replay, row.valid_at), row
    # The newest rows wait for their hours: unverified, not guessed dry.
    assert all(r.rain_hour is None or r.rain_hour > 0 for r in rows[-2:])


def test_no_double_counting_under_duplicated_tasks(replay, places):
    run_hours(replay, 20, twice=True)
    verified = Prediction.objects.filter(rain_hour__isnull=False).count()
    counted = sum(
        sum(r.rain) + sum(r.dry)
        for r in SkillCount.objects.filter(forecaster=SkillCount.Forecaster.MODEL)
    )
    assert verified > 0 and counted == verified
    # The replay makes no forecast of its own: no Open-Meteo counts.
    assert not SkillCount.objects.filter(forecaster="open_meteo").exists()


def test_a_model_that_always_says_half_has_auc_one_half():
    counts = Counts()
    rng = np.random.default_rng(0)
    for rained in rng.random(500) < 0.3:
        counts.add(0.5, bool(rained))
    result = scores(counts, threshold=0.5)
    assert result["auc"] == 0.5
    assert result["alert_precision"] == result["rain_rate"]
    assert result["alert_recall"] == 1.0


def test_a_perfect_forecaster_and_brier():
    counts = Counts()
    for _ in range(60):
        counts.add(0.9, True)
        counts.add(0.1, False)
    result = scores(counts, threshold=0.5)
    assert result["auc"] == 1.0
    assert result["brier"] == pytest.approx(0.01)
    assert result["bss"] == pytest.approx(1 - 0.01 / 0.25)


def test_too_few_cases_say_so():
    counts = Counts()
    counts.add(0.9, True)
    result = scores(counts, threshold=0.5)
    assert result["enough"] is False and result["auc"] is None


def test_first_rain_hour_never_guesses():
    assert first_rain_hour([0.0, 0.3, float("nan")]) == 2
    assert first_rain_hour([0.0, float("nan"), 1.0]) is None
    assert first_rain_hour([0.0] * 6) == 0
    assert first_rain_hour([0.0] * 5) is None


def test_provider_chances_are_the_running_maximum():
    assert rain_chances([0.1, 0.4, 0.2, 0.5]) == (0.1, 0.4, 0.4, 0.5)


def test_psi_is_zero_for_the_same_distribution_and_grows_with_shift():
    shares = [0.1] * 10
    assert psi_from_counts(shares, [100] * 10) == pytest.approx(0.0)
    assert psi_from_counts(shares, [500, 500] + [0] * 8) > 0.25


def test_open_meteo_is_verified_on_the_same_hours(open_meteo, places):
    open_meteo.default = "rainy"
    for _ in range(10):
        for chunk in the_cycle.cycle_chunks():
            the_cycle.predict_cells(chunk)
        open_meteo.end += HOUR
    ours = SkillCount.objects.filter(forecaster="model")
    theirs = SkillCount.objects.filter(forecaster="open_meteo")
    n_ours = sum(sum(r.rain) + sum(r.dry) for r in ours)
    n_theirs = sum(sum(r.rain) + sum(r.dry) for r in theirs)
    assert n_ours > 0 and n_ours == n_theirs
    # Same days and onset split, case for case.
    assert sorted((r.day, r.raining, sum(r.rain)) for r in ours) == sorted(
        (r.day, r.raining, sum(r.rain)) for r in theirs
    )
    stored = Prediction.objects.exclude(provider=None).first()
    assert len(stored.provider) == 6


def test_model_skill_prints_json_last(replay, places, capsys):
    run_hours(replay, 12)
    call_command("model_skill", "--json", "--days", "30")
    last = capsys.readouterr().out.strip().splitlines()[-1]
    report = json.loads(last)
    for key in ("model", "open_meteo"):
        for name in ("auc", "brier", "bss", "onset_auc", "alert_precision"):
            assert name in report[key]
        assert "alert_recall" in report[key] and "verified" in report[key]
    assert report["model"]["verified"] > 0
    assert isinstance(report["drift"], dict)


@pytest.mark.parametrize("days", ["0", "91", "x", "-1", "1.5"])
def test_model_skill_refuses_bad_days(days):
    with pytest.raises(CommandError, match="days"):
        call_command("model_skill", "--days", days)


def test_the_staff_page_shows_both_forecasters_side_by_side(client, replay, places):
    run_hours(replay, 12)
    staff = User.objects.create_user("op", "op@example.com", "pw", is_staff=True)
    client.force_login(staff)
    page = client.get("/staff/skill/?days=30").content.decode()
    assert '<svg id="reliability"' in page and '<svg id="trend"' in page
    assert "our model" in page and "Open-Meteo" in page
    assert "verified predictions" in page


@pytest.mark.parametrize("days", ["x", "0", "99999999999999999999", "²"])
def test_the_staff_page_takes_any_days(client, days):
    staff = User.objects.create_user("op", "op@example.com", "pw", is_staff=True)
    client.force_login(staff)
    assert client.get("/staff/skill/", {"days": days}).status_code == 200


def test_the_staff_page_is_for_staff_only(client):
    assert client.get("/staff/skill/").status_code == 302
    client.force_login(User.objects.create_user("u", "u@example.com", "pw"))
    response = client.get("/staff/skill/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_end_to_end_forecasts_then_the_hours_that_came(open_meteo, places):
    """The loopback Open-Meteo serves forecasts and, hours later, the same
    hours as past ones: every verified prediction says what was recorded, and
    the provider's stored chances are the ones it served for those hours."""
    open_meteo.follow = True
    open_meteo.default = "rainy"
    open_meteo.end -= 12 * HOUR
    served = {}
    for _ in range(12):
        for chunk in the_cycle.cycle_chunks():
            the_cycle.predict_cells(chunk)
        open_meteo.end += HOUR
    rows = list(Prediction.objects.order_by("valid_at"))
    assert len(rows) == 24
    verified = [r for r in rows if r.rain_hour is not None]
    assert len(verified) >= 12
    for row in verified:
        at = np.datetime64(row.valid_at.replace(tzinfo=None), "s")
        assert row.rain_hour == first_rain_hour(open_meteo.recorded("rainy", at))
        rain = [v >= 0.1 for v in open_meteo.recorded("rainy", at)]
        served[row.valid_at] = rain_chances([0.8 if r else 0.1 for r in rain])
        assert row.provider == pytest.approx(served[row.valid_at], abs=1e-4)
    ours = sum(
        sum(r.rain) + sum(r.dry) for r in SkillCount.objects.filter(forecaster="model")
    )
    assert ours == len(verified)


def test_an_alert_learns_whether_rain_came(open_meteo, places, client):
    Place.objects.update(threshold=0.01)  # alerts whatever the model
    open_meteo.follow = True
    open_meteo.default = "rainy"
    open_meteo.end -= 12 * HOUR
    for _ in range(12):
        for chunk in the_cycle.cycle_chunks():
            the_cycle.predict_cells(chunk)
        open_meteo.end += HOUR
    alerts = list(Alert.objects.filter(verified=True))
    assert alerts
    for alert in alerts:
        row = Prediction.objects.get(
            cell=alert.place.cell, valid_at=alert.event_started_at
        )
        if 0 < row.rain_hour <= 3:
            began = alert.event_started_at + dt.timedelta(hours=row.rain_hour - 1)
            assert alert.rain_began_at == began
        else:
            assert alert.rain_began_at is None
    client.force_login(alerts[0].place.owner)
    page = client.get("/alerts/").content.decode()
    assert "rain began" in page or "no rain within 3 h" in page


def test_metrics_carry_skill_and_weather_usage(client, replay, places):
    run_hours(replay, 12)
    client.force_login(
        User.objects.create_user("op", "o@example.com", "pw", is_staff=True)
    )
    text = client.get("/metrics").content.decode()
    verified = [
        line
        for line in text.splitlines()
        if line.startswith('weatheralert_skill_verified{forecaster="model"}')
    ]
    (line,) = verified
    assert float(line.split()[-1]) == sum(
        sum(r.rain) + sum(r.dry) for r in SkillCount.objects.filter(forecaster="model")
    )
    assert 'weatheralert_skill_auc{forecaster="open_meteo"} NaN' in text
    assert "weatheralert_weather_call_budget 10000" in text


def test_drift_is_flagged_and_logged(caplog):
    from weatherapp.alerting.verification import warn_drift
    from weatherapp.models import FeatureCount

    day = dt.date(2026, 11, 28)
    FeatureCount.objects.create(
        day=day,
        feature="cloud_cover",
        counts=[0] * 9 + [1000],
        total=1000,
        sum=95000.0,
        sum_squares=9025000.0,
    )
    FeatureCount.objects.create(
        day=day,
        feature="wind_speed",
        counts=[100] * 10,
        total=1000,
        sum=3000.0,
        sum_squares=10000.0,
    )
    stats = {"edges": list(range(9)), "shares": [0.1] * 10, "mean": 1.0, "std": 1.0}
    card = {
        "threshold": 0.5,
        "feature_stats": {"cloud_cover": stats, "wind_speed": stats},
    }
    assert warn_drift(card) == ["cloud_cover"]
    assert "input drift: cloud_cover PSI" in caplog.text


def test_the_drift_report_uses_the_psi_the_toolchain_tests(monkeypatch):
    """One PSI: the live report computes it with ai.scores.psi_from_counts
    (what ai.scores.psi and tests/test_scores.py use), not a copy."""
    from weatherapp.ai import scores as ai_scores
    from weatherapp.alerting import skill
    from weatherapp.alerting.verification import drift_report
    from weatherapp.models import FeatureCount

    assert not hasattr(skill, "psi_from_counts")
    FeatureCount.objects.create(
        day=dt.date(2026, 11, 28), feature="cloud_cover", counts=[100] * 10, total=1000
    )
    stats = {"edges": list(range(9)), "shares": [0.1] * 10}
    card = {"threshold": 0.5, "feature_stats": {"cloud_cover": stats}}
    seen = []

    def spy(expected, counts):
        seen.append(list(counts))
        return 0.123

    monkeypatch.setattr(ai_scores, "psi_from_counts", spy)
    assert drift_report(card)["cloud_cover"]["psi"] == 0.123
    assert seen == [[100] * 10]
