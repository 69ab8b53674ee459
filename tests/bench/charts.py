"""Issue 3: a chart of 500 points renders in under 50 ms.

Each chart workload is what a measure's page request does once the database has answered: the
view's rows become observations, domain.spc computes the chart, and service.chart_svg draws the
SVG, its description and its table (the sentences name the weeks, as the page does). The data:
500 weekly points (almost ten years) with a change adopted in week 350, so the charts have signals
and their sentences are written too.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from domain.measure import WEEKLY, period_name
from domain.spc import Observation, control_chart, run_chart
from service.chart_svg import KIND_NAMES, chart_description, chart_svg, chart_table
from tests.bench import Workload

POINTS = 500
CHANGE_AT = 350  # the week a change was adopted
TARGET_MS = 50.0
WEEKS = [date(2016, 1, 4) + timedelta(weeks=k) for k in range(POINTS)]

Row = dict[str, Any]


def weekly_rows(data: str, seed: int = POINTS) -> list[Row]:
    """Rows as the measure-data view gives them, for continuous values, proportions, rates or
    counts; the change in week 350 moves every one of them."""
    draw = random.Random(f"{data}-{seed}")
    rows = []
    for k, week in enumerate(WEEKS):
        after = k >= CHANGE_AT
        numerator = denominator = None
        if data == "proportions":  # e.g. visits where the child was seen alone
            denominator = draw.randint(20, 60)
            numerator = sum(draw.random() < (0.8 if after else 0.7) for _ in range(denominator))
            value = numerator / denominator
        elif data == "rates":  # e.g. placement moves per 100 children in care
            denominator = draw.randint(150, 250)
            numerator = sum(draw.random() < (0.04 if after else 0.06) for _ in range(denominator))
            value = numerator / denominator * 100
        elif data == "counts":  # e.g. reports not screened within 24 hours
            value = draw.randint(0, 8) + (0 if after else 4)
        else:  # e.g. days from report to first visit
            value = round(draw.gauss(4.5 if after else 6.0, 1.0), 2)
        rows.append({"period": week, "value": value, "numerator": numerator,
                     "denominator": denominator})
    return rows


def observations(rows: list[Row], kind: str) -> list[Observation]:
    if kind in ("p", "u"):
        return [Observation(r["period"], numerator=r["numerator"], denominator=r["denominator"])
                for r in rows]
    return [Observation(r["period"], float(r["value"])) for r in rows]


def page_request(
    rows: list[Row], kind: str, *, rules: str = "anhoej", freeze: int | None = None,
    parts: tuple[int, ...] = (), value_label: str = "",
) -> Callable[[], object]:
    def named(period: date) -> str:
        return period_name(period, WEEKLY)

    def run() -> object:
        points = observations(rows, kind)
        options = {"rules": rules, "freeze": freeze, "parts": parts, "period_names": named}
        if kind == "run":
            result = run_chart(points, **options)
        else:
            result = control_chart(points, kind, **options)
        title = f"Measure: {KIND_NAMES[result.kind]}"
        svg = chart_svg(result, title=title, description=chart_description(result, "measure"),
                        value_label=value_label)
        return svg, chart_table(result), result.sentences

    return run


def floor(rows: list[Row]) -> Callable[[], object]:
    """The least a chart of these points costs: their median and a bare polyline of them."""

    def run() -> object:
        values = [r["value"] for r in rows]
        centre = statistics.median(values)
        low, high = min(values), max(values)
        scale = 280 / ((high - low) or 1)
        step = 740 / len(values)
        line = " ".join(
            f"{10 + k * step:.2f},{300 - (v - low) * scale:.2f}" for k, v in enumerate(values)
        )
        return centre, f'<svg viewBox="0 0 760 320"><polyline points="{line}"/></svg>'

    return run


def workloads() -> list[Workload]:
    values, proportions = weekly_rows("values"), weekly_rows("proportions")
    rates, counts = weekly_rows("rates"), weekly_rows("counts")
    thirds = (POINTS // 3, 2 * POINTS // 3)

    def chart(name: str, rows: list[Row], data: str, kind: str, **options: Any) -> Workload:
        return Workload(f"{name} ({POINTS} weekly)", page_request(rows, kind, **options),
                        target_ms=TARGET_MS, floor=f"floor: {data}")

    return [
        Workload("floor: values", floor(values)),
        Workload("floor: proportions", floor(proportions)),
        Workload("floor: rates", floor(rates)),
        Workload("floor: counts", floor(counts)),
        chart("run chart, Anhøj rules", values, "values", "run"),
        chart("run chart, IHI rules", values, "values", "run", rules="ihi"),
        chart("I chart", values, "values", "i"),
        chart("I chart, baseline frozen at 100", values, "values", "i", freeze=100),
        chart("I chart, 3 parts", values, "values", "i", parts=thirds),
        chart("MR chart", values, "values", "mr", value_label="moving range"),
        chart("p chart", proportions, "proportions", "p", value_label="proportion"),
        chart("u chart", rates, "rates", "u", value_label="rate"),
        chart("c chart", counts, "counts", "c", value_label="count"),
    ]
