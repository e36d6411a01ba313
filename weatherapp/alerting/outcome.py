"""What one delivery attempt came to: shared by the channels and the
bookkeeping in delivery.py."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    outcome: str  # a Delivery.Outcome
    detail: str
    retry: bool = False  # worth another attempt later
