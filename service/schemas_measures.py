"""Request and response bodies of /api/v1/measures: measures, their data points, CSV imports."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from msgspec import Struct

from service.schemas import Body, MaybeNumber, Number


class DefinitionIn(Body):
    """The operational definition: what is counted, out of what, from where, by whom, how often."""

    numerator: str
    data_source: str
    owner: str
    frequency: Literal["weekly", "monthly", "quarterly"]
    denominator: str = ""  # required for proportions and rates


class MeasureIn(Body):
    name: str
    type: Literal["outcome", "process", "balancing"]
    definition: DefinitionIn
    unit: Literal["count", "proportion", "rate", "continuous"]
    direction: Literal["up", "down"]
    value_ids: list[str]
    goal: MaybeNumber = None


class DefinitionOut(Struct):
    numerator: str
    denominator: str
    data_source: str
    owner: str
    frequency: str


class MeasureOut(Struct):
    id: str
    name: str
    type: str
    definition: DefinitionOut
    unit: str
    direction: str
    goal: MaybeNumber
    value_ids: list[str]
    points: int
    first_period: date | None
    last_period: date | None
    version: int
    updated_at: datetime
    chart: ChartSettingsOut | None = None  # how its charts are read (baseline, phases, ...)


class MeasureSummary(Struct):
    id: str
    name: str
    type: str
    unit: str
    frequency: str
    direction: str
    goal: MaybeNumber
    value_ids: list[str]
    points: int
    last_period: date | None
    version: int
    updated_at: datetime


class PointIn(Body):
    """One period's data: `value` for counts and continuous measures, `numerator` and
    `denominator` for proportions and rates."""

    period: date
    value: MaybeNumber = None
    numerator: MaybeNumber = None
    denominator: MaybeNumber = None
    note: str = ""


class CorrectionIn(Body):
    """The period's new numbers (as for recording it) and why they changed."""

    reason: str
    value: MaybeNumber = None
    numerator: MaybeNumber = None
    denominator: MaybeNumber = None


class PointSaved(Struct):
    period: date
    version: int


class PointOut(Struct):
    period: date
    value: Number
    """As entered, or numerator / denominator; as last corrected."""
    numerator: MaybeNumber
    denominator: MaybeNumber
    note: str
    corrected: bool
    corrections: int
    recorded_at: datetime
    recorded_by: str
    recorded_by_login: str | None
    corrected_at: datetime | None


class PointEntryOut(Struct):
    """One thing entered for a period: its recording (or import), then each correction."""

    version: int
    kind: Literal["recorded", "imported", "corrected"]
    value: Number
    numerator: MaybeNumber
    denominator: MaybeNumber
    note: str | None
    reason: str | None
    at: datetime
    by: str
    by_login: str | None


class PointHistoryOut(Struct):
    point: PointOut
    entries: list[PointEntryOut]


class ImportRowOut(Struct):
    line: int
    period: date
    value: MaybeNumber
    numerator: MaybeNumber
    denominator: MaybeNumber
    note: str


class ImportProblemOut(Struct):
    line: int | None
    """The line the row starts on (the header is line 1); null for the file as a whole."""
    field: str
    """period, value, numerator, denominator or note; `file` for the file or its header."""
    reason: str


class ImportPreviewOut(Struct):
    rows_read: int
    valid: bool
    """The whole file would be imported: at least one row, and no errors."""
    rows: list[ImportRowOut]
    """The rows that are fine."""
    errors: list[ImportProblemOut]


class ImportDone(Struct):
    imported: int
    version: int


# --- how a measure's charts are read ---------------------------------------------------------


class BaselineIn(Body):
    through: date  # the last period of the frozen baseline


class PhaseIn(Body):
    period: date  # the first period of the new phase
    label: str  # e.g. "New call script adopted"


class ReasonIn(Body):
    reason: str


class AnnotationIn(Body):
    on: date  # any day up to today
    text: str


class PeriodNote(Struct):
    period: date
    text: str  # a phase's label, an exclusion's reason, why a point is astronomical, a note


class ChartSettingsOut(Struct):
    freeze_through: date | None
    phases: list[PeriodNote]
    excluded: list[PeriodNote]
    astronomical: list[PeriodNote]
    annotations: list[PeriodNote]


class SettingSaved(Struct):
    version: int
