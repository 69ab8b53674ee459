"""What leadership reads across the whole portfolio, as JSON (the pages show the same):

    GET /api/v1/alignment              each value with its practice standards, training steps,
                                       measures, active and finished cycles, and its gaps
    GET /api/v1/dashboard?stale_days=N initiatives by status and phase, cycles idle for N days or
                                       more, measures whose latest point is part of a signal,
                                       overdue revisits

Viewers and every role above read both. Today is the agency's today (its time zone).
"""

from __future__ import annotations

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
    ValueSummary,
    summary_alignment,
    training_since,
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
from service.paging import plain_digits
from service.services import Services, Svc

STATUSES = (PROPOSED, ACTIVE, *CONCLUSIONS)
NO_CYCLE = "none"  # an active initiative whose first cycle is not planned yet
DEFAULT_STALE_DAYS = 30
MAX_STALE_DAYS = 3650
STALE_DAYS_RULE = f"must be a whole number of days from 1 to {MAX_STALE_DAYS}"
SIGNAL_RULES = "anhoej"  # the run chart a measure's page shows first


# --- the alignment matrix --------------------------------------------------------------------


PAGE_ITEMS = 5
"""How many of each list a value's row on the alignment page shows (then "and N more")."""
API_ITEMS = 100
MAX_API_ITEMS = 1000


def _cycle_fact(row: Any) -> CycleFact:
    return CycleFact(
        initiative_id=str(row["initiative_id"]), initiative_title=row["title"],
        initiative_status=row["status"], number=row["number"], phase=row["phase"],
        training_step=row["training_step"], planned_on=row["planned_on"],
        started_on=row["started_on"], studied_on=row["studied_on"], result=row["result"],
        learning=row["learning"], decision=row["decision"] or "",
    )


async def alignment_rows(services: Services, items: int = PAGE_ITEMS) -> list[AlignmentRow]:
    """Read the views, counted and bounded in SQL (each value's first `items` standards,
    measures, training steps, active and finished cycles, and how many there are), then let
    the domain's rules assemble the matrix and name its gaps."""
    zone, today = services.settings.zone.key, services.today()
    # Every count and list from one snapshot: they agree with each other while others write.
    async with services.pool.acquire() as conn, conn.transaction(
            isolation="repeatable_read", readonly=True):
        values = await alignment_view.values(conn)
        standards = await alignment_view.current_standards(conn, items)
        measures, measure_counts = await alignment_view.value_measures(conn, items)
        cycles = {kind: await alignment_view.value_cycles(conn, zone, kind, items)
                  for kind in alignment_view.CYCLE_LISTS}
        counted = await alignment_view.cycle_facts(conn, zone, training_since(today))
    standards_of: dict[str, list[StandardFact]] = {}
    standard_counts: dict[str, int] = {}
    for row in standards:
        standards_of.setdefault(row["value_id"], []).append(
            StandardFact(row["standard_id"], row["text"]))
        standard_counts[row["value_id"]] = row["total"]
    measures_of: dict[str, list[MeasureFact]] = {}
    for row in measures:
        measures_of.setdefault(row["value_id"], []).append(
            MeasureFact(str(row["measure_id"]), row["name"]))
    cycles_of: dict[str, dict[str, list[CycleFact]]] = {kind: {} for kind in cycles}
    for kind, rows in cycles.items():
        for row in rows:
            cycles_of[kind].setdefault(row["value_id"], []).append(_cycle_fact(row))
    summaries = []
    for v in values:
        value_id = v["value_id"]
        c = counted[value_id]
        summaries.append(ValueSummary(
            value_id=value_id, name=v["name"], description=v["description"],
            standards=standards_of.get(value_id, ()),
            standards_total=standard_counts.get(value_id, 0),
            measures=measures_of.get(value_id, ()),
            measures_total=measure_counts.get(value_id, 0),
            training=cycles_of["training"].get(value_id, ()), training_total=c["training"],
            active_cycles=cycles_of["active"].get(value_id, ()), active_total=c["active"],
            finished_cycles=cycles_of["finished"].get(value_id, ()),
            finished_total=c["total"] - c["active"],
            has_recent_training=c["recent_training"], has_tested=c["tested"],
        ))
    return summary_alignment(summaries)


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


class ValueCountsOut(Struct):
    """Each list of a value holds at most `items` (the request's); these are the totals."""

    standards: int
    training_steps: int
    measures: int
    active_cycles: int
    finished_cycles: int


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
    counts: ValueCountsOut | None = None  # how many each list holds in all


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
                counts=ValueCountsOut(
                    standards=len(r.standards) + r.more("standards"),
                    training_steps=len(r.training) + r.more("training"),
                    measures=len(r.measures) + r.more("measures"),
                    active_cycles=len(r.active_cycles) + r.more("active_cycles"),
                    finished_cycles=len(r.finished_cycles) + r.more("finished_cycles")),
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
    if not plain_digits(text) or not 1 <= int(text) <= MAX_STALE_DAYS:
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
    stale_cycles: list[Any]  # the longest idle first, at most `items`
    signals: list[MeasureSignal]
    overdue: list[Any]  # the most overdue first, at most `items`
    stale_total: int = 0
    overdue_total: int = 0
    signals_checked: int = 0  # the measures whose charts were read: those with the latest data
    with_data: int = 0  # the measures with data
    signal_limit: int = 0

    @property
    def initiatives(self) -> int:
        return sum(self.by_status.values())

    @property
    def more_stale(self) -> int:
        return max(0, self.stale_total - len(self.stale_cycles))

    @property
    def more_overdue(self) -> int:
        return max(0, self.overdue_total - len(self.overdue))

    @property
    def unchecked(self) -> int:
        """Measures with data whose charts were not read (past the limit)."""
        return max(0, self.with_data - self.signals_checked)


