"""Random sequences of commands on an initiative, good and bad, checked against a small model.

Every command either succeeds exactly when the model says it may (and the model advances with
it), or raises the domain error the model expects and changes nothing, not even its pending
events. After every step the events recorded so far replay to the live initiative, and their
versions count up from 1 without a gap."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from domain.errors import (
    CycleClosedError,
    CycleOpenError,
    DomainError,
    InitiativeConcludedError,
    NotFoundError,
    PhaseOrderError,
    ValidationError,
)
from domain.initiative import (
    ABANDONED,
    ACT,
    ADAPT,
    ADOPT,
    CONCLUSIONS,
    DECISIONS,
    DO,
    FIRST_YEAR,
    PHASES,
    PLAN,
    PROPOSED,
    REQUIRED_PLAN_FIELDS,
    STUDY,
    SUSTAINED,
    TEAM_KINDS,
    Initiative,
)
from tests.unit.builders import (
    CHILD_SAFETY,
    FAMILY_VOICE,
    KNOWN_VALUES,
    LEE,
    a_plan,
    an_initiative,
    assert_versions_count_up_by_one,
    replay,
)

TODAY = date(2025, 6, 2)

# Good values most of the time, so that long runs of accepted commands reach deep states too.
good_texts = st.sampled_from(["Parents attend", "  padded on both sides  "])
texts = st.one_of(good_texts, good_texts, good_texts,
                  st.sampled_from(["", "   ", None, 7, "x" * 2001, "a\x00b"]))
names = st.sampled_from(["Dana Ruiz", "dana ruiz", "Kim Osei", "Parent Partners Council", "",
                         None, "n" * 201])
value_id_lists = st.sampled_from([
    [FAMILY_VOICE], [CHILD_SAFETY, FAMILY_VOICE], [FAMILY_VOICE, FAMILY_VOICE], [],
    ["value-unknown"], "not a list",
])
plan_changes = st.one_of(
    st.just({}),
    st.just({}),
    st.sampled_from(REQUIRED_PLAN_FIELDS).map(lambda name: {name: "  "}),
    st.just({"value_id": "value-unknown"}),
    st.just({"measure": "", "measure_id": ""}),
    st.just({"measure": "", "measure_id": "measure-1"}),  # a linked measure stands in for words
    st.just({"objective": "o" * 2001}),
)
good_days = st.sampled_from([None, date(2025, 1, 6), date(2025, 3, 3), TODAY])
days = st.one_of(good_days, good_days, st.sampled_from(
    [date(2025, 7, 1), date(FIRST_YEAR - 1, 12, 31), "2025-01-06"]))
CURRENT = 99  # stands for the number of the latest cycle
cycle_numbers = st.one_of(st.just(CURRENT), st.just(CURRENT),
                          st.integers(min_value=0, max_value=6))


def valid_text(value: object, max_length: int = 2000) -> bool:
    return (isinstance(value, str) and bool(value.strip())
            and len(value.strip()) <= max_length and "\x00" not in value)


def valid_day(day: object, not_before: date | None = None) -> bool:
    if day is None:
        return not_before is None or not_before <= TODAY
    if not isinstance(day, date):
        return False
    return day.year >= FIRST_YEAR and day <= TODAY and (not_before is None or day >= not_before)


@dataclass
class ModelCycle:
    phase: str = PLAN
    decision: str = ""
    started_on: date | None = None


@dataclass
class Model:
    """What must be true of the initiative, kept by plain rules."""

    status: str = PROPOSED
    title: str = "Families at the table"
    team: list[str] = field(default_factory=lambda: ["Dana Ruiz", "Parent Partners Council"])
    cycles: list[ModelCycle] = field(default_factory=list)

    @property
    def concluded(self) -> bool:
        return self.status in CONCLUSIONS

    @property
    def open_cycle(self) -> ModelCycle | None:
        if self.cycles and self.cycles[-1].phase != ACT:
            return self.cycles[-1]
        return None

    def cycle_refusal(self, number: int, step: str) -> type[DomainError] | None:
        """Why recording `step` in cycle `number` is refused, if it is."""
        if self.concluded:
            return InitiativeConcludedError
        if not 1 <= number <= len(self.cycles):
            return NotFoundError
        phase = self.cycles[number - 1].phase
        if phase == ACT:
            return CycleClosedError
        if PHASES.index(step) != PHASES.index(phase) + 1:
            return PhaseOrderError
        return None


class InitiativeCommands(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.model = Model()
        self.initiative: Initiative
        self.events: list[Any] = []
        self.steps = 0

    @initialize()
    def open_the_initiative(self) -> None:
        self.initiative = an_initiative()
        self.events += self.initiative.collect_events()

    def attempt(self, expected: type[DomainError] | None, command: Any, **kwargs: Any) -> bool:
        """Run the command; it succeeds exactly when no refusal is `expected`, else it raises
        that error and leaves the initiative and its pending events as they were."""
        self.steps += 1
        before = copy.deepcopy(vars(self.initiative))
        pending = len(self.initiative.pending_events)
        try:
            command(actor=LEE, **kwargs)
        except DomainError as refused:
            assert type(refused) is expected, f"{refused!r} instead of {expected}"
            assert refused.reason
            assert len(self.initiative.pending_events) == pending
            assert vars(self.initiative) == before
            return False
        assert expected is None, f"accepted; the model expected {expected.__name__}"
        assert len(self.initiative.pending_events) > pending
        self.events += self.initiative.collect_events()
        return True

    def latest(self, number: int) -> int:
        return len(self.model.cycles) if number == CURRENT else number

    # --- commands -------------------------------------------------------------------------

    @rule(title=texts, problem=texts, aim=texts, value_ids=value_id_lists)
    def revise_charter(self, title: object, problem: object, aim: object,
                       value_ids: object) -> None:
        valid = (valid_text(title, 200) and valid_text(problem) and valid_text(aim)
                 and isinstance(value_ids, list) and bool(value_ids)
                 and set(value_ids) <= KNOWN_VALUES)
        expected = InitiativeConcludedError if self.model.concluded else (
            None if valid else ValidationError)
        if self.attempt(expected, self.initiative.revise_charter, title=title, problem=problem,
                        aim=aim, value_ids=value_ids, known_value_ids=KNOWN_VALUES):
            assert isinstance(title, str) and isinstance(value_ids, list)
            self.model.title = title.strip()
            assert self.initiative.value_ids == list(dict.fromkeys(value_ids))

    @rule(name=names, kind=st.sampled_from([*TEAM_KINDS, "alien"]), role=texts)
    def add_team_member(self, name: object, kind: str, role: object) -> None:
        duplicate = isinstance(name, str) and name.strip().casefold() in {
            member.casefold() for member in self.model.team}
        valid = (valid_text(name, 200) and not duplicate and kind in TEAM_KINDS
                 and valid_text(role, 200))
        expected = InitiativeConcludedError if self.model.concluded else (
            None if valid else ValidationError)
        if self.attempt(expected, self.initiative.add_team_member, name=name, kind=kind,
                        role=role):
            assert isinstance(name, str)
            self.model.team.append(name.strip())

    @rule(changes=plan_changes)
    def plan_cycle(self, changes: dict[str, object]) -> None:
        expected: type[DomainError] | None = None
        if self.model.concluded:
            expected = InitiativeConcludedError
        elif self.model.open_cycle is not None:
            expected = CycleOpenError
        elif not plan_is_valid(changes):
            expected = ValidationError
        if self.attempt(expected, self.initiative.plan_cycle, plan=a_plan(**changes),
                        known_value_ids=KNOWN_VALUES, known_measure_ids={"measure-1"}):
            self.model.cycles.append(ModelCycle())
            if self.model.status == PROPOSED:
                self.model.status = "active"

    @rule(number=cycle_numbers, changes=plan_changes)
    def revise_plan(self, number: int, changes: dict[str, object]) -> None:
        number = self.latest(number)
        expected = self.model.cycle_refusal(number, DO)  # the plan changes until Do
        if expected is None and not plan_is_valid(changes):
            expected = ValidationError
        self.attempt(expected, self.initiative.revise_plan, number=number,
                     plan=a_plan(**changes), known_value_ids=KNOWN_VALUES,
                     known_measure_ids={"measure-1"})

    @rule(number=cycle_numbers, observations=texts, started_on=days)
    def record_do(self, number: int, observations: object, started_on: object) -> None:
        number = self.latest(number)
        expected = self.model.cycle_refusal(number, DO)
        if expected is None and not (valid_text(observations) and valid_day(started_on)):
            expected = ValidationError
        if self.attempt(expected, self.initiative.record_do, number=number,
                        observations=observations, started_on=started_on, today=TODAY):
            cycle = self.model.cycles[number - 1]
            cycle.phase = DO
            cycle.started_on = TODAY if started_on is None else started_on  # type: ignore[assignment]

    @rule(number=cycle_numbers, result=texts, learning=texts, studied_on=days)
    def record_study(self, number: int, result: object, learning: object,
                     studied_on: object) -> None:
        number = self.latest(number)
        expected = self.model.cycle_refusal(number, STUDY)
        if expected is None:
            began = self.model.cycles[number - 1].started_on
            if not (valid_text(result) and valid_text(learning)
                    and valid_day(studied_on, not_before=began)):
                expected = ValidationError
        if self.attempt(expected, self.initiative.record_study, number=number, result=result,
                        learning=learning, studied_on=studied_on, today=TODAY):
            self.model.cycles[number - 1].phase = STUDY

    @rule(number=cycle_numbers, decision=st.sampled_from([*DECISIONS, "shrug"]),
          rationale=texts)
    def decide_act(self, number: int, decision: str, rationale: object) -> None:
        number = self.latest(number)
        expected = self.model.cycle_refusal(number, ACT)
        if expected is None and not (decision in DECISIONS and valid_text(rationale)):
            expected = ValidationError
        if self.attempt(expected, self.initiative.decide_act, number=number,
                        decision=decision, rationale=rationale):
            cycle = self.model.cycles[number - 1]
            cycle.phase, cycle.decision = ACT, decision
            if decision == ADAPT:  # the next cycle opens with the same plan
                self.model.cycles.append(ModelCycle())
                assert self.initiative.cycles[-1].adapted_from == number
                assert self.initiative.cycles[-1].plan() == self.initiative.cycle(number).plan()

    @precondition(lambda self: self.steps >= 12)  # a conclusion ends the run: not too soon
    @rule(outcome=st.sampled_from([*CONCLUSIONS, "paused"]), note=texts)
    def conclude(self, outcome: str, note: object) -> None:
        expected: type[DomainError] | None = None
        if self.model.concluded:
            expected = InitiativeConcludedError
        elif not (outcome in CONCLUSIONS and valid_text(note)):
            expected = ValidationError
        elif outcome != ABANDONED and self.model.open_cycle is not None:
            expected = CycleOpenError
        elif outcome == SUSTAINED and not any(c.decision == ADOPT for c in self.model.cycles):
            expected = PhaseOrderError
        if self.attempt(expected, self.initiative.conclude, outcome=outcome, note=note):
            self.model.status = outcome

    # --- the same commands with good input, so that runs reach deep states too -------------

    @rule(title=good_texts)
    def revise_the_charter_well(self, title: str) -> None:
        self.revise_charter(title, "Families feel unheard", "Parents at 80% of meetings",
                            [CHILD_SAFETY, FAMILY_VOICE])

    @rule(kind=st.sampled_from(TEAM_KINDS), role=good_texts)
    def add_a_newcomer(self, kind: str, role: str) -> None:
        self.add_team_member(f"Newcomer {len(self.model.team)}", kind, role)

    @rule()
    def plan_a_good_cycle(self) -> None:
        self.plan_cycle({})

    @rule(observations=good_texts, started_on=good_days)
    def record_do_in_the_latest_cycle(self, observations: str, started_on: date | None) -> None:
        self.record_do(CURRENT, observations, started_on)

    @rule(result=good_texts, studied_on=st.sampled_from([None, TODAY]))
    def record_study_in_the_latest_cycle(self, result: str, studied_on: date | None) -> None:
        self.record_study(CURRENT, result, "Calls work", studied_on)

    @rule(decision=st.sampled_from(DECISIONS))
    def decide_act_in_the_latest_cycle(self, decision: str) -> None:
        self.decide_act(CURRENT, decision, "The prediction held")

    # --- invariants -----------------------------------------------------------------------

    @invariant()
    def the_initiative_is_what_the_model_says(self) -> None:
        initiative = self.initiative
        assert initiative.status == self.model.status
        assert initiative.title == self.model.title
        assert [member.name for member in initiative.team] == self.model.team
        assert [(c.number, c.phase, c.decision) for c in initiative.cycles] == [
            (number, c.phase, c.decision) for number, c in enumerate(self.model.cycles, 1)]
        assert [c.started_on for c in initiative.cycles] == [
            c.started_on for c in self.model.cycles]

    @invariant()
    def its_events_replay_to_the_live_initiative(self) -> None:
        assert not self.initiative.pending_events
        assert vars(replay(self.events)) == vars(self.initiative)

    @invariant()
    def its_versions_count_up_from_one(self) -> None:
        assert_versions_count_up_by_one(self.events)
        assert self.initiative.version == len(self.events)


def plan_is_valid(changes: dict[str, object]) -> bool:
    return changes in ({}, {"measure": "", "measure_id": "measure-1"})


InitiativeCommands.TestCase.settings = settings(
    max_examples=250, stateful_step_count=60, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
test_random_commands_keep_the_initiative_true_to_its_model_and_its_events = (
    InitiativeCommands.TestCase
)
