"""The agency's mission, vision and values, and the practice standards under the values."""

from __future__ import annotations

import pytest

from domain.errors import NotFoundError, ValidationError
from domain.mission import MISSION_ID, Mission, PracticeStandard
from tests.unit.builders import (
    LEE,
    SAM,
    assert_versions_count_up_by_one,
    event_names,
    replay,
)

SAFETY, FAMILY = "value-safety", "value-family"
SEE_ALONE, SEE_ALONE_TEXT = "standard-see-alone", "Worker sees the child alone at every visit"


def a_mission() -> Mission:
    mission = Mission(actor=LEE)
    mission.write_statements(
        actor=LEE, mission="Children safe with their families", vision="Every child thrives",
        revisit_every_months=12,
    )
    mission.add_value(actor=LEE, value_id=SAFETY, name="Safety", description="Children first")
    mission.add_value(actor=LEE, value_id=FAMILY, name="Family voice", description="")
    return mission


def test_there_is_one_mission_per_agency_with_a_fixed_id() -> None:
    assert Mission(actor=LEE).id == MISSION_ID
    assert Mission(actor=SAM).id == MISSION_ID


def test_a_started_mission_has_no_statements_or_values_yet() -> None:
    mission = Mission(actor=LEE)
    assert (mission.mission, mission.vision, mission.revision) == ("", "", 0)
    assert mission.revisit_every_months is None
    assert mission.values == {}
    assert mission.value_ids() == set()


# --- statements ------------------------------------------------------------------------------


def test_each_writing_of_the_statements_is_counted_as_a_revision() -> None:
    mission = Mission(actor=LEE)
    mission.write_statements(actor=LEE, mission=" Keep children safe ", vision="Thriving",
                             revisit_every_months=12)
    assert (mission.mission, mission.vision, mission.revision) == (
        "Keep children safe", "Thriving", 1,
    )
    mission.write_statements(actor=SAM, mission="Keep children safe with family",
                             vision="Thriving", revisit_every_months=None)
    assert mission.revision == 2
    assert mission.revisit_every_months is None


@pytest.mark.parametrize("months", [1, 12, 120, None])
def test_statements_are_revisited_every_1_to_120_months_or_without_a_cadence(
    months: int | None,
) -> None:
    mission = Mission(actor=LEE)
    mission.write_statements(actor=LEE, mission="m", vision="v", revisit_every_months=months)
    assert mission.revisit_every_months == months


@pytest.mark.parametrize("months", [0, -12, 121, True, False, 12.0, 12.5, "12"])
def test_a_revisit_cadence_outside_1_to_120_whole_months_is_refused(months: object) -> None:
    mission = Mission(actor=LEE)
    with pytest.raises(ValidationError) as refused:
        mission.write_statements(actor=LEE, mission="m", vision="v", revisit_every_months=months)
    assert refused.value.errors == {
        "revisit_every_months": "must be a whole number from 1 to 120"
    }
    assert mission.revision == 0


def test_statements_need_a_mission_and_a_vision_of_at_most_5000_characters() -> None:
    mission = Mission(actor=LEE)
    with pytest.raises(ValidationError) as refused:
        mission.write_statements(actor=LEE, mission=" ", vision="v" * 5001,
                                 revisit_every_months=12)
    assert refused.value.errors == {
        "mission": "is required",
        "vision": "must be at most 5000 characters",
    }
    mission.write_statements(actor=LEE, mission="m" * 5000, vision="v", revisit_every_months=12)
    assert mission.revision == 1


# --- values ----------------------------------------------------------------------------------


def test_an_added_value_can_be_linked_by_its_id() -> None:
    mission = a_mission()
    assert mission.value(SAFETY).name == "Safety"
    assert mission.value(SAFETY).description == "Children first"
    assert mission.value_ids() == {SAFETY, FAMILY}
    assert [value.id for value in mission.active_values()] == [SAFETY, FAMILY]


