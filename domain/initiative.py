"""A change initiative and its plan-do-study-act cycles."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import date

from eventsourcing.domain import Aggregate, event

from domain.errors import (
    CycleClosedError,
    CycleOpenError,
    FieldErrors,
    InitiativeConcludedError,
    NotFoundError,
    PhaseOrderError,
)
from domain.revisit import is_day

PROPOSED, ACTIVE, SUSTAINED, CLOSED, ABANDONED = (
    "proposed", "active", "sustained", "closed", "abandoned",
)
CONCLUSIONS = (SUSTAINED, CLOSED, ABANDONED)

# The phase of a cycle is the last phase recorded: a cycle in "plan" has its plan and awaits Do;
# a cycle in "act" has its decision and is closed.
PLAN, DO, STUDY, ACT = "plan", "do", "study", "act"
PHASES = (PLAN, DO, STUDY, ACT)
PHASE_NAMES = {PLAN: "Plan", DO: "Do", STUDY: "Study", ACT: "Act"}

ADOPT, ADAPT, ABANDON = "adopt", "adapt", "abandon"
DECISIONS = (ADOPT, ADAPT, ABANDON)

TEAM_KINDS = ("staff", "stakeholder", "consumer")

PLAN_FIELDS = (
    "value_id", "objective", "questions", "prediction", "measure", "measure_id", "intervention",
    "training_step", "logistics",
)
REQUIRED_PLAN_FIELDS = ("value_id", "objective", "prediction", "intervention", "training_step")
FIRST_YEAR = 1900  # the earliest year a test can have begun or been studied in
"""`measure` (what will be measured, in words) is required unless the plan links one of the
agency's measures (`measure_id`)."""


@dataclass
class TeamMember:
    name: str
    kind: str  # staff | stakeholder | consumer
    role: str


@dataclass
class Cycle:
    number: int
    value_id: str
    objective: str
    prediction: str
    measure: str
    intervention: str
    training_step: str
    questions: str = ""
    logistics: str = ""
    adapted_from: int | None = None
    measure_id: str = ""  # one of the agency's measures, or "" when the plan names one in words
    phase: str = PLAN
    started_on: date | None = None  # the day the test began (Do); None for cycles before it
    studied_on: date | None = None  # the day its results were studied (Study)
    observations: str = ""
    data_collected: str = ""
    result: str = ""
    learning: str = ""
    decision: str = ""
    rationale: str = ""

    @property
    def is_closed(self) -> bool:
        return self.phase == ACT

    @property
    def next_phase(self) -> str | None:
        index = PHASES.index(self.phase)
        return PHASES[index + 1] if index + 1 < len(PHASES) else None

    def plan(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in PLAN_FIELDS}


def check_plan(
    plan: dict[str, object], known_value_ids: set[str], known_measure_ids: set[str] | None = None
) -> dict[str, str]:
    """Validate the fields of a cycle's Plan; return them trimmed. A linked measure must be one
    of `known_measure_ids` (when the caller knows them)."""
    errors = FieldErrors()
    clean = {
        name: errors.text(name, plan.get(name), required=name in REQUIRED_PLAN_FIELDS)
        for name in PLAN_FIELDS
    }
    if not clean["measure"] and not clean["measure_id"] and "measure" not in errors.errors:
        errors.add("measure", "is required")
    if clean["value_id"] and clean["value_id"] not in known_value_ids:
        errors.add("value_id", "is not one of the agency's values")
    if clean["measure_id"] and known_measure_ids is not None \
            and clean["measure_id"] not in known_measure_ids:
        errors.add("measure_id", "is not one of the agency's measures")
    errors.raise_if_any()
    return clean


def check_day(
    errors: FieldErrors, field: str, day: object, today: date | None, *,
    not_before: date | None = None, before_name: str = "",
) -> date | None:
    """An optional calendar day, not in the future and not before `not_before`."""
    if day is None or day == "":
        return today
    if not is_day(day):
        errors.add(field, "must be a date (YYYY-MM-DD)")
        return None
    if day.year < FIRST_YEAR:
        errors.add(field, f"must be in {FIRST_YEAR} or later")
    elif today is not None and day > today:
        errors.add(field, f"{day} is in the future (today is {today})")
    elif not_before is not None and day < not_before:
        errors.add(field, f"cannot be before {before_name} ({not_before})")
    return day


