"""What a linked measure's data said while a cycle's change was tested: the points from the
period in which the test began to the day it was studied (or today, while it is still running),
beside the points just before it — so Study can set the data next to the prediction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from statistics import median
from typing import Any

from domain.measure import period_start

BEFORE = 6
"""How many points before the test make its 'before' reference."""


@dataclass(frozen=True)
class CycleWindow:
    first: date  # the first period of the test
    last: date  # the study day, or today while the cycle is not yet studied
    during: list[Any]  # the measure's points in the test's periods
    before: list[Any]  # up to BEFORE points just before
    before_median: float | None
    during_median: float | None


def cycle_window(points: list[Any], frequency: str, started_on: date | None,
                 studied_on: date | None, today: date) -> CycleWindow | None:
    """The points (rows with `period` and `value`, oldest first) around a cycle's test; None
    while the test has not begun (no Do) or began before any day was recorded."""
    if started_on is None:
        return None
    first = period_start(started_on, frequency)
    last = studied_on or today
    during = [p for p in points if first <= p["period"] <= last]
    before = [p for p in points if p["period"] < first and not _excluded(p)][-BEFORE:]
    counted = [p for p in during if not _excluded(p)]
    return CycleWindow(
        first=first, last=last, during=during, before=before,
        before_median=median(float(p["value"]) for p in before) if before else None,
        during_median=median(float(p["value"]) for p in counted) if counted else None,
    )


def _excluded(point: Any) -> bool:
    """A point the team left out of the chart's calculations stays out of these medians."""
    return point.get("excluded") is not None