def test_a_value_needs_a_name_of_at_most_120_characters() -> None:
    mission = a_mission()
    for name, message in [(" ", "is required"), ("n" * 121, "must be at most 120 characters")]:
        with pytest.raises(ValidationError) as refused:
            mission.add_value(actor=LEE, value_id="value-new", name=name, description="")
        assert refused.value.errors == {"name": message}
    assert "value-new" not in mission.value_ids()


@pytest.mark.parametrize("name", ["Safety", "SAFETY", "  safety "])
def test_value_names_are_unique_whatever_their_case(name: str) -> None:
    mission = a_mission()
    with pytest.raises(ValidationError) as refused:
        mission.add_value(actor=LEE, value_id="value-new", name=name, description="")
    assert refused.value.errors == {"name": "a value named 'Safety' already exists"}


def test_a_value_can_be_renamed_including_a_change_of_case_of_its_own_name() -> None:
    mission = a_mission()
    mission.revise_value(actor=SAM, value_id=SAFETY, name="SAFETY", description="Always")
    assert (mission.value(SAFETY).name, mission.value(SAFETY).description) == ("SAFETY", "Always")
    mission.revise_value(actor=SAM, value_id=SAFETY, name="Child safety", description="")
    assert mission.value(SAFETY).name == "Child safety"
    assert mission.value_ids() == {SAFETY, FAMILY}


def test_a_value_cannot_take_another_values_name() -> None:
    mission = a_mission()
    with pytest.raises(ValidationError) as refused:
        mission.revise_value(actor=LEE, value_id=SAFETY, name="family VOICE", description="")
    assert refused.value.errors == {"name": "a value named 'Family voice' already exists"}
    assert mission.value(SAFETY).name == "Safety"


def test_an_unknown_value_is_not_found() -> None:
    mission = a_mission()
    with pytest.raises(NotFoundError) as refused:
        mission.value("value-speed")
    assert refused.value.reason == "There is no value with id value-speed."
    with pytest.raises(NotFoundError):
        mission.revise_value(actor=LEE, value_id="value-speed", name="Speed", description="")
    with pytest.raises(NotFoundError):
        mission.add_standard(actor=LEE, value_id="value-speed", standard_id="s", text="t")
    with pytest.raises(NotFoundError):
        mission.retire_standard(actor=LEE, value_id="value-speed", standard_id="s")


# --- practice standards ----------------------------------------------------------------------


def test_a_practice_standard_hangs_off_its_value() -> None:
    mission = a_mission()
    mission.add_standard(actor=LEE, value_id=SAFETY, standard_id=SEE_ALONE,
                         text=f"  {SEE_ALONE_TEXT} ")
    assert mission.value(SAFETY).standards == [PracticeStandard(SEE_ALONE, SEE_ALONE_TEXT)]
    assert mission.value(SAFETY).active_standards() == mission.value(SAFETY).standards
    assert mission.value(FAMILY).standards == []


def test_the_same_practice_standard_is_not_written_twice_under_a_value() -> None:
    mission = a_mission()
    mission.add_standard(actor=LEE, value_id=SAFETY, standard_id=SEE_ALONE, text=SEE_ALONE_TEXT)
    with pytest.raises(ValidationError) as refused:
        mission.add_standard(actor=LEE, value_id=SAFETY, standard_id="standard-2",
                             text=SEE_ALONE_TEXT.upper())
    assert refused.value.errors == {
        "text": "this practice standard is already written under the value"
    }
    mission.add_standard(actor=LEE, value_id=FAMILY, standard_id="standard-3",
                         text=SEE_ALONE_TEXT)
    assert len(mission.value(FAMILY).standards) == 1


@pytest.mark.parametrize(
    ("text", "message"), [("", "is required"), ("t" * 1001, "must be at most 1000 characters")]
)
def test_a_practice_standard_needs_text_of_at_most_1000_characters(
    text: str, message: str
) -> None:
    mission = a_mission()
    with pytest.raises(ValidationError) as refused:
        mission.add_standard(actor=LEE, value_id=SAFETY, standard_id=SEE_ALONE, text=text)
    assert refused.value.errors == {"text": message}


