"""Each stored prediction checked against what then fell, inside the cycle.

A cell's fetch brings its past hours; those that follow an earlier prediction
of the cell tell whether and when rain came. A prediction is verified once,
when every hour up to its first wet one (or all six) is known: a late or
missing hour leaves it unverified, not wrong. Verifying is a conditional
update (``rain_hour IS NULL``) in the same transaction as the counts it adds
to, so a retried or duplicated chunk never counts a case twice. The cell's
alerts for that hour learn whether rain came within the horizon and when.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.db import transaction

from weatherapp.forecast.variables import HORIZON_HOURS, HORIZONS
from weatherapp.models import Alert, FeatureCount, Prediction, SkillCount, within

from .skill import Counts, first_rain_hour

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

log = logging.getLogger(__name__)

HOUR = dt.timedelta(hours=1)
# Windows a day's input counts need before their PSI may flag drift.
MIN_DRIFT_WINDOWS = 1000


def verify_cells(cell_hours: Mapping[int, Mapping[str, npt.NDArray[Any]]]) -> int:
    """Verify the cells' unverified predictions that their fetched hours now
    answer (rows older than those hours stay unverified, and are pruned);
    returns how many were verified."""
    import numpy as np

    if not cell_hours:
        return 0
    # The hours fetched say what followed the predictions made within them.
    spans = [h["time"] for h in cell_hours.values() if len(h["time"])]
    if not spans:
        return 0
    first = min(int(t[0].astype("datetime64[s]").astype("int64")) for t in spans)
    last = max(int(t[-1].astype("datetime64[s]").astype("int64")) for t in spans)
    rows = list(
        Prediction.objects.filter(
            cell_id__in=list(cell_hours),
            rain_hour__isnull=True,
            valid_at__gte=dt.datetime.fromtimestamp(first, tz=dt.UTC),
            valid_at__lt=dt.datetime.fromtimestamp(last, tz=dt.UTC),
        )
    )
    answers: list[tuple[Prediction, int]] = []
    for row in rows:
        hours = cell_hours[row.cell_id]
        after: list[float] = []
        start = np.datetime64(int(row.valid_at.timestamp()), "s")
        times = hours["time"].astype("datetime64[s]")
        for k in HORIZONS:
            at = np.flatnonzero(times == start + np.timedelta64(3600 * k, "s"))
            after.append(float(hours["precipitation"][at[0]]) if len(at) else np.nan)
        first_wet = first_rain_hour(after, hours=len(HORIZONS))
        if first_wet is not None:
            answers.append((row, first_wet))
    if not answers:
        return 0
    found = {(row.cell_id, row.valid_at): k for row, k in answers}
    with transaction.atomic():
        # Claim the rows still unverified: a duplicated task waits on these
        # locks and then finds them verified (PostgreSQL re-checks the
        # filter on rows another transaction changed), so counts once.
        counted = list(
            Prediction.objects.select_for_update()
            .filter(pk__in=list(found), rain_hour__isnull=True)
            .order_by("cell_id", "valid_at")
        )
        by_hour: dict[int, list[tuple[int, dt.datetime]]] = defaultdict(list)
        for row in counted:
            row.rain_hour = found[row.cell_id, row.valid_at]
            by_hour[row.rain_hour].append((row.cell_id, row.valid_at))
        for k, keys in by_hour.items():  # at most one update per hour 0...6
            Prediction.objects.filter(pk__in=keys).update(rain_hour=k)
        add_to_skill(counted)
        settle_alerts(counted)
    return len(counted)


def settle_alerts(rows: list[Prediction]) -> None:
    """The verified rows' alerts learn whether rain came within the horizon
    and when it began (one query to find them; few rows have alerts)."""
    if not rows:
        return
    outcome = {(r.cell_id, r.valid_at): r.rain_hour or 0 for r in rows}
    alerts = Alert.objects.filter(
        verified=False,
        event_started_at__in={r.valid_at for r in rows},
        place__cell_id__in={r.cell_id for r in rows},
    ).select_related("place")
    for alert in alerts:
        k = outcome.get((alert.place.cell_id, alert.event_started_at))
        if k is None:
            continue
        rained = 0 < k <= HORIZON_HOURS
        began = alert.event_started_at + (k - 1) * HOUR if rained else None
        Alert.objects.filter(pk=alert.pk).update(verified=True, rain_began_at=began)


def add_to_skill(rows: list[Prediction]) -> None:
    """Add verified rows to the day's SkillCount rows (locked while added)."""
    groups: dict[tuple[dt.date, int, str, bool], Counts] = defaultdict(Counts)
    for row in rows:
        rained = 0 < (row.rain_hour or 0) <= HORIZON_HOURS
        day = row.valid_at.date()
        groups[day, row.model_id, SkillCount.Forecaster.MODEL, row.raining].add(
            within(row.probabilities, HORIZON_HOURS), rained
        )
        if row.provider:
            key = (day, row.model_id, SkillCount.Forecaster.OPEN_METEO, row.raining)
            groups[key].add(within(row.provider, HORIZON_HOURS), rained)
    for (day, model_id, forecaster, raining), counts in sorted(groups.items()):
        SkillCount.objects.get_or_create(
            day=day,
            model_id=model_id,
            forecaster=forecaster,
            raining=raining,
            defaults={"rain": [0] * len(counts.rain), "dry": [0] * len(counts.dry)},
        )
        stored = SkillCount.objects.select_for_update().get(
            day=day, model_id=model_id, forecaster=forecaster, raining=raining
        )
        total = Counts(
            list(stored.rain) or [0] * len(counts.rain),
            list(stored.dry) or [0] * len(counts.dry),
            stored.sum_p_rain,
            stored.sum_p_dry,
            stored.sum_p2,
        )
        total.merge(counts)
        stored.rain, stored.dry = total.rain, total.dry
        stored.sum_p_rain, stored.sum_p_dry = total.sum_p_rain, total.sum_p_dry
        stored.sum_p2 = total.sum_p2
        stored.save()


