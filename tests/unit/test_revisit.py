"""Scheduled revisits of the mission, vision and values, and the calendar arithmetic behind them."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from domain.errors import RevisitHeldError, ValidationError
from domain.revisit import HELD, REAFFIRMED, REVISED, SCHEDULED, Revisit, add_months, days_overdue
from tests.unit.builders import (
    LEE,
    SAM,
    assert_versions_count_up_by_one,
    event_names,
    replay,
)

SAFETY = "value-safety"
KNOWN_VALUES = {SAFETY}
DUE = date(2025, 3, 31)

LONG_AFTER = date(2099, 12, 31)


def hold(revisit: Revisit, **details: object) -> date | None:
    """Complete the revisit on a "today" long after any date these tests use."""
    return revisit.complete(today=LONG_AFTER, **details)  # type: ignore[arg-type]


def a_revisit(**changes: object) -> Revisit:
    schedule: dict[str, object] = {
        "actor": LEE,
        "subject": "values",
        "due_on": DUE,
        "participants": ["Leadership team", "Parent Partners Council"],
        "every_months": 12,
        "known_value_ids": KNOWN_VALUES,
    }
    schedule.update(changes)
    return Revisit.schedule(**schedule)  # type: ignore[arg-type]


# --- calendar arithmetic ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2023, 1, 31), 1, date(2023, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2024, 2, 29), 48, date(2028, 2, 29)),
        (date(2025, 3, 31), 1, date(2025, 4, 30)),
        (date(2025, 8, 31), 6, date(2026, 2, 28)),
        (date(2024, 12, 31), 1, date(2025, 1, 31)),
        (date(2024, 11, 15), 3, date(2025, 2, 15)),
        (date(2024, 12, 15), 12, date(2025, 12, 15)),
        (date(2024, 1, 15), 120, date(2034, 1, 15)),
        (date(2024, 5, 20), 0, date(2024, 5, 20)),
        (date(2024, 3, 31), -1, date(2024, 2, 29)),
        (date(2025, 1, 15), -1, date(2024, 12, 15)),
    ],
)
def test_adding_months_keeps_the_day_or_clamps_it_to_the_months_end(
    day: date, months: int, expected: date
) -> None:
    assert add_months(day, months) == expected


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2025, 3, 30), 0),
        (date(2025, 3, 31), 0),
        (date(2025, 4, 1), 1),
        (date(2025, 4, 30), 30),
        (date(2026, 3, 31), 365),
        (date(2020, 1, 1), 0),
    ],
)
def test_days_overdue_are_counted_in_days_and_are_zero_until_due(
    today: date, expected: int
) -> None:
    assert days_overdue(DUE, today) == expected


def test_days_overdue_count_the_leap_day() -> None:
    assert days_overdue(date(2024, 2, 28), date(2024, 3, 1)) == 2
    assert days_overdue(date(2023, 2, 28), date(2023, 3, 1)) == 1


# --- scheduling ------------------------------------------------------------------------------


@pytest.mark.parametrize("subject", ["mission", "vision", "values", SAFETY])
def test_a_revisit_reviews_the_mission_the_vision_the_values_or_one_value(subject: str) -> None:
    revisit = a_revisit(subject=subject)
    assert revisit.subject == subject
    assert revisit.status == SCHEDULED
    assert revisit.due_on == DUE
    assert revisit.every_months == 12
    assert revisit.held_on is None


@pytest.mark.parametrize("subject", ["Mission", "value-retired", "", None])
def test_a_revisit_of_anything_else_is_refused(subject: object) -> None:
    with pytest.raises(ValidationError) as refused:
        a_revisit(subject=subject)
    assert refused.value.errors == {
        "subject": "must be mission, vision, values, or the id of one value"
    }


@pytest.mark.parametrize(
    "due_on", ["2025-03-31", None, datetime(2025, 3, 31, 9, 0, tzinfo=UTC)]
)
def test_a_revisit_is_due_on_a_calendar_date(due_on: object) -> None:
    with pytest.raises(ValidationError) as refused:
        a_revisit(due_on=due_on)
    assert refused.value.errors == {"due_on": "must be a date"}


def test_participants_are_trimmed_and_named_once() -> None:
    revisit = a_revisit(participants=[" Leadership team ", "Leadership team", "Youth board"])
    assert revisit.participants == ["Leadership team", "Youth board"]


@pytest.mark.parametrize("participants", [[], None, "Leadership team"])
def test_a_revisit_needs_a_list_of_at_least_one_participant(participants: object) -> None:
    with pytest.raises(ValidationError) as refused:
        a_revisit(participants=participants)
    assert refused.value.errors == {"participants": "name at least one participant"}


def test_every_participant_needs_a_name() -> None:
    with pytest.raises(ValidationError) as refused:
        a_revisit(participants=["Leadership team", " ", "p" * 201])
    assert refused.value.errors == {
        "participants[1]": "is required",
        "participants[2]": "must be at most 200 characters",
    }


@pytest.mark.parametrize("every_months", [1, 120, None])
def test_a_revisit_cadence_is_1_to_120_months_or_none(every_months: int | None) -> None:
    assert a_revisit(every_months=every_months).every_months == every_months


@pytest.mark.parametrize("every_months", [0, 121, -1, True, 12.5, "12"])
def test_a_revisit_cadence_outside_1_to_120_whole_months_is_refused(every_months: object) -> None:
    with pytest.raises(ValidationError) as refused:
        a_revisit(every_months=every_months)
    assert refused.value.errors == {"every_months": "must be a whole number from 1 to 120"}


def test_every_scheduling_error_is_reported_at_once() -> None:
    with pytest.raises(ValidationError) as refused:
        a_revisit(subject="policy", due_on="soon", participants=[], every_months=0)
    assert set(refused.value.errors) == {"subject", "due_on", "participants", "every_months"}


# --- rescheduling ----------------------------------------------------------------------------


def test_a_revisit_can_be_rescheduled_with_a_reason() -> None:
    revisit = a_revisit()
    revisit.reschedule(actor=SAM, due_on=date(2025, 5, 15), reason="Board meets in May")
    assert revisit.due_on == date(2025, 5, 15)
    assert revisit.status == SCHEDULED


def test_rescheduling_needs_a_date_and_a_reason() -> None:
    revisit = a_revisit()
    with pytest.raises(ValidationError) as refused:
        revisit.reschedule(actor=LEE, due_on=datetime(2025, 5, 15, tzinfo=UTC),
                           reason="")
    assert refused.value.errors == {"due_on": "must be a date", "reason": "is required"}
    assert revisit.due_on == DUE


# --- holding ---------------------------------------------------------------------------------


def test_a_held_revisit_keeps_its_outcome_and_returns_when_the_next_is_due() -> None:
    revisit = a_revisit(every_months=12)
    next_due = revisit.complete(today=LONG_AFTER,
        actor=SAM, held_on=date(2024, 2, 29), outcome=REAFFIRMED, notes="",
    )
    assert next_due == date(2025, 2, 28)
    assert (revisit.status, revisit.held_on, revisit.outcome, revisit.notes) == (
        HELD, date(2024, 2, 29), REAFFIRMED, "",
    )


def test_without_a_cadence_a_held_revisit_makes_no_next_one_due() -> None:
    revisit = a_revisit(every_months=None)
    assert hold(revisit, actor=LEE, held_on=DUE, outcome=REAFFIRMED, notes="") is None
    assert revisit.status == HELD


def test_the_next_revisit_is_due_a_cadence_after_it_was_held_not_after_it_was_due() -> None:
    revisit = a_revisit(due_on=date(2025, 1, 31), every_months=6)
    next_due = hold(revisit, actor=LEE, held_on=date(2025, 3, 10), outcome=REAFFIRMED,
                                notes="")
    assert next_due == date(2025, 9, 10)


def test_a_revised_outcome_keeps_its_notes() -> None:
    revisit = a_revisit()
    hold(revisit, actor=LEE, held_on=DUE, outcome=REVISED, notes=" Added family voice ")
    assert (revisit.outcome, revisit.notes) == (REVISED, "Added family voice")


@pytest.mark.parametrize("notes", ["", "   ", None])
def test_a_revised_outcome_must_say_what_was_revised(notes: object) -> None:
    revisit = a_revisit()
    with pytest.raises(ValidationError) as refused:
        hold(revisit, actor=LEE, held_on=DUE, outcome=REVISED, notes=notes)
    assert refused.value.errors == {"notes": "say what was revised"}
    assert revisit.status == SCHEDULED


@pytest.mark.parametrize(
    ("held_on", "outcome", "errors"),
    [
        ("2025-03-31", REAFFIRMED, {"held_on": "must be a date"}),
        (datetime(2025, 3, 31, tzinfo=UTC), REAFFIRMED, {"held_on": "must be a date"}),
        (DUE, "postponed", {"outcome": "must be one of: reaffirmed, revised"}),
        (None, None, {"held_on": "must be a date",
                      "outcome": "must be one of: reaffirmed, revised"}),
    ],
)
def test_holding_a_revisit_needs_a_date_and_a_known_outcome(
    held_on: object, outcome: object, errors: dict[str, str]
) -> None:
    revisit = a_revisit()
    with pytest.raises(ValidationError) as refused:
        hold(revisit, actor=LEE, held_on=held_on, outcome=outcome, notes="")
    assert refused.value.errors == errors
    assert revisit.status == SCHEDULED


def test_notes_are_at_most_5000_characters() -> None:
    revisit = a_revisit()
    with pytest.raises(ValidationError) as refused:
        hold(revisit, actor=LEE, held_on=DUE, outcome=REVISED, notes="n" * 5001)
    assert refused.value.errors == {"notes": "must be at most 5000 characters"}


def test_a_held_revisit_cannot_be_held_again() -> None:
    revisit = a_revisit()
    hold(revisit, actor=LEE, held_on=date(2025, 3, 28), outcome=REAFFIRMED, notes="")
    with pytest.raises(RevisitHeldError) as refused:
        hold(revisit, actor=LEE, held_on=DUE, outcome=REVISED, notes="Changed")
    assert refused.value.reason == "This revisit was already held on 2025-03-28."
    assert revisit.outcome == REAFFIRMED


def test_a_held_revisit_cannot_be_rescheduled() -> None:
    revisit = a_revisit()
    hold(revisit, actor=LEE, held_on=date(2025, 3, 28), outcome=REAFFIRMED, notes="")
    with pytest.raises(RevisitHeldError) as refused:
        revisit.reschedule(actor=LEE, due_on=date(2025, 6, 1), reason="Again")
    assert refused.value.reason == "This revisit was already held on 2025-03-28."
    assert revisit.due_on == DUE


# --- events ----------------------------------------------------------------------------------


def a_full_history() -> Revisit:
    revisit = a_revisit()
    revisit.reschedule(actor=SAM, due_on=date(2025, 4, 30), reason="Board meets in April")
    hold(revisit, actor=SAM, held_on=date(2025, 4, 29), outcome=REVISED, notes="New value")
    return revisit


def test_a_revisit_records_each_change_as_a_past_tense_fact_with_its_actor() -> None:
    events = a_full_history().collect_events()
    assert event_names(events) == ["Scheduled", "Rescheduled", "Held"]
    assert [event.actor for event in events] == [LEE, SAM, SAM]
    assert events[1].reason == "Board meets in April"


def test_replaying_a_revisit_history_gives_the_same_revisit() -> None:
    revisit = a_full_history()
    events = revisit.collect_events()
    assert_versions_count_up_by_one(events)
    replayed = replay(events)
    assert replayed == revisit
    assert isinstance(replayed, Revisit)
    assert (replayed.status, replayed.due_on, replayed.notes) == (
        HELD, date(2025, 4, 30), "New value",
    )


def test_a_revisit_cannot_be_recorded_as_held_after_today() -> None:
    revisit = a_revisit()
    with pytest.raises(ValidationError) as refused:
        revisit.complete(actor=LEE, held_on=date(2025, 3, 11), outcome=REAFFIRMED, notes="",
                         today=date(2025, 3, 10))
    assert refused.value.errors == {"held_on": "cannot be after today (2025-03-10)"}
    assert revisit.status == SCHEDULED  # nothing recorded
    revisit.complete(actor=LEE, held_on=date(2025, 3, 10), outcome=REAFFIRMED, notes="",
                     today=date(2025, 3, 10))
    assert revisit.held_on == date(2025, 3, 10)