def check_member(
    errors: FieldErrors, prefix: str, member: dict[str, object], team: list[dict[str, str]]
) -> dict[str, str]:
    """Validate one team member joining `team`; `prefix` names the fields in the errors."""
    name = errors.text(f"{prefix}name", member.get("name"), max_length=200)
    if name and any(m["name"].casefold() == name.casefold() for m in team):
        errors.add(f"{prefix}name", f"{name} is already on the team")
    return {
        "name": name,
        "kind": errors.choice(f"{prefix}kind", member.get("kind"), TEAM_KINDS),
        "role": errors.text(f"{prefix}role", member.get("role"), max_length=200),
    }


def check_team(team: list[dict[str, object]]) -> list[dict[str, str]]:
    errors = FieldErrors()
    clean: list[dict[str, str]] = []
    for index, member in enumerate(team):
        clean.append(check_member(errors, f"team[{index}].", member, clean))
    errors.raise_if_any()
    return clean


def check_charter(
    title: object, problem: object, aim: object, value_ids: object, known_value_ids: set[str]
) -> tuple[str, str, str, list[str]]:
    errors = FieldErrors()
    title = errors.text("title", title, max_length=200)
    problem = errors.text("problem", problem)
    aim = errors.text("aim", aim)
    ids: list[str] = []
    if not isinstance(value_ids, list) or not value_ids:
        errors.add("value_ids", "name at least one of the agency's values this initiative serves")
    else:
        for value_id in value_ids:
            if value_id not in known_value_ids:
                errors.add("value_ids", f"{value_id!s} is not one of the agency's values")
            elif value_id not in ids:
                ids.append(str(value_id))
    errors.raise_if_any()
    return title, problem, aim, ids


