"""Everything a measure's chart is drawn from, read from the views in one place so the measure
page, the public page and the JSON API draw the same chart: the data points (with their
exclusions and astronomical flags), the frozen baseline or the phases, the annotations, and the
Do-Study span of every PDSA cycle whose Plan links the measure."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from domain.initiative import CONCLUSIONS
from domain.measure import PROPORTION, RATE, period_name, period_short_name
from domain.spc import ChartResult
from projections import cycles, measure_data
from service.chart_svg import KIND_NAMES, Marker, chart_description, chart_svg
from service.services import Services


@dataclass(frozen=True)
class ChartInputs:
    points: list[Any]
    freeze: int | None = None  # a frozen baseline: the first `freeze` points
    parts: tuple[int, ...] = ()  # 0-based indices where a phase starts
    markers: list[Marker] = field(default_factory=list)
    marks: list[dict[str, Any]] = field(default_factory=list)  # for the JSON API


def settle(row: Any, points: list[Any], marks: list[Any], linked: list[Any],
           today: date) -> ChartInputs:
    """The stored settings turned into what the statistics and the picture take."""
    periods = [p["period"] for p in points]
    freeze = None
    if row["freeze_through"] is not None:
        freeze = bisect.bisect_right(periods, row["freeze_through"]) or None
    parts = sorted({bisect.bisect_left(periods, m["day"]) for m in marks
                    if m["kind"] == measure_data.PHASE} - {0, len(periods)})
    markers: list[Marker] = []
    described: list[dict[str, Any]] = []
    for m in marks:
        label = f"Phase: {m['label']}" if m["kind"] == measure_data.PHASE else m["label"]
        markers.append(Marker(m["day"], None, label))
        described.append({"kind": m["kind"], "start": m["day"], "end": None,
                          "label": m["label"]})
    for c in linked:
        if c["started_on"] is None:
            continue
        end = c["studied_on"] or (
            # A test never studied ends when its initiative was concluded, not today.
            c["updated_at"].date() if c["status"] in CONCLUSIONS else today)
        markers.append(Marker(c["started_on"], end, f"Cycle {c['number']} · {c['title']}"))
        described.append({"kind": "cycle", "start": c["started_on"], "end": end,
                          "label": f"Cycle {c['number']} of {c['title']}",
                          "initiative_id": str(c["initiative_id"]), "number": c["number"]})
    return ChartInputs(points, freeze, tuple(parts), markers, described)


async def chart_inputs(services: Services, row: Any) -> ChartInputs:
    measure_id = row["measure_id"]
    points = await services.read(measure_data.points, measure_id)
    marks = await services.read(measure_data.marks, measure_id)
    linked = await services.read(cycles.measure_cycles, measure_id)
    return settle(row, points, marks, linked, services.today())


VALUE_LABELS = {PROPORTION: "proportion", RATE: "rate", "count": "count"}


def picture(row: Any, result: ChartResult, markers: list[Marker]) -> str:
    """The chart as SVG, its periods named as the measure's frequency names them."""
    frequency = row["frequency"]
    label = "moving range" if result.kind == "mr" else VALUE_LABELS.get(row["unit"], "")
    return chart_svg(
        result, title=f"{row['name']}: {KIND_NAMES[result.kind]}",
        description=chart_description(result, row["name"],
                                      lambda x: period_name(x, frequency)),
        value_label=label, markers=markers,
        period_names=lambda x: period_name(x, frequency),
        axis_names=lambda x: period_short_name(x, frequency),
    )


def percent(value: float) -> str:
    """A proportion as people read it: 0.08889 → "8.9%"."""
    return f"{value * 100:.1f}".removesuffix(".0") + "%"


def wording(row: Any) -> dict[str, Any]:
    """How the sentences under a measure's chart name its periods and write its values."""
    frequency = row["frequency"]
    words: dict[str, Any] = {"period_names": lambda x: period_name(x, frequency)}
    if row["unit"] == PROPORTION:
        words["value_names"] = percent
    return words
