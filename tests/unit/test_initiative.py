"""An initiative: its charter, its team, its status, how it concludes, and its events."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from domain.errors import (
    CycleOpenError,
    InitiativeConcludedError,
    PhaseOrderError,
    ValidationError,
)
from domain.initiative import (
    ABANDON,
    ABANDONED,
    ACT,
    ACTIVE,
    ADAPT,
    ADOPT,
    CLOSED,
    DO,
    PLAN,
    PROPOSED,
    STUDY,
    SUSTAINED,
    TEAM_KINDS,
    Initiative,
    TeamMember,
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
    assert_versions_count_up_by_one,
    event_names,
    record,
    replay,
)

# --- opening ---------------------------------------------------------------------------------


def test_an_opened_initiative_keeps_its_charter_and_team_and_is_proposed() -> None:
    initiative = an_initiative(title="  Families at the table  ")

    assert initiative.title == "Families at the table"
    assert initiative.problem.startswith("Consumer feedback")
    assert initiative.aim.startswith("Parents attend 80%")
    assert initiative.value_ids == [FAMILY_VOICE]
    assert initiative.team == [
        TeamMember(name="Dana Ruiz", kind="staff", role="CQI lead"),
        TeamMember(name="Parent Partners Council", kind="consumer", role="advisor"),
    ]
    assert initiative.status == PROPOSED
    assert initiative.cycles == []
    assert initiative.current_cycle is None
    assert not initiative.is_concluded


@pytest.mark.parametrize("field", ["title", "problem", "aim"])
@pytest.mark.parametrize("blank", ["", "   ", None])
def test_an_initiative_cannot_open_without_a_title_problem_or_aim(
    field: str, blank: object
) -> None:
    with pytest.raises(ValidationError) as refused:
        an_initiative(**{field: blank})
    assert refused.value.errors == {field: "is required"}


def test_an_initiative_title_is_at_most_200_characters() -> None:
    an_initiative(title="t" * 200)
    with pytest.raises(ValidationError) as refused:
        an_initiative(title="t" * 201)
    assert refused.value.errors == {"title": "must be at most 200 characters"}


def test_a_charter_field_that_is_not_text_is_refused() -> None:
    with pytest.raises(ValidationError) as refused:
        an_initiative(aim=80)
    assert refused.value.errors == {"aim": "must be text"}


def test_every_charter_error_is_reported_at_once() -> None:
    with pytest.raises(ValidationError) as refused:
        an_initiative(title="", problem="", aim="", value_ids=[])
    assert set(refused.value.errors) == {"title", "problem", "aim", "value_ids"}
    assert "title: is required" in refused.value.reason


@pytest.mark.parametrize("value_ids", [[], None, FAMILY_VOICE, (FAMILY_VOICE,)])
def test_an_initiative_must_serve_at_least_one_value_named_in_a_list(value_ids: object) -> None:
    with pytest.raises(ValidationError) as refused:
        an_initiative(value_ids=value_ids)
    assert refused.value.errors == {
        "value_ids": "name at least one of the agency's values this initiative serves"
    }


def test_an_initiative_cannot_serve_a_value_the_agency_does_not_have() -> None:
    with pytest.raises(ValidationError) as refused:
        an_initiative(value_ids=[FAMILY_VOICE, "value-speed"])
    assert refused.value.errors == {"value_ids": "value-speed is not one of the agency's values"}


def test_a_value_named_twice_is_served_once_in_the_order_given() -> None:
    initiative = an_initiative(value_ids=[CHILD_SAFETY, FAMILY_VOICE, CHILD_SAFETY])
    assert initiative.value_ids == [CHILD_SAFETY, FAMILY_VOICE]


@pytest.mark.parametrize("kind", TEAM_KINDS)
def test_staff_stakeholders_and_consumer_groups_can_all_be_on_the_team(kind: str) -> None:
    initiative = an_initiative(team=[{"name": "Pat", "kind": kind, "role": "member"}])
    assert initiative.team == [TeamMember(name="Pat", kind=kind, role="member")]


def test_an_initiative_can_open_with_no_team_yet() -> None:
    assert an_initiative(team=[]).team == []


@pytest.mark.parametrize(
    ("member", "errors"),
    [
        ({"name": "Pat", "kind": "volunteer", "role": "helper"},
         {"team[1].kind": "must be one of: staff, stakeholder, consumer"}),
        ({"name": "Pat", "role": "helper"},
         {"team[1].kind": "must be one of: staff, stakeholder, consumer"}),
        ({"name": " ", "kind": "staff", "role": "helper"}, {"team[1].name": "is required"}),
        ({"name": "Pat", "kind": "staff"}, {"team[1].role": "is required"}),
        ({"name": "P" * 201, "kind": "staff", "role": "helper"},
         {"team[1].name": "must be at most 200 characters"}),
    ],
)
def test_each_team_member_needs_a_name_a_known_kind_and_a_role(
    member: dict[str, object], errors: dict[str, str]
) -> None:
    team = [{"name": "Dana Ruiz", "kind": "staff", "role": "CQI lead"}, member]
    with pytest.raises(ValidationError) as refused:
        an_initiative(team=team)
    assert refused.value.errors == errors


def test_the_same_person_cannot_be_on_the_opening_team_twice() -> None:
    team = [
        {"name": "Dana Ruiz", "kind": "staff", "role": "CQI lead"},
        {"name": "dana ruiz ", "kind": "staff", "role": "data coach"},
    ]
    with pytest.raises(ValidationError) as refused:
        an_initiative(team=team)
    assert refused.value.errors == {"team[1].name": "dana ruiz is already on the team"}


# --- charter and team changes ----------------------------------------------------------------


def test_a_charter_revision_replaces_title_problem_aim_and_values() -> None:
    initiative = an_initiative()
    initiative.revise_charter(
        actor=SAM, title="Families lead", problem="Parents feel unheard", aim="90% by June",
        value_ids=[CHILD_SAFETY], known_value_ids=KNOWN_VALUES,
    )
    assert (initiative.title, initiative.problem, initiative.aim) == (
        "Families lead", "Parents feel unheard", "90% by June",
    )
    assert initiative.value_ids == [CHILD_SAFETY]


def test_a_charter_revision_is_validated_like_the_opening() -> None:
    initiative = an_initiative()
    with pytest.raises(ValidationError) as refused:
        initiative.revise_charter(
            actor=LEE, title="", problem="p", aim="a", value_ids=["value-retired"],
            known_value_ids=KNOWN_VALUES,
        )
    assert refused.value.errors == {
        "title": "is required",
        "value_ids": "value-retired is not one of the agency's values",
    }
    assert initiative.title == "Families at the table"


def test_a_team_member_can_join_later() -> None:
    initiative = an_initiative()
    initiative.add_team_member(actor=SAM, name=" County Court ", kind="stakeholder", role="judge")
    assert initiative.team[-1] == TeamMember(name="County Court", kind="stakeholder", role="judge")


def test_someone_already_on_the_team_cannot_join_again() -> None:
    initiative = an_initiative()
    with pytest.raises(ValidationError) as refused:
        initiative.add_team_member(actor=LEE, name="DANA RUIZ", kind="staff", role="analyst")
    assert refused.value.errors == {"name": "DANA RUIZ is already on the team"}


def test_a_joining_team_member_is_validated_under_the_form_field_names() -> None:
    initiative = an_initiative()
    with pytest.raises(ValidationError) as refused:
        initiative.add_team_member(actor=LEE, name="", kind="volunteer", role="")
    assert refused.value.errors == {
        "name": "is required",
        "kind": "must be one of: staff, stakeholder, consumer",
        "role": "is required",
    }


# --- status ----------------------------------------------------------------------------------


def test_an_initiative_becomes_active_when_its_first_cycle_is_planned() -> None:
    initiative = an_initiative()
    a_cycle_in(initiative, ACT)
    assert initiative.status == ACTIVE
    a_cycle_in(initiative, PLAN)
    assert initiative.status == ACTIVE


# --- concluding ------------------------------------------------------------------------------


def test_an_initiative_is_sustained_once_a_cycle_has_adopted_its_change() -> None:
    initiative = an_initiative()
    a_cycle_in(initiative, ACT, decision=ADAPT)  # opens cycle 2, pre-filled
    for step in (DO, STUDY, ACT):
        record(initiative, 2, step, decision=ADOPT)
    initiative.conclude(actor=SAM, outcome=SUSTAINED, note="  Now part of the practice model ")

    assert initiative.status == SUSTAINED
    assert initiative.conclusion_note == "Now part of the practice model"
    assert initiative.is_concluded


@pytest.mark.parametrize("decision", [ABANDON, None])
def test_an_initiative_cannot_be_sustained_without_an_adopted_cycle(decision: str | None) -> None:
    initiative = an_initiative()
    if decision is not None:
        a_cycle_in(initiative, ACT, decision=decision)
    with pytest.raises(PhaseOrderError) as refused:
        initiative.conclude(actor=LEE, outcome=SUSTAINED, note="It works")
    assert refused.value.reason == (
        "An initiative is sustained only after a cycle has adopted its change."
    )
    assert initiative.status != SUSTAINED


@pytest.mark.parametrize("outcome", [SUSTAINED, CLOSED])
@pytest.mark.parametrize("phase", [PLAN, DO, STUDY])
def test_an_initiative_cannot_be_sustained_or_closed_while_a_cycle_is_open(
    outcome: str, phase: str
) -> None:
    initiative = an_initiative()
    a_cycle_in(initiative, ACT, decision=ADOPT)
    a_cycle_in(initiative, phase)
    with pytest.raises(CycleOpenError) as refused:
        initiative.conclude(actor=LEE, outcome=outcome, note="Done")
    assert refused.value.reason == (
        f"Cycle 2 is still open; finish it before the initiative is {outcome} "
        "(or abandon the initiative)."
    )
    assert initiative.status == ACTIVE


def test_an_initiative_is_closed_once_its_cycles_are_finished() -> None:
    initiative = an_initiative()
    a_cycle_in(initiative, ACT, decision=ABANDON)
    initiative.conclude(actor=LEE, outcome=CLOSED, note="The change idea did not help")
    assert initiative.status == CLOSED


@pytest.mark.parametrize("phase", [None, PLAN, DO, STUDY, ACT])
def test_an_initiative_can_always_be_abandoned(phase: str | None) -> None:
    initiative = an_initiative()
    if phase is not None:
        a_cycle_in(initiative, phase)
    initiative.conclude(actor=LEE, outcome=ABANDONED, note="Funding ended")
    assert initiative.status == ABANDONED


def test_concluding_needs_a_known_outcome_and_a_note() -> None:
    initiative = an_initiative()
    with pytest.raises(ValidationError) as refused:
        initiative.conclude(actor=LEE, outcome="finished", note=" ")
    assert refused.value.errors == {
        "outcome": "must be one of: sustained, closed, abandoned",
        "note": "is required",
    }
    assert initiative.status == PROPOSED


def conclude(initiative: Initiative) -> None:
    initiative.conclude(actor=LEE, outcome=ABANDONED, note="Funding ended")


AFTER_CONCLUDING: dict[str, Callable[[Initiative], object]] = {
    "conclude again": conclude,
    "plan a cycle": lambda i: i.plan_cycle(
        actor=LEE, plan=a_plan(), known_value_ids=KNOWN_VALUES),
    "revise the charter": lambda i: i.revise_charter(
        actor=LEE, title="t", problem="p", aim="a", value_ids=[FAMILY_VOICE],
        known_value_ids=KNOWN_VALUES),
    "add a team member": lambda i: i.add_team_member(
        actor=LEE, name="Pat", kind="staff", role="analyst"),
    "revise the plan": lambda i: i.revise_plan(
        actor=LEE, number=1, plan=a_plan(), known_value_ids=KNOWN_VALUES),
    "record do": lambda i: i.record_do(actor=LEE, number=1, observations="late"),
}


@pytest.mark.parametrize("command", AFTER_CONCLUDING.values(), ids=AFTER_CONCLUDING.keys())
def test_nothing_changes_an_initiative_after_it_concludes(
    command: Callable[[Initiative], object],
) -> None:
    initiative = an_initiative()
    a_cycle_in(initiative, PLAN)
    conclude(initiative)
    version = initiative.version

    with pytest.raises(InitiativeConcludedError) as refused:
        command(initiative)
    assert refused.value.reason == "The initiative is abandoned; it takes no more changes."
    assert initiative.version == version


# --- events ----------------------------------------------------------------------------------


def a_full_history() -> Initiative:
    initiative = an_initiative()
    initiative.add_team_member(actor=SAM, name="County Court", kind="stakeholder", role="judge")
    initiative.revise_charter(
        actor=LEE, title="Families lead", problem="Parents feel unheard", aim="90% by June",
        value_ids=[FAMILY_VOICE, CHILD_SAFETY], known_value_ids=KNOWN_VALUES,
    )
    a_cycle_in(initiative, ACT, decision=ADAPT)
    initiative.revise_plan(
        actor=SAM, number=2, plan=a_plan(intervention="Evening meetings"),
        known_value_ids=KNOWN_VALUES,
    )
    initiative.record_do(actor=SAM, number=2, observations="15 of 20 came")
    initiative.record_study(actor=SAM, number=2, result="75%", learning="Evenings help")
    initiative.decide_act(actor=SAM, number=2, decision=ADOPT, rationale="Beat the prediction")
    initiative.conclude(actor=SAM, outcome=SUSTAINED, note="In the practice model")
    return initiative


def test_an_initiative_records_each_change_as_a_past_tense_fact() -> None:
    assert event_names(a_full_history().collect_events()) == [
        "Opened", "TeamMemberAdded", "CharterRevised",
        "CyclePlanned", "DoRecorded", "StudyRecorded", "ActDecided",
        "CyclePlanned", "CyclePlanRevised", "DoRecorded", "StudyRecorded", "ActDecided",
        "Concluded",
    ]


def test_every_initiative_event_names_who_did_it() -> None:
    events = a_full_history().collect_events()
    # LEE decided "adapt", so LEE also opened the pre-filled cycle 2; SAM did the rest of it.
    assert [event.actor for event in events] == [LEE, SAM] + [LEE] * 6 + [SAM] * 5


def test_initiative_versions_count_up_by_one_per_event() -> None:
    initiative = a_full_history()
    events = initiative.collect_events()
    assert_versions_count_up_by_one(events)
    assert initiative.version == len(events)


def test_replaying_an_initiative_history_gives_the_same_initiative() -> None:
    initiative = a_full_history()
    replayed = replay(initiative.collect_events())

    assert replayed == initiative
    assert isinstance(replayed, Initiative)
    assert replayed.status == SUSTAINED
    assert [c.decision for c in replayed.cycles] == [ADAPT, ADOPT]
    assert replayed.cycles[1].adapted_from == 1
    assert replayed.cycles[1].intervention == "Evening meetings"


def test_a_refused_command_leaves_no_event_behind() -> None:
    initiative = an_initiative()
    initiative.collect_events()
    with pytest.raises(ValidationError):
        initiative.add_team_member(actor=LEE, name="", kind="staff", role="analyst")
    with pytest.raises(PhaseOrderError):
        initiative.conclude(actor=LEE, outcome=SUSTAINED, note="Too soon")
    assert initiative.collect_events() == []
    assert initiative.version == 1
