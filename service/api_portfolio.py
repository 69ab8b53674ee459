"""What leadership reads across the whole portfolio, as JSON (the pages show the same):

    GET /api/v1/alignment              each value with its practice standards, training steps,
                                       measures, active and finished cycles, and its gaps
    GET /api/v1/dashboard?stale_days=N initiatives by status and phase, cycles idle for N days or
                                       more, measures whose latest point is part of a signal,
                                       overdue revisits

Viewers and every role above read both. Today is the agency's today (its time zone).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from litestar import Controller, get
from litestar.params import QueryParameter
from msgspec import Struct

from domain.alignment import (
    AlignmentRow,
    CycleFact,
    MeasureFact,
    StandardFact,
    ValueFacts,
    alignment,
)
from domain.errors import DomainError, ValidationError
from domain.initiative import ACTIVE, CONCLUSIONS, PHASES, PROPOSED
from domain.spc import RUN, run_chart
from projections import alignment as alignment_view
from projections import cycle_board, measure_data, overdue_revisits
from service import schemas as s
from service.api import errors, revisit_out
from service.api_charts import observations
from service.auth import requires
from service.measure_charts import ChartInputs, settle, wording
from service.services import Services, Svc

STATUSES = (PROPOSED, ACTIVE, *CONCLUSIONS)
NO_CYCLE = "none"  # an active initiative whose first cycle is not planned yet
DEFAULT_STALE_DAYS = 30
MAX_STALE_DAYS = 3650
STALE_DAYS_RULE = f"must be a whole number of days from 1 to {MAX_STALE_DAYS}"
SIGNAL_RULES = "anhoej"  # the run chart a measure's page shows first


# --- the alignment matrix --------------------------------------------------------------------


async def alignment_rows(services: Services) -> list[AlignmentRow]:
    """Read the views, then let the domain's rules assemble the matrix and name its gaps."""
    zone = services.settings.zone.key
    async with services.pool.acquire() as conn:
        values = await alignment_view.values(conn)
        standards = await alignment_view.standards(conn)
        measures = await alignment_view.measures(conn)
        cycles = await alignment_view.cycles(conn, zone)
    standards_of: dict[str, list[StandardFact]] = {}
    for row in standards:
        standards_of.setdefault(row["value_id"], []).append(
            StandardFact(row["standard_id"], row["text"], row["retired"]))
    measures_of: dict[str, list[MeasureFact]] = {}
    for row in measures:
        for value_id in row["value_ids"]:
            measures_of.setdefault(value_id, []).append(
                MeasureFact(str(row["measure_id"]), row["name"]))
    cycles_of: dict[str, list[CycleFact]] = {}
    for row in cycles:
        cycles_of.setdefault(row["value_id"], []).append(CycleFact(
            initiative_id=str(row["initiative_id"]), initiative_title=row["title"],
            initiative_status=row["status"], number=row["number"], phase=row["phase"],
            training_step=row["training_step"], planned_on=row["planned_on"],
            started_on=row["started_on"], studied_on=row["studied_on"], result=row["result"],
            learning=row["learning"], decision=row["decision"] or "",
        ))
    facts = [
        ValueFacts(v["value_id"], v["name"], v["description"],
                   standards=standards_of.get(v["value_id"], ()),
                   measures=measures_of.get(v["value_id"], ()),
                   cycles=cycles_of.get(v["value_id"], ()))
        for v in values
    ]
    return alignment(facts, services.today())


class StandardRef(Struct):
    id: str
    text: str


class MeasureRef(Struct):
    id: str
    name: str


class TrainingStepOut(Struct):
    training_step: str
    initiative_id: str
    initiative_title: str
    cycle: int
    on: date  # the day the cycle's test began, or else the day it was planned


class CycleRef(Struct):
    initiative_id: str
    initiative_title: str
    initiative_status: str
    number: int
    phase: str
    planned_on: date
    started_on: date | None
    studied_on: date | None
    result: str
    learning: str
    decision: str


class ValueAlignmentOut(Struct):
    value_id: str
    name: str
    description: str
    standards: list[StandardRef]
    training_steps: list[TrainingStepOut]
    measures: list[MeasureRef]
    active_cycles: list[CycleRef]
    finished_cycles: list[CycleRef]
    gaps: list[str]


class AlignmentOut(Struct):
    today: date
    values: list[ValueAlignmentOut]
    gaps: list[str]


def cycle_ref(c: CycleFact) -> CycleRef:
    return CycleRef(
        initiative_id=c.initiative_id, initiative_title=c.initiative_title,
        initiative_status=c.initiative_status, number=c.number, phase=c.phase,
        planned_on=c.planned_on, started_on=c.started_on, studied_on=c.studied_on,
        result=c.result, learning=c.learning, decision=c.decision,
    )


def alignment_out(rows: list[AlignmentRow], today: date) -> AlignmentOut:
    return AlignmentOut(
        today=today,
        values=[
            ValueAlignmentOut(
                value_id=r.value_id, name=r.name, description=r.description,
                standards=[StandardRef(x.id, x.text) for x in r.standards],
                training_steps=[
                    TrainingStepOut(c.training_step, c.initiative_id, c.initiative_title,
                                    c.number, c.training_on)
                    for c in r.training
                ],
                measures=[MeasureRef(m.id, m.name) for m in r.measures],
                active_cycles=[cycle_ref(c) for c in r.active_cycles],
                finished_cycles=[cycle_ref(c) for c in r.finished_cycles],
                gaps=list(r.gaps),
            )
            for r in rows
        ],
        gaps=[gap for r in rows for gap in r.gaps],
    )


# --- the portfolio dashboard -----------------------------------------------------------------


