"""A chart of 500 points of every kind is computed in one call (timings belong to the benchmark)."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from domain.spc import Observation, control_chart, run_chart

WEEKS = [date(2016, 1, 4) + timedelta(weeks=k) for k in range(500)]


def five_hundred_points(kind: str) -> list[Observation]:
    draw = random.Random(500)
    points = []
    for k, week in enumerate(WEEKS):
        shifted = k >= 350  # a change adopted in week 350
        if kind in ("p", "u"):
            denominator = draw.randint(20, 60)
            rate = 0.3 if shifted else 0.4
            numerator = sum(draw.random() < rate for _ in range(denominator))
            points.append(Observation(week, numerator=numerator, denominator=denominator))
        elif kind == "c":
            points.append(Observation(week, float(draw.randint(0, 12) + (0 if shifted else 4))))
        else:
            points.append(Observation(week, draw.gauss(50 if shifted else 55, 5)))
    return points


@pytest.mark.parametrize("rules", ["anhoej", "ihi"])
@pytest.mark.parametrize("kind", ["run", "i", "mr", "p", "u", "c"])
def test_a_500_point_chart_of_every_kind_is_computed_with_a_baseline_and_with_parts(
    kind: str, rules: str
) -> None:
    points = five_hundred_points(kind)
    chart = run_chart if kind == "run" else None
    frozen = (
        chart(points, rules=rules, freeze=100)
        if chart
        else control_chart(points, kind, rules=rules, freeze=100)
    )
    split = (
        chart(points, rules=rules, parts=[350])
        if chart
        else control_chart(points, kind, rules=rules, parts=[350])
    )
    assert len(frozen.points) == len(split.points) == 500
    assert [part.first for part in split.parts] == [0, 350]
    assert all(point.centre is not None for point in split.points)
