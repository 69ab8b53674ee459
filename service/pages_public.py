"""The public pages at /public: what a leader published, readable without signing in.

Nothing here needs an account, so nothing here may show who anyone is: no team members, no
account names, no history. A measure shows its definition and the same chart as the signed-in
page; an initiative its charter and its cycles. While the public pages are closed every address
here is a 404, and so is any item that is not published (whether or not it exists).
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from litestar import Controller, MediaType, Response, get
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from domain.initiative import PHASE_NAMES, Initiative
from domain.measure import RATIOS
from domain.publication import INITIATIVE, MEASURE
from domain.spc import RULE_SETS, RUN
from projections import measure_data, published
from service.chart_svg import KIND_NAMES
from service.measure_charts import ChartInputs, chart_inputs
from service.pages_base import local_day, paragraphs
from service.pages_measures import (
    DIRECTION_NAMES,
    RULE_NAMES,
    TYPE_NAMES,
    UNIT_LABELS,
    build_chart,
    figure,
    fitting_kinds,
    value_names,
)
from service.services import Req, Services, Svc

NOTHING_PUBLISHED = "This agency has not published anything."
NOT_PUBLISHED = "This page is not published."
STATUS_NAMES = {"proposed": "Proposed", "active": "Active", "sustained": "Sustained",
                "closed": "Closed", "abandoned": "Abandoned"}
DECISION_NAMES = {"adopt": "Adopt", "adapt": "Adapt", "abandon": "Abandon"}


def public_page(request: Req, name: str, status_code: int = 200, **context: Any) -> Template:
    """A public page: its own layout, no signed-in navigation, nothing about the reader."""
    return Template(name, context={"on": local_day, **context}, status_code=status_code,
                    media_type=MediaType.HTML)


def not_found(request: Req, detail: str) -> Template:
    return public_page(request, "public_missing.html", status_code=404, detail=detail)


def item_id(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


async def unless_public(request: Req, services: Services, kind: str, raw_id: str
                        ) -> tuple[uuid.UUID | None, Template | None]:
    """The item's id if the public may read it; else the 404 page to answer with."""
    if not await services.read(published.is_open):
        return None, not_found(request, NOTHING_PUBLISHED)
    found = item_id(raw_id)
    if found is None or not await services.read(published.shows, kind, found):
        return None, not_found(request, NOT_PUBLISHED)
    return found, None


async def public_measure_chart(services: Services, measure_id: uuid.UUID, kind: str,
                               rules: str) -> tuple[Any, list[Any], tuple[Any, ...]]:
    """The measure's row, points and chart, drawn as the signed-in page draws it (`build_chart`
    on the measure's stored chart settings), except that a PDSA cycle's marker names its
    initiative only when that initiative is published too."""
    row = await services.read(measure_data.measure, measure_id)
    if row is None:
        return None, [], (kind, rules, None, "")
    inputs = await chart_inputs(services, row)  # the points and the measure's chart settings
    public = {str(i) for i in await services.read(published.initiative_ids)}
    inputs = without_unpublished_titles(inputs, public)
    return row, inputs.points, build_chart(row, inputs, kind, rules)


def without_unpublished_titles(inputs: ChartInputs, public: set[str]) -> ChartInputs:
    """Cycle markers keep their span; one of an unpublished initiative loses its title."""
    markers = []
    for marker, mark in zip(inputs.markers, inputs.marks, strict=True):
        if mark["kind"] == "cycle" and mark.get("initiative_id") not in public:
            marker = dataclasses.replace(marker, label=f"PDSA cycle {mark['number']}")
        markers.append(marker)
    return dataclasses.replace(inputs, markers=markers)


class PublicPages(Controller):
    path = "/public"
    include_in_schema = False

    @get("/")
    async def index(self, request: Req, services: Svc) -> Template:
        if not await services.read(published.is_open):
            return not_found(request, NOTHING_PUBLISHED)
        measures = await services.read(published.public_measures)
        initiatives = await services.read(published.public_initiatives)
        mission = await services.call(services.cqi.mission)
        return public_page(
            request, "public.html", measures=measures, initiatives=initiatives,
            mission=mission.mission if mission else "", vision=mission.vision if mission else "",
            values=mission.active_values() if mission else [], paragraphs=paragraphs,
            TYPE_NAMES=TYPE_NAMES, STATUS_NAMES=STATUS_NAMES, PHASE_NAMES=PHASE_NAMES,
        )

    @get("/measures/{measure_id:str}")
    async def measure(self, request: Req, services: Svc, measure_id: FromPath[str],
                      kind: FromQuery[str] = RUN, rules: FromQuery[str] = "anhoej"
                      ) -> Template:
        found, refusal = await unless_public(request, services, MEASURE, measure_id)
        if refusal is not None:
            return refusal
        assert found is not None
        row, points, (kind, rules, chart, problem) = await public_measure_chart(
            services, found, kind, rules)
        if row is None:  # published, but not (yet) in the view
            return not_found(request, NOT_PUBLISHED)
        names, _ = await value_names(services)
        return public_page(
            request, "public_measure.html", status_code=400 if problem else 200, m=row,
            points=points, chart=chart, kind=kind, rules=rules, refusal=problem,
            value_names=names, figure=figure, ratio=row["unit"] in RATIOS,
            kinds=[(k, KIND_NAMES[k]) for k in fitting_kinds(row["unit"])],
            rule_sets=[(r, RULE_NAMES.get(r, r)) for r in RULE_SETS],
            TYPE_NAMES=TYPE_NAMES, UNIT_LABELS=UNIT_LABELS, DIRECTION_NAMES=DIRECTION_NAMES,
        )

    @get("/measures/{measure_id:str}/chart.svg")
    async def measure_chart(self, request: Req, services: Svc, measure_id: FromPath[str],
                            kind: FromQuery[str] = RUN, rules: FromQuery[str] = "anhoej"
                            ) -> Any:
        found, refusal = await unless_public(request, services, MEASURE, measure_id)
        if refusal is not None:
            return refusal
        assert found is not None
        row, _, (_, _, chart, _) = await public_measure_chart(services, found, kind, rules)
        if row is None or chart is None:
            return not_found(request, "This measure has no chart yet: it has no data.")
        return Response(chart["svg"], media_type="image/svg+xml; charset=utf-8",
                        headers={"Cache-Control": "no-cache"})

    @get("/initiatives/{initiative_id:str}")
    async def initiative(self, request: Req, services: Svc, initiative_id: FromPath[str]
                         ) -> Template:
        found, refusal = await unless_public(request, services, INITIATIVE, initiative_id)
        if refusal is not None:
            return refusal
        assert found is not None
        initiative = await services.call(services.cqi.load, Initiative, found)
        names, _ = await value_names(services)
        return public_page(
            request, "public_initiative.html", i=initiative, value_names=names,
            cycles=[public_cycle(c) for c in initiative.cycles],
            STATUS_NAMES=STATUS_NAMES,
        )


def public_cycle(cycle: Any) -> dict[str, Any]:
    """What the public reads of a cycle: its plan's objective and prediction, its result, what
    was learned and the decision. Not the logistics (who, where, when), observations or the
    decision's rationale, which may name staff or families."""
    return {
        "number": cycle.number, "phase": PHASE_NAMES.get(cycle.phase, cycle.phase),
        "value_id": cycle.value_id, "objective": cycle.objective,
        "prediction": cycle.prediction, "result": cycle.result, "learning": cycle.learning,
        "decision": DECISION_NAMES.get(cycle.decision, cycle.decision),
    }
