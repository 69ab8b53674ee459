"""An auditor compares two versions of an initiative: what was added, changed and removed."""

from __future__ import annotations

from domain.initiative import Initiative
from service.history_diff import changes, facts
from tests.unit.builders import FAMILY_VOICE, KNOWN_VALUES, LEE, a_plan, an_initiative, replay

NAMES = {FAMILY_VOICE: "Family engagement"}


def versions(initiative: Initiative) -> list[Initiative]:
    """The initiative as it was after each of its events."""
    events = initiative.collect_events()
    return [replay(events[:k]) for k in range(1, len(events) + 1)]


def test_nothing_changed_between_a_version_and_itself() -> None:
    (first,) = versions(an_initiative())
    assert changes(facts(first, NAMES), facts(first, NAMES)) == []


def test_planning_a_cycle_adds_its_facts_and_makes_the_initiative_active() -> None:
    initiative = an_initiative()
    initiative.plan_cycle(actor=LEE, plan=a_plan(), known_value_ids=KNOWN_VALUES)
    opened, planned = versions(initiative)
    found = {c.label: c for c in changes(facts(opened, NAMES), facts(planned, NAMES))}
    assert (found["Status"].before, found["Status"].after) == ("proposed", "active")
    assert found["Status"].kind == "changed"
    assert found["Cycle 1 · Mission value"].after == "Family engagement"
    assert found["Cycle 1 · Phase"].kind == "added"
    assert "Cycle 1 · Result" not in found  # nothing recorded yet, so nothing to show


def test_a_revised_plan_shows_before_and_after_and_the_reverse_shows_removals() -> None:
    initiative = an_initiative()
    initiative.plan_cycle(actor=LEE, plan=a_plan(), known_value_ids=KNOWN_VALUES)
    initiative.revise_plan(actor=LEE, number=1, plan=a_plan(logistics="", objective="Sooner"),
                           known_value_ids=KNOWN_VALUES)
    _, planned, revised = versions(initiative)
    forward = {c.label: c for c in changes(facts(planned, NAMES), facts(revised, NAMES))}
    assert forward["Cycle 1 · Objective"].after == "Sooner"
    assert forward["Cycle 1 · Who, where, when"].kind == "removed"
    backward = {c.label: c for c in changes(facts(revised, NAMES), facts(planned, NAMES))}
    assert backward["Cycle 1 · Who, where, when"].kind == "added"
