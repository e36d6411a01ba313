"""Numbers read from a request, pages of a list, and each place's latest
prediction in the same query as the place (no query per row)."""

from __future__ import annotations

from django.db.models import OuterRef, QuerySet, Subquery

from weatherapp.models import Place, Prediction

# A database id fits in 63 bits: 18 digits always do; more is no id of ours.
MAX_DIGITS = 18


def whole_number(raw: str, low: int = 0, high: int = 10**MAX_DIGITS - 1) -> int | None:
    """``raw`` as an int within [low, high], or None.

    Only ASCII digits count: ``str.isdigit()`` also accepts "²" and other
    Unicode digits that ``int()`` then refuses, and a number of thousands of
    digits makes ``int()`` raise too (found by an attack), so the length is
    bounded before converting.
    """
    if not raw or len(raw) > MAX_DIGITS or not (raw.isascii() and raw.isdigit()):
        return None
    number = int(raw)
    return number if low <= number <= high else None


def with_latest(places: QuerySet[Place]) -> QuerySet[Place]:
    """``places`` annotated with their cell's newest prediction:
    ``latest_probabilities`` and ``latest_provider`` (read together as
    ``place.latest_probability``, which follows the place's forecaster),
    ``latest_valid_at`` and ``latest_created_at`` (None before the first)."""
    newest = Prediction.objects.filter(cell=OuterRef("cell_id")).order_by("-valid_at")
    return places.annotate(
        latest_probabilities=Subquery(newest.values("probabilities")[:1]),
        latest_provider=Subquery(newest.values("provider")[:1]),
        latest_valid_at=Subquery(newest.values("valid_at")[:1]),
        latest_created_at=Subquery(newest.values("created_at")[:1]),
    )
