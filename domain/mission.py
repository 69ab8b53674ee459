"""The agency's mission, vision and values, with the practice standards that put values to work."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from eventsourcing.domain import Aggregate, event

from domain.errors import FieldErrors, NotFoundError

MISSION_NAMESPACE = uuid.UUID("6f1c8a52-3a0e-4d3c-9d9e-2b7f4c1e8a10")
MISSION_ID = uuid.uuid5(MISSION_NAMESPACE, "mission")
MAX_REVISIT_MONTHS = 120


@dataclass
class PracticeStandard:
    id: str
    text: str
    retired: bool = False


@dataclass
class Value:
    id: str
    name: str
    description: str
    retired: bool = False
    standards: list[PracticeStandard] = field(default_factory=list)

    def active_standards(self) -> list[PracticeStandard]:
        return [s for s in self.standards if not s.retired]


def check_revisit_months(errors: FieldErrors, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not (
        1 <= value <= MAX_REVISIT_MONTHS
    ):
        errors.add("revisit_every_months", f"must be a whole number from 1 to {MAX_REVISIT_MONTHS}")
        return None
    return value


class Mission(Aggregate):
    """There is one per agency (a fixed id). Every revision is kept as an event."""

    @staticmethod
    def create_id() -> uuid.UUID:
        return MISSION_ID

    @event("Started")
    def __init__(self, *, actor: str) -> None:
        self.mission = ""
        self.vision = ""
        self.revisit_every_months: int | None = None
        self.revision = 0
        self.values: dict[str, Value] = {}

    # --- queries -------------------------------------------------------------------------

    def active_values(self) -> list[Value]:
        return [v for v in self.values.values() if not v.retired]

    def value_ids(self) -> set[str]:
        """Ids a new initiative or cycle may link to (retired values excluded)."""
        return {v.id for v in self.active_values()}

    def value(self, value_id: str) -> Value:
        try:
            return self.values[value_id]
        except KeyError:
            raise NotFoundError(f"There is no value with id {value_id}.") from None

    def check_name_free(self, errors: FieldErrors, name: str, except_id: str = "") -> None:
        for value in self.active_values():
            if value.id != except_id and value.name.casefold() == name.casefold():
                errors.add("name", f"a value named {value.name!r} already exists")

    # --- commands ------------------------------------------------------------------------

    def write_statements(
        self, *, actor: str, mission: object, vision: object, revisit_every_months: object
    ) -> None:
        errors = FieldErrors()
        mission = errors.text("mission", mission, max_length=5000)
        vision = errors.text("vision", vision, max_length=5000)
        months = check_revisit_months(errors, revisit_every_months)
        errors.raise_if_any()
        self._statements_revised(
            actor=actor, mission=mission, vision=vision, revisit_every_months=months,
            revision=self.revision + 1,
        )

    @event("StatementsRevised")
    def _statements_revised(
        self, *, actor: str, mission: str, vision: str, revisit_every_months: int | None,
        revision: int,
    ) -> None:
        self.mission, self.vision = mission, vision
        self.revisit_every_months, self.revision = revisit_every_months, revision

    def add_value(self, *, actor: str, value_id: str, name: object, description: object) -> None:
        errors = FieldErrors()
        name = errors.text("name", name, max_length=120)
        description = errors.text("description", description, required=False)
        if name:
            self.check_name_free(errors, name)
        errors.raise_if_any()
        self._value_added(actor=actor, value_id=value_id, name=name, description=description)

    @event("ValueAdded")
    def _value_added(self, *, actor: str, value_id: str, name: str, description: str) -> None:
        self.values[value_id] = Value(id=value_id, name=name, description=description)

    def revise_value(
        self, *, actor: str, value_id: str, name: object, description: object
    ) -> None:
        value = self.value(value_id)
        errors = FieldErrors()
        name = errors.text("name", name, max_length=120)
        description = errors.text("description", description, required=False)
        if name:
            self.check_name_free(errors, name, except_id=value.id)
        errors.raise_if_any()
        self._value_revised(actor=actor, value_id=value_id, name=name, description=description)

    @event("ValueRevised")
    def _value_revised(self, *, actor: str, value_id: str, name: str, description: str) -> None:
        value = self.values[value_id]
        value.name, value.description = name, description

    def add_standard(self, *, actor: str, value_id: str, standard_id: str, text: object) -> None:
        value = self.value(value_id)
        errors = FieldErrors()
        text = errors.text("text", text, max_length=1000)
        if any(s.text.casefold() == text.casefold() for s in value.active_standards()):
            errors.add("text", "this practice standard is already written under the value")
        errors.raise_if_any()
        self._standard_added(actor=actor, value_id=value.id, standard_id=standard_id, text=text)

    @event("PracticeStandardAdded")
    def _standard_added(self, *, actor: str, value_id: str, standard_id: str, text: str) -> None:
        self.values[value_id].standards.append(PracticeStandard(id=standard_id, text=text))

    def retire_standard(self, *, actor: str, value_id: str, standard_id: str) -> None:
        value = self.value(value_id)
        if not any(s.id == standard_id and not s.retired for s in value.standards):
            raise NotFoundError(
                f"Value {value.name!r} has no current practice standard {standard_id}."
            )
        self._standard_retired(actor=actor, value_id=value_id, standard_id=standard_id)

    @event("PracticeStandardRetired")
    def _standard_retired(self, *, actor: str, value_id: str, standard_id: str) -> None:
        for standard in self.values[value_id].standards:
            if standard.id == standard_id:
                standard.retired = True