def test_a_retired_standard_is_kept_but_no_longer_active() -> None:
    mission = a_mission()
    mission.add_standard(actor=LEE, value_id=SAFETY, standard_id=SEE_ALONE, text=SEE_ALONE_TEXT)
    mission.add_standard(actor=LEE, value_id=SAFETY, standard_id="standard-2", text="Visit monthly")

    mission.retire_standard(actor=SAM, value_id=SAFETY, standard_id=SEE_ALONE)

    value = mission.value(SAFETY)
    assert [s.id for s in value.standards] == [SEE_ALONE, "standard-2"]
    assert value.standards[0].retired
    assert [s.id for s in value.active_standards()] == ["standard-2"]


def test_retiring_a_standard_leaves_its_value_linkable() -> None:
    mission = a_mission()
    mission.add_standard(actor=LEE, value_id=SAFETY, standard_id=SEE_ALONE, text=SEE_ALONE_TEXT)
    mission.retire_standard(actor=LEE, value_id=SAFETY, standard_id=SEE_ALONE)
    assert mission.value_ids() == {SAFETY, FAMILY}
    assert not mission.value(SAFETY).retired


def test_a_retired_standard_can_be_written_again() -> None:
    mission = a_mission()
    mission.add_standard(actor=LEE, value_id=SAFETY, standard_id=SEE_ALONE, text=SEE_ALONE_TEXT)
    mission.retire_standard(actor=LEE, value_id=SAFETY, standard_id=SEE_ALONE)
    mission.add_standard(actor=LEE, value_id=SAFETY, standard_id="standard-2", text=SEE_ALONE_TEXT)
    assert [s.id for s in mission.value(SAFETY).active_standards()] == ["standard-2"]


@pytest.mark.parametrize("standard_id", [SEE_ALONE, "standard-unknown"])
def test_only_a_current_standard_can_be_retired(standard_id: str) -> None:
    mission = a_mission()
    mission.add_standard(actor=LEE, value_id=SAFETY, standard_id=SEE_ALONE, text=SEE_ALONE_TEXT)
    mission.retire_standard(actor=LEE, value_id=SAFETY, standard_id=SEE_ALONE)
    version = mission.version
    with pytest.raises(NotFoundError) as refused:
        mission.retire_standard(actor=LEE, value_id=SAFETY, standard_id=standard_id)
    assert refused.value.reason == (
        f"Value 'Safety' has no current practice standard {standard_id}."
    )
    assert mission.version == version


# --- events ----------------------------------------------------------------------------------


def a_full_history() -> Mission:
    mission = a_mission()
    mission.revise_value(actor=SAM, value_id=FAMILY, name="Family voice", description="Heard")
    mission.add_standard(actor=SAM, value_id=SAFETY, standard_id=SEE_ALONE, text=SEE_ALONE_TEXT)
    mission.retire_standard(actor=SAM, value_id=SAFETY, standard_id=SEE_ALONE)
    mission.write_statements(actor=SAM, mission="m2", vision="v2", revisit_every_months=24)
    return mission


def test_the_mission_records_each_change_as_a_past_tense_fact_with_its_actor() -> None:
    events = a_full_history().collect_events()
    assert event_names(events) == [
        "Started", "StatementsRevised", "ValueAdded", "ValueAdded", "ValueRevised",
        "PracticeStandardAdded", "PracticeStandardRetired", "StatementsRevised",
    ]
    assert [event.actor for event in events] == [LEE] * 4 + [SAM] * 4
    assert [e.revision for e in events if type(e).__name__ == "StatementsRevised"] == [1, 2]


def test_replaying_the_mission_history_gives_the_same_mission() -> None:
    mission = a_full_history()
    events = mission.collect_events()
    assert_versions_count_up_by_one(events)
    replayed = replay(events)
    assert replayed == mission
    assert isinstance(replayed, Mission)
    assert replayed.revision == 2
    assert replayed.value(SAFETY).standards[0].retired
