"""Alignment of the agency's values with its practice: for each value, what is written
(practice standards), trained and coached (the training steps of cycles), measured and tested
(cycles and their results) — and, in plain words, where one of those is missing.

Pure: the caller reads the facts from the views and passes today's date (agency time zone).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

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


def has_recent_training(cycles: Iterable[CycleFact], today: date) -> bool:
    """A cycle with a training step was planned, or began its test, within the last 12 months
    (a date ahead of today counts: the training is planned)."""
    for cycle in cycles:
        if not cycle.training_step.strip():
            continue
        for day in (cycle.planned_on, cycle.started_on):
            if day is not None and (today - day).days <= TRAINING_WINDOW_DAYS:
                return True
    return False


def gaps(value: ValueFacts, today: date) -> list[str]:
    """Where practice does not yet follow the value, each gap one sentence naming it."""
    found: list[str] = []
    if not any(not s.retired for s in value.standards):
        found.append(f"{value.name}: no practice standard")
    if not value.measures:
        found.append(f"{value.name}: no measure")
    if not has_recent_training(value.cycles, today):
        found.append(f"{value.name}: no training step in the last 12 months")
    if not any(c.has_tested for c in value.cycles):
        found.append(f"{value.name}: no cycle has tested this value")
    return found


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
        measures=tuple(sorted(value.measures, key=lambda m: (m.name.casefold(), m.id))),
        active_cycles=_latest_first(c for c in value.cycles if not c.is_finished),
        finished_cycles=_latest_first(c for c in value.cycles if c.is_finished),
        gaps=tuple(gaps(value, today)),
    )


def alignment(values: Iterable[ValueFacts], today: date) -> list[AlignmentRow]:
    """The matrix: one row per value, by name."""
    return [alignment_row(v, today)
            for v in sorted(values, key=lambda v: (v.name.casefold(), v.value_id))]
