"""A scheduled revisit of the mission, the vision, the values, or one value."""

from __future__ import annotations

import calendar
from datetime import date, datetime

from eventsourcing.domain import Aggregate, event

from domain.errors import FieldErrors, RevisitHeldError
from domain.mission import MAX_REVISIT_MONTHS

WHOLE_STATEMENTS = ("mission", "vision", "values")
SCHEDULED, HELD = "scheduled", "held"
REAFFIRMED, REVISED = "reaffirmed", "revised"
OUTCOMES = (REAFFIRMED, REVISED)


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (31 Jan + 1 month = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def days_overdue(due_on: date, today: date) -> int:
    """Days past due; 0 when not yet due. Decided at read time against the agency's today."""
    return max(0, (today - due_on).days)


def is_day(value: object) -> bool:
    """A calendar day. A datetime is a date subclass, but it cannot be compared with one."""
    return isinstance(value, date) and not isinstance(value, datetime)


def check_participants(errors: FieldErrors, participants: object) -> list[str]:
    if not isinstance(participants, list) or not participants:
        errors.add("participants", "name at least one participant")
        return []
    clean = []
    for index, name in enumerate(participants):
        text = errors.text(f"participants[{index}]", name, max_length=200)
        if text and text not in clean:
            clean.append(text)
    return clean


class Revisit(Aggregate):
    """Scheduled, possibly rescheduled, then held once with an outcome."""

    @classmethod
    def schedule(
        cls, *, actor: str, subject: object, due_on: object, participants: object,
        every_months: object, known_value_ids: set[str],
    ) -> Revisit:
        errors = FieldErrors()
        if subject not in WHOLE_STATEMENTS and subject not in known_value_ids:
            errors.add("subject", "must be mission, vision, values, or the id of one value")
        if not is_day(due_on):
            errors.add("due_on", "must be a date")
        people = check_participants(errors, participants)
        if every_months is not None and (
            isinstance(every_months, bool) or not isinstance(every_months, int)
            or not 1 <= every_months <= MAX_REVISIT_MONTHS
        ):
            errors.add("every_months", f"must be a whole number from 1 to {MAX_REVISIT_MONTHS}")
        errors.raise_if_any()
        return cls(actor=actor, subject=str(subject), due_on=due_on, participants=people,
                   every_months=every_months)

    @event("Scheduled")
    def __init__(
        self, *, actor: str, subject: str, due_on: date, participants: list[str],
        every_months: int | None,
    ) -> None:
        self.subject = subject
        self.due_on = due_on
        self.participants = list(participants)
        self.every_months = every_months
        self.status = SCHEDULED
        self.held_on: date | None = None
        self.outcome = ""
        self.notes = ""

    def check_scheduled(self) -> None:
        if self.status == HELD:
            raise RevisitHeldError(f"This revisit was already held on {self.held_on}.")

    def reschedule(self, *, actor: str, due_on: object, reason: object) -> None:
        self.check_scheduled()
        errors = FieldErrors()
        if not is_day(due_on):
            errors.add("due_on", "must be a date")
        reason = errors.text("reason", reason)
        errors.raise_if_any()
        self._rescheduled(actor=actor, due_on=due_on, reason=reason)

    @event("Rescheduled")
    def _rescheduled(self, *, actor: str, due_on: date, reason: str) -> None:
        self.due_on = due_on

    def complete(
        self, *, actor: str, held_on: object, outcome: object, notes: object, today: date
    ) -> date | None:
        """Record the revisit as held; returns when the next one is due if a cadence is set.

        `today` is the agency's date: a revisit cannot be recorded as held in the future.
        """
        self.check_scheduled()
        errors = FieldErrors()
        if not is_day(held_on):
            errors.add("held_on", "must be a date")
        elif held_on > today:  # type: ignore[operator]
            errors.add("held_on", f"cannot be after today ({today.isoformat()})")
        outcome = errors.choice("outcome", outcome, OUTCOMES)
        notes = errors.text("notes", notes, required=outcome == REVISED, max_length=5000)
        if outcome == REVISED and not notes:
            errors.errors["notes"] = "say what was revised"
        errors.raise_if_any()
        self._held(actor=actor, held_on=held_on, outcome=outcome, notes=notes)
        if self.every_months is None:
            return None
        return add_months(held_on, self.every_months)  # type: ignore[arg-type]

    @event("Held")
    def _held(self, *, actor: str, held_on: date, outcome: str, notes: str) -> None:
        self.status, self.held_on, self.outcome, self.notes = HELD, held_on, outcome, notes
