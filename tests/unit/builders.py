"""State built through the aggregates' public commands, and the replay every aggregate must pass."""

from __future__ import annotations

from collections.abc import Sequence

from eventsourcing.domain import Aggregate, CanMutateAggregate

from domain.initiative import ADOPT, DO, PHASES, STUDY, Initiative

LEE, SAM = "account-lee", "account-sam"
FAMILY_VOICE, CHILD_SAFETY = "value-family-voice", "value-child-safety"
KNOWN_VALUES = {FAMILY_VOICE, CHILD_SAFETY}


def a_plan(**changes: object) -> dict[str, object]:
    plan: dict[str, object] = {
        "value_id": FAMILY_VOICE,
        "objective": "Parents take part in their family team meeting",
        "questions": "Do parents come when the caseworker calls ahead?",
        "prediction": "Attendance rises from 40% to 60% within a month",
        "measure": "Share of family team meetings with a parent present",
        "measure_id": "",
        "intervention": "The caseworker phones the parent two days before the meeting",
        "training_step": "Supervisors coach the call script in unit meetings",
        "logistics": "North office, unit 3, during March",
    }
    plan.update(changes)
    return plan


def an_initiative(**changes: object) -> Initiative:
    charter: dict[str, object] = {
        "actor": LEE,
        "title": "Families at the table",
        "problem": "Consumer feedback says families do not feel included in case planning",
        "aim": "Parents attend 80% of family team meetings by December",
        "value_ids": [FAMILY_VOICE],
        "team": [
            {"name": "Dana Ruiz", "kind": "staff", "role": "CQI lead"},
            {"name": "Parent Partners Council", "kind": "consumer", "role": "advisor"},
        ],
        "known_value_ids": KNOWN_VALUES,
    }
    charter.update(changes)
    return Initiative.open(**charter)  # type: ignore[arg-type]


def record(initiative: Initiative, number: int, step: str, decision: str = ADOPT) -> None:
    """Record one phase after Plan (do, study or act) with ordinary content."""
    if step == DO:
        initiative.record_do(actor=LEE, number=number, observations="12 of 20 parents came")
    elif step == STUDY:
        initiative.record_study(
            actor=LEE, number=number, result="60% against a predicted 60%",
            learning="A call ahead works; evening meetings work better still",
        )
    else:
        initiative.decide_act(
            actor=LEE, number=number, decision=decision, rationale="The prediction held",
        )


def a_cycle_in(initiative: Initiative, phase: str, decision: str = ADOPT) -> int:
    """Plan a cycle and record its phases up to and including `phase`; returns its number."""
    number = initiative.plan_cycle(actor=LEE, plan=a_plan(), known_value_ids=KNOWN_VALUES)
    for step in PHASES[1 : PHASES.index(phase) + 1]:
        record(initiative, number, step, decision)
    return number


def replay(events: Sequence[CanMutateAggregate]) -> Aggregate:
    """Rebuild an aggregate from its events alone, as the event store does."""
    aggregate = events[0].mutate(None)
    for event in events[1:]:
        aggregate = event.mutate(aggregate)
    assert aggregate is not None
    return aggregate


def event_names(events: Sequence[object]) -> list[str]:
    return [type(event).__name__ for event in events]


def assert_versions_count_up_by_one(events: Sequence[CanMutateAggregate]) -> None:
    assert [event.originator_version for event in events] == list(range(1, len(events) + 1))