DASHBOARD_ITEMS = 20
"""How many stale cycles and overdue revisits the dashboard lists (then "and N more")."""
SIGNAL_CHARTS = 40
"""How many measures' charts the dashboard reads for signals: those with the latest data."""
MAX_SIGNAL_CHARTS = 200


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


async def read_dashboard(services: Services, stale_days: int, items: int = DASHBOARD_ITEMS,
                         charts: int = SIGNAL_CHARTS) -> Dashboard:
    """Counts from SQL; the longest idle cycles and the most overdue revisits, at most `items`
    each; the signals of the `charts` measures with the most recent data."""
    today = services.today()
    zone = services.settings.zone.key
    # Every count and list from one snapshot: they agree with each other while others write.
    async with services.pool.acquire() as conn, conn.transaction(
            isolation="repeatable_read", readonly=True):
        statuses = await cycle_board.status_counts(conn)
        phases = await cycle_board.active_phase_counts(conn)
        stale = await alignment_view.stale_cycles(conn, today, zone, stale_days, items)
        stale_total = (len(stale) if len(stale) < items else
                       await alignment_view.stale_cycles_count(conn, today, zone, stale_days))
        overdue = await overdue_revisits.revisits(conn, today, "overdue")
        measures, with_data = await measure_data.latest_measures(conn, charts)
        ids = [row["measure_id"] for row in measures]
        points = await measure_data.points_of(conn, ids)
        marks = await measure_data.marks_of(conn, ids)
    signals = []
    for row in measures:
        inputs = settle(row, points[row["measure_id"]], marks[row["measure_id"]], [], today)
        found = latest_signal(row, inputs)
        if found is not None:
            signals.append(found)
    active_by_phase = {phase: phases.get(phase, 0) for phase in PHASES}
    return Dashboard(
        today=today, stale_days=stale_days,
        by_status={status: statuses.get(status, 0) for status in STATUSES},
        active_by_phase={NO_CYCLE: phases.get(None, 0), **active_by_phase},
        stale_cycles=list(stale), signals=signals, overdue=list(overdue[:items]),
        stale_total=stale_total, overdue_total=len(overdue), signals_checked=len(measures),
        with_data=with_data, signal_limit=charts,
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
    # Totals of the bounded lists: stale cycles and overdue revisits hold at most `items`; the
    # signals come from the charts of the `measures_checked` measures with the latest data
    # (of `measures_with_data`).
    stale_cycles_total: int = 0
    overdue_revisits_total: int = 0
    measures_checked: int = 0
    measures_with_data: int = 0


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
        stale_cycles_total=d.stale_total, overdue_revisits_total=d.overdue_total,
        measures_checked=d.signals_checked, measures_with_data=d.with_data,
    )


STALE_DAYS = Annotated[str | None, QueryParameter(
    description=f"A cycle is stale after this many days without activity (1 to "
                f"{MAX_STALE_DAYS}; {DEFAULT_STALE_DAYS} when absent)")]


ITEMS = Annotated[int, QueryParameter(
    ge=1, le=MAX_API_ITEMS,
    description=f"The most items of each list (1 to {MAX_API_ITEMS}); `counts` and the "
                "`..._total` fields say how many there are in all")]
CHARTS = Annotated[int, QueryParameter(
    ge=1, le=MAX_SIGNAL_CHARTS,
    description="How many measures' charts are read for signals: those with the latest data")]


class PortfolioController(Controller):
    path = "/api/v1"
    tags = ["portfolio"]

    @get("/alignment", guards=[requires("viewer")], responses=errors(400),
         summary="Each value with its practice standards, training steps, measures and "
                 "cycles; the gaps in words")
    async def alignment(self, services: Svc, items: ITEMS = API_ITEMS) -> AlignmentOut:
        return alignment_out(await alignment_rows(services, items), services.today())

    @get("/dashboard", guards=[requires("viewer")], responses=errors(400),
         summary="Initiatives by status and phase, stale cycles, measures signalling now, "
                 "overdue revisits")
    async def dashboard(self, services: Svc, stale_days: STALE_DAYS = None,
                        items: ITEMS = API_ITEMS, charts: CHARTS = SIGNAL_CHARTS
                        ) -> DashboardOut:
        return dashboard_out(await read_dashboard(services, stale_days_of(stale_days), items,
                                                  charts))


PORTFOLIO_CONTROLLERS = [PortfolioController]