class Initiative(Aggregate):
    """A change initiative: why (problem), what for (aim, values), who (team), how (cycles)."""

    @classmethod
    def open(
        cls,
        *,
        actor: str,
        title: object,
        problem: object,
        aim: object,
        value_ids: object,
        team: list[dict[str, object]],
        known_value_ids: set[str],
    ) -> Initiative:
        title, problem, aim, ids = check_charter(title, problem, aim, value_ids, known_value_ids)
        return cls(actor=actor, title=title, problem=problem, aim=aim, value_ids=ids,
                   team=check_team(team))

    @event("Opened")
    def __init__(
        self, *, actor: str, title: str, problem: str, aim: str, value_ids: list[str],
        team: list[dict[str, str]],
    ) -> None:
        self.title = title
        self.problem = problem
        self.aim = aim
        self.value_ids = list(value_ids)
        self.team = [TeamMember(**member) for member in team]
        self.status = PROPOSED
        self.conclusion_note = ""
        self.cycles: list[Cycle] = []

    # --- queries -------------------------------------------------------------------------

    @property
    def current_cycle(self) -> Cycle | None:
        return self.cycles[-1] if self.cycles else None

    @property
    def is_concluded(self) -> bool:
        return self.status in CONCLUSIONS

    def cycle(self, number: int) -> Cycle:
        if not 1 <= number <= len(self.cycles):
            raise NotFoundError(f"This initiative has no cycle {number}.")
        return self.cycles[number - 1]

    # --- guards --------------------------------------------------------------------------

    def check_open(self) -> None:
        if self.is_concluded:
            raise InitiativeConcludedError(
                f"The initiative is {self.status}; it takes no more changes."
            )

    def check_cycle_not_closed(self, cycle: Cycle) -> None:
        if cycle.is_closed:
            current = self.current_cycle
            instead = (
                f"continue in cycle {current.number}"
                if current is not None and not current.is_closed
                else "plan a new cycle"
            )
            raise CycleClosedError(
                f"Cycle {cycle.number} is closed (decision: {cycle.decision}); {instead} instead."
            )

    def check_phase(self, cycle: Cycle, step: str) -> None:
        """Refuse recording `step` unless it is the cycle's next phase."""
        self.check_cycle_not_closed(cycle)
        expected = cycle.next_phase or ACT
        if step == expected:
            return
        if PHASES.index(step) <= PHASES.index(cycle.phase):
            raise PhaseOrderError(
                f"Cycle {cycle.number} has already recorded {PHASE_NAMES[step]}; "
                f"next is {PHASE_NAMES[expected]}."
            )
        raise PhaseOrderError(
            f"Cycle {cycle.number} is in {PHASE_NAMES[cycle.phase]}: "
            f"record {PHASE_NAMES[expected]} before {PHASE_NAMES[step]}."
        )

    # --- commands ------------------------------------------------------------------------

    def revise_charter(
        self, *, actor: str, title: object, problem: object, aim: object, value_ids: object,
        known_value_ids: set[str],
    ) -> None:
        self.check_open()
        title, problem, aim, ids = check_charter(title, problem, aim, value_ids, known_value_ids)
        self._charter_revised(actor=actor, title=title, problem=problem, aim=aim, value_ids=ids)

    @event("CharterRevised")
    def _charter_revised(
        self, *, actor: str, title: str, problem: str, aim: str, value_ids: list[str]
    ) -> None:
        self.title, self.problem, self.aim, self.value_ids = title, problem, aim, list(value_ids)

    def add_team_member(self, *, actor: str, name: object, kind: object, role: object) -> None:
        self.check_open()
        errors = FieldErrors()
        team = [asdict(m) for m in self.team]
        member = check_member(errors, "", {"name": name, "kind": kind, "role": role}, team)
        errors.raise_if_any()
        self._team_member_added(actor=actor, **member)

    @event("TeamMemberAdded")
    def _team_member_added(self, *, actor: str, name: str, kind: str, role: str) -> None:
        self.team.append(TeamMember(name=name, kind=kind, role=role))

    def plan_cycle(
        self, *, actor: str, plan: dict[str, object], known_value_ids: set[str],
        known_measure_ids: set[str] | None = None,
    ) -> int:
        """Plan the next cycle; returns its number."""
        self.check_open()
        current = self.current_cycle
        if current is not None and not current.is_closed:
            raise CycleOpenError(
                f"Cycle {current.number} is still open (in {PHASE_NAMES[current.phase]}); "
                "finish it with an Act decision before planning the next."
            )
        clean = check_plan(plan, known_value_ids, known_measure_ids)
        number = len(self.cycles) + 1
        self._cycle_planned(actor=actor, number=number, adapted_from=None, **clean)
        return number

    class PlanEvent(Aggregate.Event):
        """What a cycle's Plan says. Version 2 added `measure_id` (a linked measure); earlier
        plans link none."""

        actor: str
        number: int
        value_id: str
        objective: str
        questions: str
        prediction: str
        measure: str
        measure_id: str
        intervention: str
        training_step: str
        logistics: str
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, object]) -> None:
            state["measure_id"] = ""

    class CyclePlanned(PlanEvent):
        adapted_from: int | None

    @event(CyclePlanned)
    def _cycle_planned(
        self, *, actor: str, number: int, adapted_from: int | None, value_id: str,
        objective: str, questions: str, prediction: str, measure: str, measure_id: str,
        intervention: str, training_step: str, logistics: str,
    ) -> None:
        self.cycles.append(Cycle(
            number=number, value_id=value_id, objective=objective, questions=questions,
            prediction=prediction, measure=measure, measure_id=measure_id,
            intervention=intervention, training_step=training_step, logistics=logistics,
            adapted_from=adapted_from,
        ))
        if self.status == PROPOSED:
            self.status = ACTIVE

    def revise_plan(
        self, *, actor: str, number: int, plan: dict[str, object], known_value_ids: set[str],
        known_measure_ids: set[str] | None = None,
    ) -> None:
        """Change a cycle's Plan before its Do is recorded (e.g. a plan pre-filled by "adapt")."""
        self.check_open()
        cycle = self.cycle(number)
        if cycle.phase != PLAN:
            self.check_cycle_not_closed(cycle)
            raise PhaseOrderError(
                f"Cycle {number} is past its Plan (in {PHASE_NAMES[cycle.phase]}); "
                "the plan can no longer change."
            )
        self._plan_revised(actor=actor, number=number,
                           **check_plan(plan, known_value_ids, known_measure_ids))

    class CyclePlanRevised(PlanEvent):
        pass

    @event(CyclePlanRevised)
    def _plan_revised(
        self, *, actor: str, number: int, value_id: str, objective: str, questions: str,
        prediction: str, measure: str, measure_id: str, intervention: str, training_step: str,
        logistics: str,
    ) -> None:
        self.cycles[number - 1] = replace(
            self.cycles[number - 1], value_id=value_id, objective=objective,
            questions=questions, prediction=prediction, measure=measure, measure_id=measure_id,
            intervention=intervention, training_step=training_step, logistics=logistics,
        )

    def record_do(
        self, *, actor: str, number: int, observations: object, data_collected: object = "",
        started_on: object = None, today: date | None = None,
    ) -> None:
        """What happened when the change was tried; `started_on` (default: today) is the day the
        test began, never in the future."""
        self.check_open()
        cycle = self.cycle(number)
        self.check_phase(cycle, DO)
        errors = FieldErrors()
        observations = errors.text("observations", observations)
        data_collected = errors.text("data_collected", data_collected, required=False)
        started = check_day(errors, "started_on", started_on, today)
        errors.raise_if_any()
        self._do_recorded(actor=actor, number=number, observations=observations,
                          data_collected=data_collected, started_on=started)

    class DoRecorded(Aggregate.Event):
        """Version 2 added `started_on`; earlier cycles do not say when their test began."""

        actor: str
        number: int
        observations: str
        data_collected: str
        started_on: date | None
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, object]) -> None:
            state["started_on"] = None

    @event(DoRecorded)
    def _do_recorded(
        self, *, actor: str, number: int, observations: str, data_collected: str,
        started_on: date | None,
    ) -> None:
        cycle = self.cycles[number - 1]
        cycle.observations, cycle.data_collected, cycle.phase = observations, data_collected, DO
        cycle.started_on = started_on

    def record_study(
        self, *, actor: str, number: int, result: object, learning: object,
        studied_on: object = None, today: date | None = None,
    ) -> None:
        """The result against the prediction; `studied_on` (default: today) is not in the future
        and not before the test began."""
        self.check_open()
        cycle = self.cycle(number)
        self.check_phase(cycle, STUDY)
        errors = FieldErrors()
        result = errors.text("result", result)
        learning = errors.text("learning", learning)
        studied = check_day(errors, "studied_on", studied_on, today,
                            not_before=cycle.started_on, before_name="the day the test began")
        errors.raise_if_any()
        self._study_recorded(actor=actor, number=number, result=result, learning=learning,
                             studied_on=studied)

    class StudyRecorded(Aggregate.Event):
        """Version 2 added `studied_on`."""

        actor: str
        number: int
        result: str
        learning: str
        studied_on: date | None
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, object]) -> None:
            state["studied_on"] = None

    @event(StudyRecorded)
    def _study_recorded(
        self, *, actor: str, number: int, result: str, learning: str, studied_on: date | None
    ) -> None:
        cycle = self.cycles[number - 1]
        cycle.result, cycle.learning, cycle.phase = result, learning, STUDY
        cycle.studied_on = studied_on

    def decide_act(
        self, *, actor: str, number: int, decision: object, rationale: object
    ) -> int | None:
        """Record the Act decision; "adapt" opens the next cycle pre-filled (number returned)."""
        self.check_open()
        cycle = self.cycle(number)
        self.check_phase(cycle, ACT)
        errors = FieldErrors()
        decision = errors.choice("decision", decision, DECISIONS)
        rationale = errors.text("rationale", rationale)
        errors.raise_if_any()
        self._act_decided(actor=actor, number=number, decision=decision, rationale=rationale)
        if decision != ADAPT:
            return None
        self._cycle_planned(actor=actor, number=number + 1, adapted_from=number, **cycle.plan())
        return number + 1

    @event("ActDecided")
    def _act_decided(self, *, actor: str, number: int, decision: str, rationale: str) -> None:
        cycle = self.cycles[number - 1]
        cycle.decision, cycle.rationale, cycle.phase = decision, rationale, ACT

    def conclude(self, *, actor: str, outcome: object, note: object) -> None:
        """Sustain, close or abandon the initiative."""
        self.check_open()
        errors = FieldErrors()
        outcome = errors.choice("outcome", outcome, CONCLUSIONS)
        note = errors.text("note", note)
        errors.raise_if_any()
        current = self.current_cycle
        if outcome != ABANDONED and current is not None and not current.is_closed:
            raise CycleOpenError(
                f"Cycle {current.number} is still open; finish it before the initiative is "
                f"{outcome} (or abandon the initiative)."
            )
        if outcome == SUSTAINED and not any(c.decision == ADOPT for c in self.cycles):
            raise PhaseOrderError(
                "An initiative is sustained only after a cycle has adopted its change."
            )
        self._concluded(actor=actor, outcome=outcome, note=note)

    @event("Concluded")
    def _concluded(self, *, actor: str, outcome: str, note: str) -> None:
        self.status, self.conclusion_note = outcome, note

