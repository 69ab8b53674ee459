"""The alignment of values with practice: each gap rule, in plain words."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from domain.alignment import (
    CycleFact,
    MeasureFact,
    StandardFact,
    ValueFacts,
    alignment,
    alignment_row,
    gaps,
    has_recent_training,
)

TODAY = date(2026, 6, 15)
SEE_ALONE = StandardFact("s1", "The worker sees the child alone at every visit")
SAFE_AT_HOME = MeasureFact("m1", "Children safe at home after 12 months")


def a_cycle(**changes) -> CycleFact:
    fields = dict(
        initiative_id="i1", initiative_title="Safe visits", initiative_status="active",
        number=1, phase="study", training_step="Coach workers on seeing the child alone",
        planned_on=TODAY - timedelta(days=30), started_on=TODAY - timedelta(days=20),
        result="9 of 10 visits", learning="Scheduling helps", decision="",
    )
    fields.update(changes)
    return CycleFact(**fields)


def a_value(**changes) -> ValueFacts:
    fields = dict(value_id="v1", name="Child safety", standards=(SEE_ALONE,),
                  measures=(SAFE_AT_HOME,), cycles=(a_cycle(),))
    fields.update(changes)
    return ValueFacts(**fields)


def test_a_value_with_standard_measure_recent_training_and_a_tested_cycle_has_no_gap():
    assert gaps(a_value(), TODAY) == []


def test_a_value_without_a_practice_standard_says_so():
    assert gaps(a_value(standards=()), TODAY) == ["Child safety: no practice standard"]


def test_retired_practice_standards_are_not_counted():
    retired = replace(SEE_ALONE, retired=True)
    assert gaps(a_value(standards=(retired,)), TODAY) == ["Child safety: no practice standard"]
    row = alignment_row(a_value(standards=(retired, StandardFact("s2", "Visits monthly"))),
                        TODAY)
    assert [s.text for s in row.standards] == ["Visits monthly"]
    assert row.gaps == ()


def test_a_value_no_measure_tracks_says_so():
    assert gaps(a_value(name="Family engagement", measures=()), TODAY) == [
        "Family engagement: no measure"]


def test_a_value_no_cycle_serves_lacks_recent_training_and_testing():
    assert gaps(a_value(cycles=()), TODAY) == [
        "Child safety: no training step in the last 12 months",
        "Child safety: no cycle has tested this value",
    ]


def test_a_value_with_no_standard_measure_or_cycle_names_every_gap():
    assert gaps(a_value(standards=(), measures=(), cycles=()), TODAY) == [
        "Child safety: no practice standard",
        "Child safety: no measure",
        "Child safety: no training step in the last 12 months",
        "Child safety: no cycle has tested this value",
    ]


def test_a_training_step_planned_365_days_ago_still_counts():
    cycle = a_cycle(planned_on=TODAY - timedelta(days=365), started_on=None)
    assert has_recent_training([cycle], TODAY)
    assert gaps(a_value(cycles=(cycle,)), TODAY) == []


def test_a_training_step_planned_366_days_ago_is_too_old():
    cycle = a_cycle(planned_on=TODAY - timedelta(days=366), started_on=None)
    assert not has_recent_training([cycle], TODAY)
    assert gaps(a_value(cycles=(cycle,)), TODAY) == [
        "Child safety: no training step in the last 12 months"]


def test_a_test_begun_within_12_months_makes_an_older_plan_recent():
    cycle = a_cycle(planned_on=TODAY - timedelta(days=400),
                    started_on=TODAY - timedelta(days=365))
    assert has_recent_training([cycle], TODAY)
    assert not has_recent_training([replace(cycle, started_on=TODAY - timedelta(days=366))],
                                   TODAY)


def test_a_cycle_without_a_training_step_does_not_count_as_training():
    cycle = a_cycle(training_step="  ")
    assert gaps(a_value(cycles=(cycle,)), TODAY) == [
        "Child safety: no training step in the last 12 months"]
    assert alignment_row(a_value(cycles=(cycle,)), TODAY).training == ()


def test_training_planned_ahead_of_today_counts():
    assert has_recent_training([a_cycle(planned_on=TODAY + timedelta(days=10),
                                        started_on=None)], TODAY)


def test_a_cycle_only_planned_has_not_tested_the_value():
    planned = a_cycle(phase="plan", started_on=None, result="")
    assert gaps(a_value(cycles=(planned,)), TODAY) == [
        "Child safety: no cycle has tested this value"]
    assert gaps(a_value(cycles=(planned, a_cycle(number=2, phase="do"))), TODAY) == []


def test_cycles_are_split_into_active_and_finished():
    open_one = a_cycle(number=3, phase="do")
    decided = a_cycle(number=2, phase="act", decision="adapt")
    stopped = a_cycle(initiative_id="i2", initiative_title="Old pilot",
                      initiative_status="abandoned", number=1, phase="study")
    row = alignment_row(a_value(cycles=(decided, open_one, stopped)), TODAY)
    assert row.active_cycles == (open_one,)
    assert set(row.finished_cycles) == {decided, stopped}


def test_training_steps_are_listed_latest_first():
    old = a_cycle(number=1, planned_on=date(2025, 1, 1), started_on=date(2025, 1, 10))
    new = a_cycle(number=2, planned_on=date(2026, 5, 1), started_on=None)
    assert alignment_row(a_value(cycles=(old, new)), TODAY).training == (new, old)


def test_the_matrix_has_one_row_per_value_by_name():
    rows = alignment([a_value(value_id="v2", name="family engagement", measures=()),
                      a_value(value_id="v1", name="Child safety")], TODAY)
    assert [r.name for r in rows] == ["Child safety", "family engagement"]
    assert rows[1].gaps == ("family engagement: no measure",)
