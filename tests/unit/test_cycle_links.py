"""A cycle's Plan may link one of the agency's measures; Do and Study say on which days the test
began and was studied, so charts can mark each cycle's span. Events stored before these fields
existed still load."""

from __future__ import annotations

import json
from datetime import date

import pytest

from domain.errors import ValidationError
from domain.initiative import Initiative
from service.application import CQIApplication
from tests.unit.builders import KNOWN_VALUES, LEE, a_plan, an_initiative, replay

MEASURE = "0b7f3c2e-3f0a-4d59-9b0e-6f7e1d2c3a4b"
MEASURES = {MEASURE}
TODAY = date(2026, 3, 20)


def planned(**changes: object) -> tuple[Initiative, int]:
    initiative = an_initiative()
    number = initiative.plan_cycle(actor=LEE, plan=a_plan(**changes), known_value_ids=KNOWN_VALUES,
                                   known_measure_ids=MEASURES)
    return initiative, number


def test_a_plan_may_link_one_of_the_agencys_measures() -> None:
    initiative, number = planned(measure_id=MEASURE)
    assert initiative.cycle(number).measure_id == MEASURE
    assert replay(initiative.collect_events()).cycle(number).measure_id == MEASURE


def test_a_linked_measure_makes_the_measure_in_words_optional() -> None:
    initiative, number = planned(measure_id=MEASURE, measure="")
    assert initiative.cycle(number).measure == ""


def test_without_a_linked_measure_the_measure_in_words_is_still_required() -> None:
    with pytest.raises(ValidationError) as refused:
        planned(measure="")
    assert refused.value.errors == {"measure": "is required"}


def test_a_measure_the_agency_does_not_have_is_refused() -> None:
    with pytest.raises(ValidationError) as refused:
        planned(measure_id="not-a-measure")
    assert refused.value.errors == {"measure_id": "is not one of the agency's measures"}


def test_revising_a_plan_can_link_or_unlink_a_measure() -> None:
    initiative, number = planned()
    initiative.revise_plan(actor=LEE, number=number, plan=a_plan(measure_id=MEASURE),
                           known_value_ids=KNOWN_VALUES, known_measure_ids=MEASURES)
    assert initiative.cycle(number).measure_id == MEASURE
    with pytest.raises(ValidationError):
        initiative.revise_plan(actor=LEE, number=number, plan=a_plan(measure_id="gone"),
                               known_value_ids=KNOWN_VALUES, known_measure_ids=MEASURES)
    assert initiative.cycle(number).measure_id == MEASURE


def test_adapting_a_cycle_carries_its_measure_link_into_the_next() -> None:
    initiative, number = planned(measure_id=MEASURE)
    initiative.record_do(actor=LEE, number=number, observations="ran", today=TODAY)
    initiative.record_study(actor=LEE, number=number, result="r", learning="l", today=TODAY)
    following = initiative.decide_act(actor=LEE, number=number, decision="adapt", rationale="x")
    assert following is not None
    assert initiative.cycle(following).measure_id == MEASURE


def test_do_and_study_default_to_today() -> None:
    initiative, number = planned()
    initiative.record_do(actor=LEE, number=number, observations="ran", today=TODAY)
    initiative.record_study(actor=LEE, number=number, result="r", learning="l", today=TODAY)
    cycle = initiative.cycle(number)
    assert (cycle.started_on, cycle.studied_on) == (TODAY, TODAY)


def test_the_days_can_be_given_and_are_kept_in_the_events() -> None:
    initiative, number = planned()
    initiative.record_do(actor=LEE, number=number, observations="ran",
                         started_on=date(2026, 2, 2), today=TODAY)
    initiative.record_study(actor=LEE, number=number, result="r", learning="l",
                            studied_on=date(2026, 3, 2), today=TODAY)
    cycle = replay(initiative.collect_events()).cycle(number)
    assert (cycle.started_on, cycle.studied_on) == (date(2026, 2, 2), date(2026, 3, 2))


@pytest.mark.parametrize(
    ("day", "message"),
    [
        (date(2026, 3, 21), "2026-03-21 is in the future (today is 2026-03-20)"),
        ("2026-03-01", "must be a date (YYYY-MM-DD)"),
    ],
)
def test_a_test_cannot_begin_in_the_future_or_on_a_non_date(day: object, message: str) -> None:
    initiative, number = planned()
    with pytest.raises(ValidationError) as refused:
        initiative.record_do(actor=LEE, number=number, observations="ran", started_on=day,
                             today=TODAY)
    assert refused.value.errors == {"started_on": message}
    assert initiative.cycle(number).phase == "plan"


def test_a_study_cannot_come_before_the_test_began_nor_after_today() -> None:
    initiative, number = planned()
    initiative.record_do(actor=LEE, number=number, observations="ran",
                         started_on=date(2026, 3, 10), today=TODAY)
    with pytest.raises(ValidationError) as early:
        initiative.record_study(actor=LEE, number=number, result="r", learning="l",
                                studied_on=date(2026, 3, 9), today=TODAY)
    assert early.value.errors == {
        "studied_on": "cannot be before the day the test began (2026-03-10)"}
    with pytest.raises(ValidationError) as late:
        initiative.record_study(actor=LEE, number=number, result="r", learning="l",
                                studied_on=date(2026, 3, 21), today=TODAY)
    assert set(late.value.errors) == {"studied_on"}
    assert initiative.cycle(number).phase == "do"


def test_events_stored_before_links_and_days_existed_still_load() -> None:
    """Version 1 of CyclePlanned, CyclePlanRevised, DoRecorded and StudyRecorded had no
    measure_id / started_on / studied_on: they are upcast, not rewritten."""
    app = CQIApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    initiative, number = planned(measure_id=MEASURE)
    initiative.revise_plan(actor=LEE, number=number, plan=a_plan(measure_id=MEASURE),
                           known_value_ids=KNOWN_VALUES, known_measure_ids=MEASURES)
    initiative.record_do(actor=LEE, number=number, observations="ran", today=TODAY)
    initiative.record_study(actor=LEE, number=number, result="r", learning="l", today=TODAY)
    old_fields = {"CyclePlanned": "measure_id", "CyclePlanRevised": "measure_id",
                  "DoRecorded": "started_on", "StudyRecorded": "studied_on"}
    loaded = []
    for new_event in initiative.collect_events():
        stored = app.mapper.to_stored_event(new_event)
        name = type(new_event).__name__
        if name in old_fields:
            state = json.loads(stored.state)
            assert state.pop("class_version") == 2
            del state[old_fields[name]]
            stored = type(stored)(
                originator_id=stored.originator_id, originator_version=stored.originator_version,
                topic=stored.topic, state=json.dumps(state).encode())
        loaded.append(app.mapper.to_domain_event(stored))
    cycle = replay(loaded).cycle(number)
    assert (cycle.measure_id, cycle.started_on, cycle.studied_on) == ("", None, None)
    assert cycle.result == "r"


def test_a_blank_link_does_not_stand_in_for_the_measure_in_words() -> None:
    with pytest.raises(ValidationError) as refused:
        planned(measure="", measure_id="   ")
    assert refused.value.errors == {"measure": "is required"}


def test_a_test_cannot_have_begun_before_1900() -> None:
    initiative, number = planned()
    with pytest.raises(ValidationError) as refused:
        initiative.record_do(actor=LEE, number=number, observations="ran",
                             started_on=date(1, 1, 1), today=TODAY)
    assert refused.value.errors == {"started_on": "must be in 1900 or later"}