def count_features(
    names: list[str],
    raw: npt.NDArray[np.float32],
    stats: Mapping[str, Any],
    day: dt.date,
) -> None:
    """Add a chunk's raw feature rows to the day's FeatureCount rows, in the
    bins of the card's training statistics (``feature_stats``): a few
    queries a chunk, the rows locked while they are added to."""
    import numpy as np

    from weatherapp.ai.scores import bin_counts

    binned = {n: stats[n]["edges"] for n in names if stats.get(n, {}).get("edges")}
    if not binned:
        return
    with transaction.atomic():
        FeatureCount.objects.bulk_create(
            [
                FeatureCount(day=day, feature=n, counts=[0] * (len(e) + 1))
                for n, e in binned.items()
            ],
            ignore_conflicts=True,
        )
        rows = list(
            FeatureCount.objects.select_for_update().filter(
                day=day, feature__in=list(binned)
            )
        )
        for row in rows:
            edges = binned[row.feature]
            column = raw[:, names.index(row.feature)].astype(np.float64)
            # The card's own binning (ai.scores.bin_counts: a value on an
            # edge goes left), the one psi_from_counts reads back.
            counts = bin_counts(column, edges)
            old = list(row.counts) or [0] * len(counts)
            row.counts = [int(a + b) for a, b in zip(old, counts, strict=True)]
            row.total += len(column)
            row.sum += float(column.sum())
            row.sum_squares += float((column * column).sum())
        FeatureCount.objects.bulk_update(
            rows, ["counts", "total", "sum", "sum_squares"]
        )


def newest_day(model: type[SkillCount] | type[FeatureCount]) -> dt.date:
    """The newest day counted (days are the predictions' own: a replay keeps
    its own calendar), or today when nothing is counted yet."""
    from django.db.models import Max
    from django.utils import timezone

    newest: dt.date | None = model.objects.aggregate(newest=Max("day"))["newest"]
    return newest or timezone.now().date()


def skill_report(
    days: int,
    card: Mapping[str, Any],
    threshold: float | None = None,
    drift_days: int = 1,
) -> dict[str, Any]:
    """Rolling skill over the last ``days`` counted, for the card's model
    version (else the newest with verified cases), ours and Open-Meteo's side
    by side (onset: cases where the last hour was dry), with input drift over
    the newest day of input counts. Alert precision and recall are taken at
    ``threshold`` (default: the card's)."""
    from .skill import PSI_LIMIT, scores

    threshold = float(card["threshold"]) if threshold is None else threshold
    today = newest_day(SkillCount)
    since = today - dt.timedelta(days=days - 1)
    rows = list(
        SkillCount.objects.filter(day__gte=since, day__lte=today).select_related(
            "model"
        )
    )
    versions = sorted({r.model.name for r in rows}, reverse=True)
    version = card.get("version") if card.get("version") in versions else None
    version = version or (versions[0] if versions else None)
    report: dict[str, Any] = {
        "days": days,
        "until": today.isoformat(),
        "model_version": version,
        "threshold": threshold,
    }
    for forecaster, key in (
        (SkillCount.Forecaster.MODEL, "model"),
        (SkillCount.Forecaster.OPEN_METEO, "open_meteo"),
    ):
        every, onset = Counts(), Counts()
        for r in rows:
            if r.forecaster != forecaster or r.model.name != version:
                continue
            counts = Counts(
                list(r.rain), list(r.dry), r.sum_p_rain, r.sum_p_dry, r.sum_p2
            )
            every.merge(counts)
            if not r.raining:
                onset.merge(counts)
        block = scores(every, threshold)
        onset_scores = scores(onset, threshold)
        block["onset_auc"] = onset_scores["auc"]
        block["onset_bss"] = onset_scores["bss"]
        block["onset_verified"] = onset_scores["verified"]
        report[key] = block
    report["drift"] = drift_report(card, drift_days)
    report["drift_days"] = drift_days
    report["psi_limit"] = PSI_LIMIT
    report["min_drift_windows"] = MIN_DRIFT_WINDOWS
    return report


