"""The staff page of live skill: our model beside Open-Meteo's forecast,
a reliability diagram and skill over time as server-drawn SVG, and input
drift per feature (alerting/verification.py computes; this draws)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from weatherapp.alerting.cycle import newest_hour
from weatherapp.alerting.verification import daily_skill, skill_report
from weatherapp.ops.runtime import rain_model

from .paging import whole_number

SIZE, PAD = 300, 40  # square plot area and margin, in SVG units
WIDE = 600
SERIES = (("model", "our model", "#1f5fbf"), ("open_meteo", "Open-Meteo", "#c2410c"))


@never_cache
@staff_member_required
def skill_page(request: HttpRequest) -> HttpResponse:
    days = whole_number(request.GET.get("days", "7"), 1, 90) or 7
    card = rain_model().card
    today = newest_hour().date()
    threshold = float(card["threshold"])
    report = skill_report(days, today, threshold, card)
    trend = daily_skill(max(days, 7), today, threshold)
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
        "first": first.isoformat(),
        "last": last.isoformat(),
    }
