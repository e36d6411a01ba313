"""The staff page of live skill: our model beside Open-Meteo's forecast,
a reliability diagram and skill over time as server-drawn SVG, and input
drift per feature (alerting/verification.py computes; this draws)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from weatherapp.alerting.verification import daily_skill, skill_report
from weatherapp.forecast.card import ModelError, read_card
from weatherapp.ops import metrics

from .paging import whole_number

SIZE, PAD = 300, 40  # square plot area and margin, in SVG units
WIDE = 600
SERIES = (("model", "our model", "#1f5fbf"), ("open_meteo", "Open-Meteo", "#c2410c"))


@never_cache
@staff_member_required
def skill_page(request: HttpRequest) -> HttpResponse:
    days = whole_number(request.GET.get("days", "7"), 1, 90) or 7
    try:
        card = model_card()
    except ModelError as exc:
        problem = {"problem": str(exc)}
        return render(request, "weatherapp/skill_unavailable.html", problem, status=503)
    report = skill_report(days, card)
    threshold = report["threshold"]
    trend = daily_skill(max(days, 7), threshold)
    context = {
        "report": report,
        "days": days,
        "threshold": threshold,
        "rows": _rows(report),
        "reliability": reliability_chart(report),
        "trend": trend_chart(trend),
        "drift": report["drift"],
    }
    return render(request, "weatherapp/skill.html", context)


def model_card() -> dict[str, Any]:
    """The model card whose skill is reported (the card only: no numpy
    here); ModelError when it is missing, unreadable or has no threshold."""
    card = read_card(settings.MODEL_PATH)
    try:
        float(card["threshold"])
    except (KeyError, TypeError, ValueError):
        raise ModelError("the model card has no numeric threshold") from None
    return card


def _rows(report: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    names = (
        ("verified", "verified predictions"),
        ("auc", "AUC"),
        ("brier", "Brier score"),
        ("bss", "Brier skill (vs. climatology)"),
        ("onset_auc", "onset AUC (last hour dry)"),
        ("onset_bss", "onset Brier skill"),
        ("alert_precision", "alert precision"),
        ("alert_recall", "alert recall"),
    )
    return [
        (label, report["model"][key], report["open_meteo"][key]) for key, label in names
    ]


def reliability_chart(report: dict[str, Any]) -> dict[str, Any]:
    """Observed rain rate against mean forecast probability, per tenth."""
    lines = []
    for key, label, colour in SERIES:
        points = [
            (PAD + row["mean_p"] * SIZE, PAD + (1 - row["observed"]) * SIZE)
            for row in report[key]["reliability"]
        ]
        lines.append(
            {
                "label": label,
                "colour": colour,
                "points": " ".join(f"{x:.1f},{y:.1f}" for x, y in points),
                "dots": points,
            }
        )
    ticks = [
        (PAD + t / 10 * SIZE, PAD + (1 - t / 10) * SIZE, f"{t / 10:.1f}")
        for t in range(0, 11, 2)
    ]
    return {
        "size": SIZE + 2 * PAD,
        "pad": PAD,
        "end": PAD + SIZE,
        "lines": lines,
        "ticks": ticks,
    }


def trend_chart(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Daily AUC of each forecaster (0.5 to 1 on the axis); days with too few
    cases leave a gap."""
    n = max(len(rows) - 1, 1)
    lines = []
    for key, label, colour in SERIES:
        segments: list[list[tuple[float, float]]] = [[]]
        for i, row in enumerate(rows):
            auc = row[key]["auc"]
            if auc is None:
                if segments[-1]:
                    segments.append([])
                continue
            x = PAD + i / n * WIDE
            y = PAD + (1 - (min(max(auc, 0.5), 1.0) - 0.5) / 0.5) * SIZE / 2
            segments[-1].append((x, y))
        lines.append(
            {
                "label": label,
                "colour": colour,
                "segments": [
                    " ".join(f"{x:.1f},{y:.1f}" for x, y in seg)
                    for seg in segments
                    if seg
                ],
            }
        )
    first = rows[0]["day"] if rows else dt.date.today()
    last = rows[-1]["day"] if rows else first
    return {
        "width": WIDE + 2 * PAD,
        "height": SIZE // 2 + 2 * PAD,
        "pad": PAD,
        "right": PAD + WIDE,
        "bottom": PAD + SIZE // 2,
        "middle": PAD + SIZE // 4,
        "lines": lines,
        "any": any(line["segments"] for line in lines),
        "first": first.isoformat(),
        "last": last.isoformat(),
    }


# /metrics: the last 7 days' skill of each forecaster, and input drift
# (NaN while there are too few verified cases to say). Four gauges read one
# report, made once per scrape; a missing or broken card raises ModelError,
# which /metrics answers with a 503.
@metrics.once_per_scrape
def _week() -> dict[str, Any]:
    return skill_report(7, model_card())


def _by_forecaster(name: str) -> dict[str, float]:
    report = _week()
    return {
        key: float("nan") if report[key][name] is None else float(report[key][name])
        for key in ("model", "open_meteo")
    }


@metrics.scrape_gauge(
    "weatheralert_skill_auc",
    "AUC of verified predictions at the alert horizon, last 7 days.",
    label="forecaster",
)
def _auc() -> dict[str, float]:
    return _by_forecaster("auc")


@metrics.scrape_gauge(
    "weatheralert_skill_brier_skill",
    "Brier skill score against the verified cases' rain rate, last 7 days.",
    label="forecaster",
)
def _bss() -> dict[str, float]:
    return _by_forecaster("bss")


@metrics.scrape_gauge(
    "weatheralert_skill_verified",
    "Verified predictions, last 7 days.",
    label="forecaster",
)
def _verified() -> dict[str, float]:
    return _by_forecaster("verified")


@metrics.scrape_gauge(
    "weatheralert_input_psi",
    "Population stability index of the newest day's inputs against training.",
    label="feature",
)
def _psi() -> dict[str, float]:
    return {name: row["psi"] for name, row in _week()["drift"].items()}
