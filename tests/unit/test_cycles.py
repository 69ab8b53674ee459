"""PDSA cycles inside an initiative: numbering, phase order, the Act decision, plan revisions."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from domain.errors import (
    CycleClosedError,
    CycleOpenError,
    NotFoundError,
    PhaseOrderError,
    ValidationError,
)
from domain.initiative import (
    ABANDON,
    ACT,
    ADAPT,
    ADOPT,
    DO,
    PLAN,
    REQUIRED_PLAN_FIELDS,
    STUDY,
    Initiative,
)
from tests.unit.builders import (
    CHILD_SAFETY,
    FAMILY_VOICE,
    KNOWN_VALUES,
    LEE,
    SAM,
    a_cycle_in,
    a_plan,
    an_initiative,
    event_names,
    record,
    replay,
)

# --- planning --------------------------------------------------------------------------------


def test_a_planned_cycle_keeps_its_plan_and_awaits_do() -> None:
    initiative = an_initiative()
    number = initiative.plan_cycle(
        actor=LEE, plan=a_plan(objective="  Parents take part  "), known_value_ids=KNOWN_VALUES,
    )
    cycle = initiative.cycle(number)

    assert number == 1
    assert cycle.phase == PLAN
    assert cycle.next_phase == DO
    assert not cycle.is_closed
    assert cycle.objective == "Parents take part"
    assert cycle.plan() == a_plan(objective="Parents take part")
    assert cycle.adapted_from is None
    assert initiative.current_cycle is cycle


def test_cycles_are_numbered_one_to_n_in_order() -> None:
    initiative = an_initiative()
    first = a_cycle_in(initiative, ACT, decision=ADOPT)
    second = a_cycle_in(initiative, STUDY)
    third = initiative.decide_act(actor=LEE, number=second, decision=ADAPT, rationale="r")
    for step in (DO, STUDY, ACT):
        record(initiative, 3, step, decision=ABANDON)
    fourth = a_cycle_in(initiative, PLAN)

    assert [first, second, third, fourth] == [1, 2, 3, 4]
    assert [cycle.number for cycle in initiative.cycles] == [1, 2, 3, 4]


def test_questions_and_logistics_are_optional_in_a_plan() -> None:
    initiative = an_initiative()
    initiative.plan_cycle(
        actor=LEE, plan=a_plan(questions=None, logistics=""), known_value_ids=KNOWN_VALUES,
    )
    assert (initiative.cycle(1).questions, initiative.cycle(1).logistics) == ("", "")


def test_a_plan_needs_every_required_field() -> None:
    initiative = an_initiative()
    with pytest.raises(ValidationError) as refused:
        initiative.plan_cycle(actor=LEE, plan={}, known_value_ids=KNOWN_VALUES)
    assert refused.value.errors == {
        name: "is required" for name in (*REQUIRED_PLAN_FIELDS, "measure")}
    assert initiative.cycles == []


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({"value_id": "value-speed"}, {"value_id": "is not one of the agency's values"}),
        ({"measure": " "}, {"measure": "is required"}),
        ({"prediction": 60}, {"prediction": "must be text"}),
        ({"questions": "q" * 2001}, {"questions": "must be at most 2000 characters"}),
    ],
)
def test_a_plan_with_a_bad_field_is_refused_field_by_field(
    changes: dict[str, object], errors: dict[str, str]
) -> None:
    initiative = an_initiative()
    with pytest.raises(ValidationError) as refused:
        initiative.plan_cycle(actor=LEE, plan=a_plan(**changes), known_value_ids=KNOWN_VALUES)
    assert refused.value.errors == errors


def test_a_cycle_may_serve_any_agency_value_not_only_the_initiatives() -> None:
    initiative = an_initiative(value_ids=[FAMILY_VOICE])
    initiative.plan_cycle(
        actor=LEE, plan=a_plan(value_id=CHILD_SAFETY), known_value_ids=KNOWN_VALUES,
    )
    assert initiative.cycle(1).value_id == CHILD_SAFETY


@pytest.mark.parametrize(("phase", "name"), [(PLAN, "Plan"), (DO, "Do"), (STUDY, "Study")])
def test_a_new_cycle_cannot_be_planned_while_one_is_open(phase: str, name: str) -> None:
    initiative = an_initiative()
    a_cycle_in(initiative, phase)
    with pytest.raises(CycleOpenError) as refused:
        initiative.plan_cycle(actor=LEE, plan=a_plan(), known_value_ids=KNOWN_VALUES)
    assert refused.value.reason == (
        f"Cycle 1 is still open (in {name}); "
        "finish it with an Act decision before planning the next."
    )
    assert len(initiative.cycles) == 1


# --- phases ----------------------------------------------------------------------------------


def test_a_cycle_moves_through_do_study_and_act_keeping_what_was_recorded() -> None:
    initiative = an_initiative()
    initiative.plan_cycle(actor=LEE, plan=a_plan(), known_value_ids=KNOWN_VALUES)

    initiative.record_do(
        actor=LEE, number=1, observations=" 12 of 20 came ", data_collected="sign-in sheets",
    )
    assert initiative.cycle(1).phase == DO
    assert initiative.cycle(1).observations == "12 of 20 came"
    assert initiative.cycle(1).data_collected == "sign-in sheets"

    initiative.record_study(actor=LEE, number=1, result="60%", learning="Calls work")
    assert initiative.cycle(1).phase == STUDY
    assert (initiative.cycle(1).result, initiative.cycle(1).learning) == ("60%", "Calls work")

    initiative.decide_act(actor=LEE, number=1, decision=ADOPT, rationale="Prediction held")
    cycle = initiative.cycle(1)
    assert (cycle.phase, cycle.decision, cycle.rationale) == (ACT, ADOPT, "Prediction held")
    assert cycle.is_closed
    assert cycle.next_phase is None


def test_data_collected_is_optional_when_do_is_recorded() -> None:
    initiative = an_initiative()
    a_cycle_in(initiative, PLAN)
    initiative.record_do(actor=LEE, number=1, observations="Went as planned")
    assert initiative.cycle(1).data_collected == ""


@pytest.mark.parametrize(
    ("phase", "step", "reason"),
    [
        (PLAN, STUDY, "Cycle 1 is in Plan: record Do before Study."),
        (PLAN, ACT, "Cycle 1 is in Plan: record Do before Act."),
        (DO, DO, "Cycle 1 has already recorded Do; next is Study."),
        (DO, ACT, "Cycle 1 is in Do: record Study before Act."),
        (STUDY, DO, "Cycle 1 has already recorded Do; next is Act."),
        (STUDY, STUDY, "Cycle 1 has already recorded Study; next is Act."),
    ],
)
def test_a_phase_recorded_out_of_order_is_refused_saying_what_comes_next(
    phase: str, step: str, reason: str
) -> None:
    initiative = an_initiative()
    a_cycle_in(initiative, phase)
    version = initiative.version

    with pytest.raises(PhaseOrderError) as refused:
        record(initiative, 1, step)
    assert refused.value.reason == reason
    assert initiative.cycle(1).phase == phase
    assert initiative.version == version


def test_a_cycle_cannot_be_studied_before_it_is_done() -> None:
    initiative = an_initiative()
    a_cycle_in(initiative, PLAN)
    with pytest.raises(PhaseOrderError, match="record Do before Study"):
        initiative.record_study(actor=LEE, number=1, result="r", learning="l")


@pytest.mark.parametrize("step", [DO, STUDY, ACT])
def test_a_closed_cycle_takes_no_more_phases(step: str) -> None:
    initiative = an_initiative()
    a_cycle_in(initiative, ACT, decision=ADOPT)
    with pytest.raises(CycleClosedError) as refused:
        record(initiative, 1, step)
    assert refused.value.reason == "Cycle 1 is closed (decision: adopt); plan a new cycle instead."


def test_a_cycle_closed_by_adapt_points_to_the_cycle_it_opened() -> None:
    initiative = an_initiative()
    a_cycle_in(initiative, ACT, decision=ADAPT)
    with pytest.raises(CycleClosedError) as refused:
        record(initiative, 1, DO)
    assert refused.value.reason == (
        "Cycle 1 is closed (decision: adapt); continue in cycle 2 instead."
    )


def test_once_the_adapted_cycle_is_closed_too_the_advice_is_to_plan_a_new_cycle() -> None:
    initiative = an_initiative()
    a_cycle_in(initiative, ACT, decision=ADAPT)
    for step in (DO, STUDY, ACT):
        record(initiative, 2, step, decision=ADOPT)
    with pytest.raises(CycleClosedError) as refused:
        record(initiative, 1, STUDY)
    assert refused.value.reason == "Cycle 1 is closed (decision: adapt); plan a new cycle instead."


UNKNOWN_CYCLE_COMMANDS: dict[str, Callable[[Initiative, int], object]] = {
    "revise plan": lambda i, n: i.revise_plan(
        actor=LEE, number=n, plan=a_plan(), known_value_ids=KNOWN_VALUES),
    "record do": lambda i, n: i.record_do(actor=LEE, number=n, observations="o"),
    "record study": lambda i, n: i.record_study(actor=LEE, number=n, result="r", learning="l"),
    "decide act": lambda i, n: i.decide_act(actor=LEE, number=n, decision=ADOPT, rationale="r"),
    "look up": lambda i, n: i.cycle(n),
}


@pytest.mark.parametrize("number", [0, -1, 2])
@pytest.mark.parametrize(
    "command", UNKNOWN_CYCLE_COMMANDS.values(), ids=UNKNOWN_CYCLE_COMMANDS.keys()
)
def test_a_cycle_number_the_initiative_does_not_have_is_not_found(
    command: Callable[[Initiative, int], object], number: int
) -> None:
    initiative = an_initiative()
    a_cycle_in(initiative, PLAN)
    with pytest.raises(NotFoundError) as refused:
        command(initiative, number)
    assert refused.value.reason == f"This initiative has no cycle {number}."


def test_do_needs_observations() -> None:
    initiative = an_initiative()
    a_cycle_in(initiative, PLAN)
    with pytest.raises(ValidationError) as refused:
        initiative.record_do(actor=LEE, number=1, observations=" ", data_collected=7)
    assert refused.value.errors == {"observations": "is required", "data_collected": "must be text"}
    assert initiative.cycle(1).phase == PLAN


def test_study_needs_a_result_and_what_was_learned() -> None:
    initiative = an_initiative()
    a_cycle_in(initiative, DO)
    with pytest.raises(ValidationError) as refused:
        initiative.record_study(actor=LEE, number=1, result="", learning=None)
    assert refused.value.errors == {"result": "is required", "learning": "is required"}
    assert initiative.cycle(1).phase == DO


@pytest.mark.parametrize("decision", ["keep", "", None, "Adopt"])
def test_act_needs_a_known_decision_and_a_rationale(decision: object) -> None:
    initiative = an_initiative()
    a_cycle_in(initiative, STUDY)
    with pytest.raises(ValidationError) as refused:
        initiative.decide_act(actor=LEE, number=1, decision=decision, rationale="")
    assert refused.value.errors == {
        "decision": "must be one of: adopt, adapt, abandon",
        "rationale": "is required",
    }
    assert initiative.cycle(1).phase == STUDY
    assert len(initiative.cycles) == 1


# --- the Act decision ------------------------------------------------------------------------


def test_adapt_opens_the_next_cycle_pre_filled_from_the_previous_plan() -> None:
    initiative = an_initiative()
    a_cycle_in(initiative, STUDY)

    opened = initiative.decide_act(actor=SAM, number=1, decision=ADAPT, rationale="Try evenings")

    assert opened == 2
    adapted = initiative.cycle(2)
    assert adapted.plan() == initiative.cycle(1).plan()
    assert adapted.adapted_from == 1
    assert adapted.phase == PLAN
    assert (adapted.observations, adapted.result, adapted.decision) == ("", "", "")
    assert initiative.current_cycle is adapted
    events = initiative.collect_events()
    assert event_names(events[-2:]) == ["ActDecided", "CyclePlanned"]
    assert events[-1].adapted_from == 1
    assert events[-1].actor == SAM


@pytest.mark.parametrize("decision", [ADOPT, ABANDON])
def test_adopt_and_abandon_open_no_next_cycle(decision: str) -> None:
    initiative = an_initiative()
    a_cycle_in(initiative, STUDY)

    assert initiative.decide_act(actor=LEE, number=1, decision=decision, rationale="r") is None
    assert len(initiative.cycles) == 1
    assert initiative.current_cycle.is_closed  # type: ignore[union-attr]

    number = initiative.plan_cycle(actor=LEE, plan=a_plan(), known_value_ids=KNOWN_VALUES)
    assert initiative.cycle(number).adapted_from is None


# --- revising a plan -------------------------------------------------------------------------


def test_an_adapted_plan_can_be_revised_before_its_do() -> None:
    initiative = an_initiative()
    a_cycle_in(initiative, ACT, decision=ADAPT)

    initiative.revise_plan(
        actor=SAM, number=2, plan=a_plan(intervention=" Meet in the evening "),
        known_value_ids=KNOWN_VALUES,
    )

    cycle = initiative.cycle(2)
    assert cycle.intervention == "Meet in the evening"
    assert (cycle.number, cycle.adapted_from, cycle.phase) == (2, 1, PLAN)
    assert initiative.cycle(1).intervention != "Meet in the evening"


def test_a_revised_plan_is_validated_like_a_new_one() -> None:
    initiative = an_initiative()
    a_cycle_in(initiative, PLAN)
    with pytest.raises(ValidationError) as refused:
        initiative.revise_plan(
            actor=LEE, number=1, plan=a_plan(value_id="value-speed", objective=""),
            known_value_ids=KNOWN_VALUES,
        )
    assert refused.value.errors == {
        "value_id": "is not one of the agency's values",
        "objective": "is required",
    }
    assert initiative.cycle(1).plan() == a_plan()


@pytest.mark.parametrize(("phase", "name"), [(DO, "Do"), (STUDY, "Study")])
def test_a_plan_cannot_change_once_do_is_recorded(phase: str, name: str) -> None:
    initiative = an_initiative()
    a_cycle_in(initiative, phase)
    with pytest.raises(PhaseOrderError) as refused:
        initiative.revise_plan(actor=LEE, number=1, plan=a_plan(), known_value_ids=KNOWN_VALUES)
    assert refused.value.reason == (
        f"Cycle 1 is past its Plan (in {name}); the plan can no longer change."
    )


def test_the_plan_of_a_closed_cycle_cannot_change() -> None:
    initiative = an_initiative()
    a_cycle_in(initiative, ACT, decision=ABANDON)
    with pytest.raises(CycleClosedError) as refused:
        initiative.revise_plan(actor=LEE, number=1, plan=a_plan(), known_value_ids=KNOWN_VALUES)
    assert refused.value.reason == (
        "Cycle 1 is closed (decision: abandon); plan a new cycle instead."
    )


# --- events ----------------------------------------------------------------------------------


def test_every_cycle_event_carries_the_actor_and_the_cycle_number() -> None:
    initiative = an_initiative()
    initiative.collect_events()
    initiative.plan_cycle(actor=SAM, plan=a_plan(), known_value_ids=KNOWN_VALUES)
    initiative.revise_plan(actor=SAM, number=1, plan=a_plan(), known_value_ids=KNOWN_VALUES)
    initiative.record_do(actor=SAM, number=1, observations="o")
    initiative.record_study(actor=SAM, number=1, result="r", learning="l")
    initiative.decide_act(actor=SAM, number=1, decision=ADAPT, rationale="r")

    events = initiative.collect_events()
    assert event_names(events) == [
        "CyclePlanned", "CyclePlanRevised", "DoRecorded", "StudyRecorded", "ActDecided",
        "CyclePlanned",
    ]
    assert {event.actor for event in events} == {SAM}
    assert [event.number for event in events] == [1, 1, 1, 1, 1, 2]


def base_fields() -> set[str]:
    return {"originator_id", "originator_version", "timestamp", "actor", "number"}


@pytest.mark.parametrize(
    ("name", "intent"),
    [
        ("DoRecorded", {"observations", "data_collected", "started_on"}),
        ("StudyRecorded", {"result", "learning", "studied_on"}),
        ("ActDecided", {"decision", "rationale"}),
    ],
)
def test_each_phase_event_carries_what_the_phase_means_not_field_edits(
    name: str, intent: set[str]
) -> None:
    initiative = an_initiative()
    a_cycle_in(initiative, ACT)
    (event,) = [e for e in initiative.collect_events() if type(e).__name__ == name]
    assert set(vars(event)) == base_fields() | intent


def test_replaying_cycles_gives_the_same_cycles() -> None:
    initiative = an_initiative()
    a_cycle_in(initiative, ACT, decision=ADAPT)
    record(initiative, 2, DO)
    replayed = replay(initiative.collect_events())
    assert replayed == initiative
    assert replayed.cycles == initiative.cycles  # type: ignore[attr-defined]
