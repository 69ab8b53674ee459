"""Request and response bodies of the JSON API. Domain objects never double as HTTP bodies."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from litestar.openapi.spec import OpenAPIType
from litestar.params import KwargDefinition
from msgspec import Struct


class Body(Struct, forbid_unknown_fields=True):
    """A request body: unknown fields are refused (a typo is an error, not silently dropped)."""


class Health(Struct, omit_defaults=True):
    status: str
    problem: str | None = None
    """What is wrong, when status is not "ok"."""


# Litestar publishes `int | float` as oneOf [integer, number], which no whole number satisfies
# (it matches both); these publish one JSON number and keep whole numbers as ints in Python.
Number = Annotated[int | float, KwargDefinition(
    schema_extra={"oneOf": None, "type": OpenAPIType.NUMBER})]
MaybeNumber = Annotated[int | float | None, KwargDefinition(
    schema_extra={"oneOf": None, "type": [OpenAPIType.NUMBER, OpenAPIType.NULL]})]


class ErrorOut(Struct):
    detail: str
    errors: dict[str, str] = {}


# --- mission and values ----------------------------------------------------------------


class MissionIn(Body):
    mission: str
    vision: str
    revisit_every_months: int | None = None


class MissionOut(Struct):
    mission: str
    vision: str
    revisit_every_months: int | None
    revision: int
    version: int


class ValueIn(Body):
    name: str
    description: str = ""


class StandardIn(Body):
    text: str


class StandardOut(Struct):
    id: str
    text: str


class ValueOut(Struct):
    id: str
    name: str
    description: str
    standards: list[StandardOut] = []


class Created(Struct):
    id: str
    version: int


# --- initiatives and cycles ------------------------------------------------------------


class TeamMemberIn(Body):
    name: str
    kind: Literal["staff", "stakeholder", "consumer"]
    role: str


class TeamMemberOut(Struct):
    name: str
    kind: str
    role: str


class InitiativeIn(Body):
    title: str
    problem: str
    aim: str
    value_ids: list[str]
    team: list[TeamMemberIn] = []


class CharterIn(Body):
    title: str
    problem: str
    aim: str
    value_ids: list[str]


class ConcludeIn(Body):
    outcome: Literal["sustained", "closed", "abandoned"]
    note: str


class CycleRef(Struct):
    number: int
    phase: str


class InitiativeSummary(Struct):
    id: str
    title: str
    status: str
    current_cycle: CycleRef | None
    version: int
    updated_at: datetime


class CycleOut(Struct):
    number: int
    phase: str
    value_id: str
    measure: str
    intervention: str
    training_step: str
    objective: str
    prediction: str
    questions: str
    logistics: str
    adapted_from: int | None
    observations: str
    data_collected: str
    result: str
    learning: str
    decision: str
    rationale: str
    measure_id: str = ""  # the linked measure, "" when the plan names the measure in words
    started_on: date | None = None  # the day the test began (Do)
    studied_on: date | None = None  # the day its results were studied (Study)


class InitiativeOut(Struct):
    id: str
    title: str
    problem: str
    aim: str
    status: str
    version: int
    value_ids: list[str]
    team: list[TeamMemberOut]
    cycles: list[CycleOut]
    updated_at: datetime


class PlanIn(Body):
    value_id: str
    intervention: str
    training_step: str
    objective: str
    prediction: str
    measure: str = ""  # what will be measured, in words; required unless measure_id is given
    measure_id: str = ""  # one of the agency's measures (GET /api/v1/measures)
    questions: str = ""
    logistics: str = ""


class CyclePlanned(Struct):
    number: int
    version: int


class DoIn(Body):
    observations: str
    data_collected: str = ""
    started_on: date | None = None  # the day the test began; default today (agency time zone)


class StudyIn(Body):
    result: str
    learning: str
    studied_on: date | None = None  # default today; not before the test began


class ActIn(Body):
    decision: Literal["adopt", "adapt", "abandon"]
    rationale: str


class VersionOut(Struct):
    version: int


class ActOut(Struct):
    version: int
    next_cycle: int | None = None


class HistoryEntry(Struct):
    version: int
    type: str
    at: datetime
    actor: str
    actor_login: str | None
    data: dict[str, Any]


class BoardRow(Struct):
    initiative_id: str
    title: str
    cycle_number: int | None
    phase: str | None
    value_id: str | None
    value_name: str | None
    updated_at: datetime


# --- revisits --------------------------------------------------------------------------


class RevisitIn(Body):
    subject: str
    due_on: date
    participants: list[str]
    every_months: int | None = None


class RevisitCreated(Struct):
    id: str
    version: int


class RevisitCompleteIn(Body):
    outcome: Literal["reaffirmed", "revised"]
    notes: str = ""
    held_on: date | None = None


class RevisitRescheduleIn(Body):
    due_on: date
    reason: str


class RevisitCompleted(Struct):
    id: str
    version: int
    next_revisit_id: str | None


class RevisitOut(Struct):
    id: str
    subject: str
    subject_label: str
    due_on: date
    days_overdue: int
    status: str
    participants: list[str]
    every_months: int | None
    held_on: date | None
    outcome: str | None
    version: int
