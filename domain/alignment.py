"""Alignment of the agency's values with its practice: for each value, what is written
(practice standards), trained and coached (the training steps of cycles), measured and tested
(cycles and their results) — and, in plain words, where one of those is missing.

Pure: the caller reads the facts from the views and passes today's date (agency time zone).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from domain.initiative import ACT, CONCLUSIONS, PLAN

TRAINING_WINDOW_DAYS = 365
"""A training step counts as recent when its cycle was planned or its test began at most this
many days before today (365 days ago counts; 366 does not)."""


@dataclass(frozen=True, slots=True)
class StandardFact:
    id: str
    text: str
    retired: bool = False


@dataclass(frozen=True, slots=True)
class MeasureFact:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class CycleFact:
    """One PDSA cycle, as the alignment needs it."""

    initiative_id: str
    initiative_title: str
    initiative_status: str
    number: int
    phase: str  # the last phase recorded: plan | do | study | act
    training_step: str
    planned_on: date
    started_on: date | None = None
    studied_on: date | None = None
    result: str = ""
    learning: str = ""
    decision: str = ""

    @property
    def is_finished(self) -> bool:
        """Act is decided, or the initiative was concluded before it was."""
        return self.phase == ACT or self.initiative_status in CONCLUSIONS

    @property
    def has_tested(self) -> bool:
        """The test ran: Do was recorded (the phase moved past Plan)."""
        return self.phase != PLAN

    @property
    def training_on(self) -> date:
        """When the training step belongs to: the day the test began, else the day planned."""
        return self.started_on or self.planned_on


@dataclass(frozen=True, slots=True)
class ValueFacts:
    value_id: str
    name: str
    description: str = ""
    standards: Sequence[StandardFact] = ()
    measures: Sequence[MeasureFact] = ()
    cycles: Sequence[CycleFact] = ()


@dataclass(frozen=True, slots=True)
class AlignmentRow:
    """One value's row of the matrix."""

    value_id: str
    name: str
    description: str
    standards: tuple[StandardFact, ...]  # current ones only
    training: tuple[CycleFact, ...]  # cycles with a training step, latest first
    measures: tuple[MeasureFact, ...]
    active_cycles: tuple[CycleFact, ...]
    finished_cycles: tuple[CycleFact, ...]
    gaps: tuple[str, ...]
    # How many each list holds in all when only its first few are shown (None: all shown).
    standards_total: int | None = None
    training_total: int | None = None
    measures_total: int | None = None
    active_total: int | None = None
    finished_total: int | None = None

    def more(self, column: str) -> int:
        """How many of a column's items are not shown (`column`: standards, training,
        measures, active_cycles or finished_cycles)."""
        shown = len(getattr(self, column))
        total = getattr(self, f"{column.removesuffix('_cycles')}_total")
        return 0 if total is None else max(0, total - shown)


@dataclass(frozen=True, slots=True)
class ValueSummary:
    """A value's facts as counted by the views, with only the first few of each list: what the
    matrix needs when a value has years of cycles and measures behind it."""

    value_id: str
    name: str
    description: str
    standards: Sequence[StandardFact]  # current ones, oldest first
    standards_total: int
    measures: Sequence[MeasureFact]
    measures_total: int
    training: Sequence[CycleFact]  # the latest with a training step
    training_total: int
    active_cycles: Sequence[CycleFact]
    active_total: int
    finished_cycles: Sequence[CycleFact]
    finished_total: int
    has_recent_training: bool  # see training_since
    has_tested: bool  # a cycle got past Plan


def training_since(today: date) -> date:
    """The first day a training step still counts as recent on `today`."""
    return today - timedelta(days=TRAINING_WINDOW_DAYS)


def has_recent_training(cycles: Iterable[CycleFact], today: date) -> bool:
    """A cycle with a training step was planned, or began its test, within the last 12 months
    (a date ahead of today counts: the training is planned)."""
    for cycle in cycles:
        if not cycle.training_step.strip():
            continue
        for day in (cycle.planned_on, cycle.started_on):
            if day is not None and day >= training_since(today):
                return True
    return False


def gaps_of(name: str, *, has_standard: bool, has_measure: bool, has_recent_training: bool,
            has_tested: bool) -> list[str]:
    """The gap rules: each missing practice, one sentence naming it."""
    found: list[str] = []
    if not has_standard:
        found.append(f"{name}: no practice standard")
    if not has_measure:
        found.append(f"{name}: no measure")
    if not has_recent_training:
        found.append(f"{name}: no training step in the last 12 months")
    if not has_tested:
        found.append(f"{name}: no cycle has tested this value")
    return found


def gaps(value: ValueFacts, today: date) -> list[str]:
    """Where practice does not yet follow the value, each gap one sentence naming it."""
    return gaps_of(value.name, has_standard=any(not s.retired for s in value.standards),
                   has_measure=bool(value.measures),
                   has_recent_training=has_recent_training(value.cycles, today),
                   has_tested=any(c.has_tested for c in value.cycles))


def _latest_first(cycles: Iterable[CycleFact]) -> tuple[CycleFact, ...]:
    return tuple(sorted(cycles, key=lambda c: (c.training_on, c.initiative_title, c.number),
                        reverse=True))


def alignment_row(value: ValueFacts, today: date) -> AlignmentRow:
    return AlignmentRow(
        value_id=value.value_id,
        name=value.name,
        description=value.description,
        standards=tuple(s for s in value.standards if not s.retired),
        training=_latest_first(c for c in value.cycles if c.training_step.strip()),
        measures=_by_name(value.measures),
        active_cycles=_latest_first(c for c in value.cycles if not c.is_finished),
        finished_cycles=_latest_first(c for c in value.cycles if c.is_finished),
        gaps=tuple(gaps(value, today)),
    )


def alignment(values: Iterable[ValueFacts], today: date) -> list[AlignmentRow]:
    """The matrix: one row per value, by name."""
    return [alignment_row(v, today)
            for v in sorted(values, key=lambda v: (v.name.casefold(), v.value_id))]


def _by_name(measures: Iterable[MeasureFact]) -> tuple[MeasureFact, ...]:
    return tuple(sorted(measures, key=lambda m: (m.name.casefold(), m.id)))


def summary_row(value: ValueSummary) -> AlignmentRow:
    """A value's row from its counted facts: the same gap rules, each list as given (its
    first few), with how many there are in all."""
    return AlignmentRow(
        value_id=value.value_id,
        name=value.name,
        description=value.description,
        standards=tuple(s for s in value.standards if not s.retired),
        training=_latest_first(value.training),
        measures=_by_name(value.measures),
        active_cycles=_latest_first(value.active_cycles),
        finished_cycles=_latest_first(value.finished_cycles),
        gaps=tuple(gaps_of(value.name, has_standard=value.standards_total > 0,
                           has_measure=value.measures_total > 0,
                           has_recent_training=value.has_recent_training,
                           has_tested=value.has_tested)),
        standards_total=value.standards_total,
        training_total=value.training_total,
        measures_total=value.measures_total,
        active_total=value.active_total,
        finished_total=value.finished_total,
    )


def summary_alignment(values: Iterable[ValueSummary]) -> list[AlignmentRow]:
    """The matrix from counted facts: one row per value, by name."""
    return [summary_row(v)
            for v in sorted(values, key=lambda v: (v.name.casefold(), v.value_id))]