def drift_report(card: Mapping[str, Any], days: int = 1) -> dict[str, Any]:
    """Per feature: PSI of the inputs of the last ``days`` counted against
    the card's training bins, live and training mean and spread. Flagged only
    past PSI_LIMIT *and* with MIN_DRIFT_WINDOWS windows: a day at a few
    places is weather, not climate, and its PSI is large by chance."""
    from weatherapp.ai.scores import psi_from_counts

    from .skill import PSI_LIMIT

    stats = card.get("feature_stats") or {}
    newest = newest_day(FeatureCount)
    totals: dict[str, FeatureCount] = {}
    since = newest - dt.timedelta(days=days - 1)
    for row in FeatureCount.objects.filter(day__gte=since, day__lte=newest):
        if row.feature in totals:
            into = totals[row.feature]
            into.counts = [a + b for a, b in zip(into.counts, row.counts, strict=True)]
            into.total += row.total
            into.sum += row.sum
            into.sum_squares += row.sum_squares
        else:
            totals[row.feature] = row
    drift = {}
    for name, row in totals.items():
        expected = stats.get(name, {}).get("shares")
        if not expected or len(expected) != len(row.counts):
            continue
        value = psi_from_counts(expected, row.counts)
        mean = row.sum / row.total if row.total else None
        std = None
        if row.total and mean is not None:
            std = max(row.sum_squares / row.total - mean * mean, 0.0) ** 0.5
        drift[name] = {
            "psi": round(value, 4),
            "drifted": value > PSI_LIMIT and row.total >= MIN_DRIFT_WINDOWS,
            "live_mean": None if mean is None else round(mean, 4),
            "live_std": None if std is None else round(std, 4),
            "train_mean": stats[name].get("mean"),
            "train_std": stats[name].get("std"),
            "windows": row.total,
        }
    return dict(sorted(drift.items()))


def daily_skill(days: int, threshold: float) -> list[dict[str, Any]]:
    """Per day up to the newest counted (oldest first): each forecaster's AUC
    and Brier skill from that day's verified cases (None with too few)."""
    from .skill import scores

    today = newest_day(SkillCount)
    since = today - dt.timedelta(days=days - 1)
    per_day: dict[dt.date, dict[str, Counts]] = defaultdict(
        lambda: {"model": Counts(), "open_meteo": Counts()}
    )
    for r in SkillCount.objects.filter(day__gte=since, day__lte=today):
        per_day[r.day][r.forecaster].merge(
            Counts(list(r.rain), list(r.dry), r.sum_p_rain, r.sum_p_dry, r.sum_p2)
        )
    rows = []
    for offset in range(days):
        day = since + dt.timedelta(days=offset)
        row: dict[str, Any] = {"day": day}
        for key in ("model", "open_meteo"):
            counts = per_day.get(day, {}).get(key, Counts())
            result = scores(counts, threshold)
            row[key] = {"auc": result["auc"], "bss": result["bss"]}
        rows.append(row)
    return rows


def warn_drift(card: Mapping[str, Any]) -> list[str]:
    """Log a warning for each feature whose newest day of inputs is past the
    PSI limit (beat runs this hourly, with the pruning); their names."""
    report = skill_report(1, card)
    drifted = [name for name, row in report["drift"].items() if row["drifted"]]
    for name in drifted:
        row = report["drift"][name]
        log.warning(
            "input drift: %s PSI %.2f > %.2f (live mean %s, training %s)",
            name,
            row["psi"],
            report["psi_limit"],
            row["live_mean"],
            row["train_mean"],
        )
    return drifted
