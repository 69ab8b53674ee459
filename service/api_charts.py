"""A measure's run or control chart: its numbers as JSON and its picture as SVG.

    GET /api/v1/measures/{id}/chart?kind=run|i|mr|p|u|c&rules=anhoej|ihi&freeze=K&parts=3,9
    GET /measures/{id}/chart.svg (same parameters)

Viewers and every role above read both. The points are the measure's current data (each as last
corrected), read from the measure_data view; the statistics are `domain.spc`'s. A p chart needs a
proportion, a u chart a rate, a c chart a count; run, I and MR charts take any unit.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date
from typing import Annotated, Any

from litestar import Controller, Response, get
from litestar.params import FromPath, QueryParameter
from msgspec import Struct

from domain.errors import ValidationError
from domain.measure import COUNT, PROPORTION, RATE, UNIT_NAMES
from domain.spc import CONTROL_KINDS, RULE_SETS, RUN, ChartResult, Observation, control_chart
from projections import measure_data
from service.api import page_errors
from service.api_chart_settings import ChartSettingsController
from service.api_measures import errors, measure_row
from service.auth import requires
from service.chart_svg import KIND_NAMES
from service.measure_charts import ChartInputs, chart_inputs, picture, wording
from service.paging import plain_digits
from service.schemas import MaybeNumber, Number
from service.services import Services, Svc

KINDS = (RUN, *CONTROL_KINDS)
UNIT_FOR_KIND = {"p": PROPORTION, "u": RATE, "c": COUNT}


class ChartPointOut(Struct):
    index: int
    period: date
    value: MaybeNumber
    numerator: MaybeNumber
    denominator: MaybeNumber
    centre: MaybeNumber
    lower: MaybeNumber
    upper: MaybeNumber
    part: int
    in_baseline: bool
    excluded: bool
    signals: list[str]


class SignalOut(Struct):
    kind: str
    rule: str
    part: int
    first: date
    last: date
    first_index: int
    last_index: int
    direction: str | None
    observed: Number
    limit: MaybeNumber
    useful_points: int | None
    indices: list[int]
    sentence: str


class PartOut(Struct):
    part: int
    first: int
    last: int
    centre: MaybeNumber
    lower: MaybeNumber  # None when the limits vary point by point (p, u) or do not exist
    upper: MaybeNumber
    average_moving_range: MaybeNumber
    moving_ranges_screened_out: int
    baseline_points: int
    useful_points: int
    longest_run: int | None
    longest_run_limit: int | None
    crossings: int | None
    crossings_limit: int | None
    runs: int | None
    runs_limits: list[int] | None
    runs_signal: bool


class MarkOut(Struct):
    """A phase, an annotation or a PDSA cycle's Do-Study span on the time axis."""

    kind: str  # phase | annotation | cycle
    start: date
    end: date | None
    label: str
    initiative_id: str | None = None  # cycles only
    number: int | None = None


class ChartOut(Struct):
    measure_id: str
    name: str
    unit: str
    kind: str
    kind_name: str
    rules: str
    freeze: int | None
    parts: list[int]
    screened_moving_ranges: bool
    points: list[ChartPointOut]
    signals: list[SignalOut]
    summaries: list[PartOut]
    sentences: list[str]
    marks: list[MarkOut]


# --- parameters ------------------------------------------------------------------------------


def _whole_number(raw: str) -> int | None:
    text = raw.strip()
    return int(text) if plain_digits(text) else None


def chart_options(
    unit: str, kind: str, rules: str, freeze: str | None, parts: str | None
) -> tuple[str, str, int | None, tuple[int, ...]]:
    """The query parameters checked: 400 naming each bad one."""
    problems: dict[str, str] = {}
    kind = kind.strip().lower()
    rules = rules.strip().lower()
    if kind not in KINDS:
        problems["kind"] = "must be one of: " + ", ".join(KINDS)
    elif kind in UNIT_FOR_KIND and unit != UNIT_FOR_KIND[kind]:
        problems["kind"] = (
            f"a {kind} chart needs {UNIT_NAMES[UNIT_FOR_KIND[kind]]}; this measure is "
            f"{UNIT_NAMES.get(unit, unit)} (use run, i or mr)"
        )
    if rules not in RULE_SETS:
        problems["rules"] = "must be one of: " + ", ".join(RULE_SETS)
    frozen = None
    if freeze is not None and freeze.strip():
        frozen = _whole_number(freeze)
        if frozen is None or frozen < 1:
            problems["freeze"] = "must be a whole number of points, 1 or more"
    breaks: tuple[int, ...] = ()
    if parts is not None and parts.strip():
        numbers = [_whole_number(item) for item in parts.split(",")]
        if any(number is None for number in numbers):
            problems["parts"] = "must be point indices separated by commas, e.g. 3,9"
        else:
            breaks = tuple(n for n in numbers if n is not None)
    if problems:
        raise ValidationError(problems)
    return kind, rules, frozen, breaks


def observations(unit: str, kind: str, rows: list[Any]) -> list[Observation]:
    """The view's points as the statistics take them: numerator and denominator for p and u,
    the value otherwise."""
    def marks(r: Any) -> dict[str, Any]:
        excluded, astronomical = r.get("excluded"), r.get("astronomical")
        return {"excluded": excluded is not None, "reason": excluded or "",
                "astronomical": astronomical is not None}

    if kind in ("p", "u"):
        return [Observation(r["period"], numerator=r["numerator"], denominator=r["denominator"],
                            **marks(r)) for r in rows]
    return [Observation(r["period"], float(r["value"]), **marks(r)) for r in rows]