def stale_days_of(raw: str | None) -> int:
    """The `stale_days` parameter: empty means the default; anything but 1..3650 is refused."""
    if raw is None or not raw.strip():
        return DEFAULT_STALE_DAYS
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_STALE_DAYS:
        raise ValidationError({"stale_days": STALE_DAYS_RULE})
    return int(text)


@dataclass(frozen=True)
class MeasureSignal:
    measure_id: Any
    name: str
    unit: str
    frequency: str
    last_period: date
    last_value: float
    sentences: tuple[str, ...]


@dataclass(frozen=True)
class Dashboard:
    today: date
    stale_days: int
    by_status: dict[str, int]
    active_by_phase: dict[str, int]
    stale_cycles: list[Any]
    signals: list[MeasureSignal]
    overdue: list[Any]

    @property
    def initiatives(self) -> int:
        return sum(self.by_status.values())


def latest_signal(row: Any, inputs: ChartInputs) -> MeasureSignal | None:
    """The measure's run chart, drawn as its page first draws it (its frozen baseline, phases
    and excluded points included), and the signals whose points take in its most recent one.
    A signal about a whole part of the chart (too few crossings or runs) names no points, so it
    is not a signal of the last period."""
    points = inputs.points
    if not points:
        return None
    try:
        chart = run_chart(observations(row["unit"], RUN, points), rules=SIGNAL_RULES,
                          freeze=inputs.freeze, parts=inputs.parts,
                          **wording(row))
    except DomainError:
        return None
    last = len(chart.points) - 1
    sentences = tuple(signal.sentence for signal in chart.signals if last in signal.indices)
    if not sentences:
        return None
    return MeasureSignal(row["measure_id"], row["name"], row["unit"], row["frequency"],
                         points[-1]["period"], float(points[-1]["value"]), sentences)


async def read_dashboard(services: Services, stale_days: int) -> Dashboard:
    today = services.today()
    zone = services.settings.zone.key
    async with services.pool.acquire() as conn:
        initiatives = await cycle_board.initiatives(conn, None)
        stale = await alignment_view.stale_cycles(conn, today, zone, stale_days)
        overdue = await overdue_revisits.revisits(conn, today, "overdue")
        measures = await measure_data.measures(conn)
        signals = []
        for row in measures:
            if row["points"]:
                inputs = settle(row, await measure_data.points(conn, row["measure_id"]),
                                await measure_data.marks(conn, row["measure_id"]), [], today)
                found = latest_signal(row, inputs)
                if found is not None:
                    signals.append(found)
    statuses = Counter(r["status"] for r in initiatives)
    phases = Counter(r["phase"] or NO_CYCLE for r in initiatives if r["status"] == ACTIVE)
    return Dashboard(
        today=today, stale_days=stale_days,
        by_status={status: statuses.get(status, 0) for status in STATUSES},
        active_by_phase={phase: phases.get(phase, 0) for phase in (NO_CYCLE, *PHASES)},
        stale_cycles=list(stale), signals=signals, overdue=list(overdue),
    )


class InitiativeCountsOut(Struct):
    total: int
    by_status: dict[str, int]  # proposed, active, sustained, closed, abandoned
    active_by_phase: dict[str, int]  # none (no cycle yet), plan, do, study, act


class StaleCycleOut(Struct):
    initiative_id: str
    title: str
    number: int
    phase: str
    value_id: str
    value_name: str | None
    last_activity: datetime
    days_idle: int


class MeasureSignalOut(Struct):
    measure_id: str
    name: str
    unit: str
    last_period: date
    last_value: float
    signals: list[str]


class DashboardOut(Struct):
    today: date
    stale_days: int
    initiatives: InitiativeCountsOut
    stale_cycles: list[StaleCycleOut]
    measures_with_signals: list[MeasureSignalOut]
    overdue_revisits: list[s.RevisitOut]


def dashboard_out(d: Dashboard) -> DashboardOut:
    return DashboardOut(
        today=d.today, stale_days=d.stale_days,
        initiatives=InitiativeCountsOut(d.initiatives, d.by_status, d.active_by_phase),
        stale_cycles=[
            StaleCycleOut(
                initiative_id=str(r["initiative_id"]), title=r["title"], number=r["number"],
                phase=r["phase"], value_id=r["value_id"], value_name=r["value_name"],
                last_activity=r["updated_at"], days_idle=r["days_idle"],
            )
            for r in d.stale_cycles
        ],
        measures_with_signals=[
            MeasureSignalOut(str(m.measure_id), m.name, m.unit, m.last_period, m.last_value,
                             list(m.sentences))
            for m in d.signals
        ],
        overdue_revisits=[revisit_out(r) for r in d.overdue],
    )


STALE_DAYS = Annotated[str | None, QueryParameter(
    description=f"A cycle is stale after this many days without activity (1 to "
                f"{MAX_STALE_DAYS}; {DEFAULT_STALE_DAYS} when absent)")]


class PortfolioController(Controller):
    path = "/api/v1"
    tags = ["portfolio"]

    @get("/alignment", guards=[requires("viewer")], responses=errors(),
         summary="Each value with its practice standards, training steps, measures and "
                 "cycles; the gaps in words")
    async def alignment(self, services: Svc) -> AlignmentOut:
        return alignment_out(await alignment_rows(services), services.today())

    @get("/dashboard", guards=[requires("viewer")], responses=errors(400),
         summary="Initiatives by status and phase, stale cycles, measures signalling now, "
                 "overdue revisits")
    async def dashboard(self, services: Svc, stale_days: STALE_DAYS = None) -> DashboardOut:
        return dashboard_out(await read_dashboard(services, stale_days_of(stale_days)))


PORTFOLIO_CONTROLLERS = [PortfolioController]