async def compute(
    services: Services, measure_id: uuid.UUID, kind: str, rules: str, freeze: str | None,
    parts: str | None,
) -> tuple[Any, ChartResult, ChartInputs]:
    """The chart as the measure's settings say; `freeze` or `parts` given in the query replace
    the stored baseline and phases (to try another reading without storing it)."""
    row = await measure_row(services, measure_id)
    kind, rules, frozen, breaks = chart_options(row["unit"], kind, rules, freeze, parts)
    inputs = await chart_inputs(services, row)
    if (freeze and freeze.strip()) or (parts and parts.strip()):
        kept = [(marker, mark) for marker, mark in zip(inputs.markers, inputs.marks, strict=True)
                if mark["kind"] != measure_data.PHASE]  # the stored phases no longer apply
        inputs = replace(inputs, freeze=frozen, parts=breaks,
                         markers=[marker for marker, _ in kept], marks=[mark for _, mark in kept])
    result = control_chart(observations(row["unit"], kind, inputs.points), kind,
                           freeze=inputs.freeze, parts=inputs.parts, rules=rules,
                           **wording(row))
    return row, result, inputs


def _plain(number: Any) -> Any:
    if isinstance(number, float) and number.is_integer() and abs(number) < 1e15:
        return int(number)
    return number


def chart_out(row: Any, result: ChartResult, inputs: ChartInputs) -> ChartOut:
    points = result.points
    breaks = inputs.parts
    return ChartOut(
        measure_id=str(row["measure_id"]), name=row["name"], unit=row["unit"], kind=result.kind,
        kind_name=KIND_NAMES[result.kind], rules=result.rules, freeze=result.freeze,
        parts=list(breaks), screened_moving_ranges=result.screened_moving_ranges,
        points=[
            ChartPointOut(
                index=p.index, period=p.x, value=p.value, numerator=_plain(p.numerator),
                denominator=_plain(p.denominator), centre=p.centre, lower=p.lower,
                upper=p.upper, part=p.part, in_baseline=p.in_baseline, excluded=p.excluded,
                signals=list(p.signal_kinds),
            )
            for p in points
        ],
        signals=[
            SignalOut(
                kind=s.kind, rule=s.rule, part=s.part, first=points[s.first].x,
                last=points[s.last].x, first_index=s.first, last_index=s.last,
                direction=s.direction, observed=_plain(s.observed), limit=_plain(s.limit),
                useful_points=s.useful_points, indices=list(s.indices), sentence=s.sentence,
            )
            for s in result.signals
        ],
        summaries=[
            PartOut(
                part=x.part, first=x.first, last=x.last, centre=x.centre, lower=x.lower,
                upper=x.upper, average_moving_range=x.average_moving_range,
                moving_ranges_screened_out=x.moving_ranges_screened_out,
                baseline_points=x.baseline_points, useful_points=x.useful_points,
                longest_run=x.longest_run, longest_run_limit=x.longest_run_limit,
                crossings=x.crossings, crossings_limit=x.crossings_limit, runs=x.runs,
                runs_limits=list(x.runs_limits) if x.runs_limits else None,
                runs_signal=x.runs_signal,
            )
            for x in result.parts
        ],
        sentences=list(result.sentences),
        marks=[MarkOut(**mark) for mark in inputs.marks],
    )


KIND = Annotated[str, QueryParameter(
    description="run (median, run rules), i, mr, p (proportions), u (rates) or c (counts)")]
RULES = Annotated[str, QueryParameter(description="the run rules: anhoej or ihi")]
FREEZE = Annotated[str | None, QueryParameter(
    description="a frozen baseline: centre and limits from the first K points")]
PARTS = Annotated[str | None, QueryParameter(
    description="0-based indices where a new part (phase) starts, separated by commas: 3,9")]


class ChartController(Controller):
    path = "/api/v1/measures"
    tags = ["measures and data"]

    @get("/{measure_id:uuid}/chart", guards=[requires("viewer")], responses=errors(400, 404),
         summary="A measure's run or control chart: centre, limits per point, signals")
    async def chart(
        self, services: Svc, measure_id: FromPath[uuid.UUID], kind: KIND = RUN,
        rules: RULES = "anhoej", freeze: FREEZE = None, parts: PARTS = None,
    ) -> ChartOut:
        row, result, inputs = await compute(services, measure_id, kind, rules, freeze, parts)
        return chart_out(row, result, inputs)


class ChartImageController(Controller):
    path = "/measures"
    tags = ["measures and data"]

    @get("/{measure_id:uuid}/chart.svg", guards=[requires("viewer")],
         media_type="image/svg+xml", responses=page_errors(400, 404),
         summary="The same chart as an SVG image (accessible: title, description, signals)")
    async def chart_image(
        self, services: Svc, measure_id: FromPath[uuid.UUID], kind: KIND = RUN,
        rules: RULES = "anhoej", freeze: FREEZE = None, parts: PARTS = None,
    ) -> Response[str]:
        row, result, inputs = await compute(services, measure_id, kind, rules, freeze, parts)
        return Response(picture(row, result, inputs.markers),
                        media_type="image/svg+xml; charset=utf-8",
                        headers={"Cache-Control": "private, no-cache"})


CHART_CONTROLLERS = [ChartController, ChartImageController, ChartSettingsController]
