"""`cqi demo`: a sample child-welfare agency, so that a newcomer sees a living system.

Riverbend County Children and Family Services is fictional; its story follows the CQI text the
product grew from. Families told the agency they do not feel valued or included, so a team of
staff, a court-appointed advocate and a parent from the Parent Advisory Council is testing
family team meetings in PDSA cycles. Other initiatives show the other states an initiative can
be in, and the leadership team's revisit of the values is overdue.

Everything is written through the application's commands, as people would: accounts first,
then the mission and values (by the leader), then initiatives (by the CQI team), then revisits,
then measures with two years of monthly data (defined by the leader, entered by the CQI team):
enough for a run chart with a shift and a p chart with a month beyond its lower limit.
Dates are relative to today in the agency's time zone, so the demo never looks stale.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from eventsourcing.utils import get_topic

from domain.account import AUDITOR, LEADER, MEMBER, VIEWER
from domain.errors import DomainError
from domain.initiative import ABANDON, ABANDONED, ADAPT, ADOPT, SUSTAINED, Initiative
from domain.revisit import REAFFIRMED, add_months
from service.application import CQIApplication
from service.security import password_hasher
from service.settings import Settings

AGENCY = "Riverbend County Children and Family Services"
DEMO_PASSWORD = "family-first-demo"
DEMO_ACTOR = "system:demo"
REVISIT_EVERY_MONTHS = 12


class DemoRefusedError(DomainError):
    """The store is not empty; loading the demo would mix sample records with real ones."""


@dataclass(frozen=True)
class Person:
    login: str
    display_name: str
    role: str
    title: str


PEOPLE = (
    Person("lee", "Lee Okafor", LEADER, "Deputy Director for Quality and Practice"),
    Person("maria", "Maria Delgado", MEMBER, "CQI specialist"),
    Person("sam", "Sam Whitaker", MEMBER, "CQI analyst"),
    Person("audrey", "Audrey Lindqvist", AUDITOR, "internal auditor"),
    Person("val", "Val Moreno", VIEWER, "Parent Advisory Council representative"),
)

MISSION = (
    f"{AGENCY} partners with families, kin and communities so that children are safe, "
    "families are strengthened, and every young person grows up with a lasting, loving family."
)
VISION = (
    "Children in Riverbend County thrive in safe, stable families, and every family experiences "
    "our agency as a partner that listens to them, includes them and respects who they are."
)

# name -> (description, practice standards)
VALUES: dict[str, tuple[str, tuple[str, ...]]] = {
    "Family engagement": (
        "Families are partners in every decision about their children. We listen to them, "
        "include them, and act on what they tell us.",
        (
            "The family is invited to, and helps plan, every team meeting about their child.",
            "The worker asks the family what is working and what is not at every contact, and "
            "records it in the family's own words.",
            "The case plan is written with the family, in language they use, and they receive "
            "a copy.",
        ),
    ),
    "Child safety": (
        "Every child is safe where they live, and is seen, heard and known by their worker.",
        (
            "The worker sees the child alone at every visit.",
            "The worker observes the child's living environment to make certain it is safe.",
            "The worker asks foster parents what they need, and follows up before the next "
            "visit.",
        ),
    ),
    "Permanency": (
        "Every child leaves our care to a lasting family: home with their parents first, "
        "then with kin, or through adoption or guardianship.",
        (
            "Relatives are identified and contacted within 72 hours of a child's removal.",
            "Brothers and sisters are placed together unless a documented safety reason "
            "prevents it.",
        ),
    ),
    "Cultural humility": (
        "We learn from each family about its culture, language, faith and identity, and we "
        "examine how our own practice lands on families of different backgrounds.",
        (
            "Families are offered an interpreter, at no cost, for every meeting, in the "
            "language they choose.",
            "The family's cultural, tribal and faith connections are asked about and written "
            "into the case plan.",
        ),
    ),
    "Staff well-being": (
        "Caseworkers who are supported, coached and heard stay longer and do better work "
        "with families; turnover is felt first by the children.",
        (
            "Every caseworker has at least one hour of individual supervision each week.",
            "A worker is offered a debrief within two working days of a critical incident.",
        ),
    ),
}


@dataclass
class Loaded:
    """What the loading did, for the summary."""

    created: list[Person] = field(default_factory=list)
    kept: list[Person] = field(default_factory=list)
    actors: dict[str, str] = field(default_factory=dict)  # login -> account id
    kept_statements: bool = False
    value_ids: dict[str, str] = field(default_factory=dict)
    values_added: int = 0
    standards: int = 0
    initiatives: list[tuple[str, str]] = field(default_factory=list)  # (title, status)
    revisits: list[str] = field(default_factory=list)
    measures: list[tuple[str, str]] = field(default_factory=list)  # (name, what it shows)
    measure_ids: dict[str, str] = field(default_factory=dict)  # name -> id, for cycle plans
    to_publish: list[tuple[str, uuid.UUID, str]] = field(default_factory=list)  # (kind, id, name)


def load_demo(app: CQIApplication, settings: Settings, *, force: bool) -> str:
    """Load the demo agency; return what was loaded and how to sign in.

    Refuses (DemoRefusedError) when the store already holds initiatives, or any of the demo
    logins, unless `force`: then the initiatives are loaded beside the existing ones and
    existing accounts are kept as they are.
    """
    today = datetime.now(settings.zone).date()
    existing = [p for p in PEOPLE if app.find_account(p.login) is not None]
    if not force:
        check_empty(app, existing)
    loaded = Loaded()
    add_accounts(app, settings, existing, loaded)
    add_mission_and_values(app, loaded)
    add_measures(app, loaded, today)  # before the initiatives, whose cycles link them
    add_initiatives(app, loaded, today)
    add_revisits(app, loaded, today)
    add_publication(app, loaded)
    return summary(settings, loaded)


def check_empty(app: CQIApplication, existing: list[Person]) -> None:
    opened = app.recorder.select_notifications(
        start=1, limit=1, topics=[get_topic(Initiative.Opened)])
    if opened:
        raise DemoRefusedError(
            "This store already holds initiatives, so the demo agency was not loaded (its "
            "sample records would mix with yours). Nothing was changed. To load it anyway, "
            "run `cqi demo --force`, or point CQI_DATA_DIR / DATABASE_URL at an empty store."
        )
    if existing:
        logins = ", ".join(p.login for p in existing)
        raise DemoRefusedError(
            f"The demo logins {logins} already exist, so the demo agency was not loaded. "
            "Nothing was changed. Run `cqi demo --force` to load it and keep those accounts "
            "as they are."
        )


# --- accounts --------------------------------------------------------------------------


def add_accounts(
    app: CQIApplication, settings: Settings, existing: list[Person], loaded: Loaded
) -> None:
    # One hash for all five: each costs about a quarter of a second at the standard cost.
    password_hash = ""
    if len(existing) < len(PEOPLE):
        password_hash = password_hasher(settings.password_hash_cost).hash(DEMO_PASSWORD)
    for person in PEOPLE:
        if person in existing:
            account = app.find_account(person.login)
            assert account is not None
            loaded.actors[person.login] = str(account.id)
            loaded.kept.append(person)
            continue
        receipt = app.register_account(
            actor=DEMO_ACTOR, login=person.login, display_name=person.display_name,
            role=person.role, password_hash=password_hash,
        )
        loaded.actors[person.login] = str(receipt.id)
        loaded.created.append(person)


# --- mission, vision, values -----------------------------------------------------------


def add_mission_and_values(app: CQIApplication, loaded: Loaded) -> None:
    """Written by the leader. An agency's own statements and values, if any, are kept."""
    lee = loaded.actors["lee"]
    mission = app.mission()
    if mission is not None and mission.mission:
        loaded.kept_statements = True
    else:
        app.write_mission(actor=lee, mission=MISSION, vision=VISION,
                          revisit_every_months=REVISIT_EVERY_MONTHS)
    for name, (description, standards) in VALUES.items():
        mission = app.mission()
        same = [v for v in (mission.active_values() if mission else [])
                if v.name.casefold() == name.casefold()]
        if same:
            value_id = same[0].id
            written = {s.text.casefold() for s in same[0].active_standards()}
        else:
            value_id = app.add_value(actor=lee, name=name, description=description).detail
            written = set()
            loaded.values_added += 1
        loaded.value_ids[name] = value_id
        for text in standards:
            if text.casefold() not in written:
                app.add_standard(actor=lee, value_id=value_id, text=text)
                loaded.standards += 1


# --- initiatives -----------------------------------------------------------------------


def day_text(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def end_of_month(today: date, months_ahead: int) -> date:
    return add_months(today.replace(day=1), months_ahead + 1) - timedelta(days=1)


def add_initiatives(app: CQIApplication, loaded: Loaded, today: date) -> None:
    families_at_the_table(app, loaded, today)
    every_child_seen(app, loaded, today)
    relatives_first(app, loaded, today)
    brothers_and_sisters(app, loaded, today)
    protected_supervision(app, loaded, today)
    family_time_reminders(app, loaded, today)


def families_at_the_table(app: CQIApplication, loaded: Loaded, today: date) -> None:
    """The initiative of the CQI text: families say they are not valued and included.

    Cycle 1 is adapted; cycle 2 starts pre-filled, is revised, and is now in Do.
    """
    values, maria, sam = loaded.value_ids, loaded.actors["maria"], loaded.actors["sam"]
    title = "Families at the table: co-written case plans"
    initiative_id = app.open_initiative(
        actor=maria,
        title=title,
        problem=(
            "Consumer feedback is consistent: month after month in the family survey and at the "
            "Parent Advisory Council's listening sessions, families told us they do not feel "
            "valued or included in decisions about their children. Only 41% of parents "
            "surveyed agreed that they helped write their case plan. Our mission "
            "says families are partners; our practice does not yet show it."
        ),
        aim=(
            f"By {day_text(end_of_month(today, 9))}, 75% of parents surveyed agree that they "
            "helped write their case plan (41% in the year before the first cycle)."
        ),
        value_ids=[values["Family engagement"], values["Cultural humility"]],
        team=[
            {"name": "Maria Delgado", "kind": "staff", "role": "CQI specialist, team lead"},
            {"name": "Denise Harlow", "kind": "staff",
             "role": "Supervisor, Ongoing Services Unit 3"},
            {"name": "Jamal Price", "kind": "staff", "role": "Caseworker, Unit 3"},
            {"name": "Karen Liu", "kind": "stakeholder",
             "role": "Coordinator, Court Appointed Special Advocates (CASA)"},
            {"name": "Val Moreno", "kind": "consumer",
             "role": "Parent Advisory Council representative, a parent with lived experience "
                     "of the agency"},
        ],
    ).id
    loaded.to_publish.append(("initiative", initiative_id, title))
    months = months_back(today, len(CASE_PLAN_SURVEY))  # the survey's months (add_measures)
    app.plan_cycle(initiative_id, actor=maria, plan={
        "value_id": values["Family engagement"],
        "measure_id": loaded.measure_ids["Parents who helped write their case plan"],
        "objective": "Test whether a family team meeting in which the parents co-write the case "
                     "plan makes them feel valued and included.",
        "questions": "Do parents come when invited by phone and letter? Afterwards, do they say "
                     "they helped write the plan?",
        "prediction": "At least 6 in 10 parents who attend will agree that they helped write "
                      "their case plan.",
        "measure": "Parents answering 'agree' or 'strongly agree' to 'I helped write my case "
                   "plan' on a one-question card after the meeting, divided by cards returned.",
        "intervention": "A family team meeting within 30 days of case opening; the plan is "
                        "drafted together on a flip chart, in the family's words.",
        "training_step": "A two-hour session for Unit 3 caseworkers on facilitating family team "
                         "meetings; a supervisor coaches each worker's first meeting.",
        "logistics": "Unit 3 (East office), cases opened in the next four weeks. Maria "
                     "collects the cards every Friday.",
    })
    app.record_do(
        initiative_id, 1, actor=maria,
        observations="Meetings were held for 9 of the 12 cases opened. Three parents could not "
                     "come at the times offered (weekday mornings, during their shifts). Two "
                     "families who had asked for Spanish met without an interpreter because one "
                     "was booked too late.",
        data_collected="9 cards returned; 5 agree or strongly agree (56%).",
        started_on=months[CHANGE_MONTH], today=today,
    )
    app.record_study(
        initiative_id, 1, actor=sam,
        result="56% against a prediction of 60%: close, but short. Parents who took part were "
               "positive; the three who could not come are not in the count at all.",
        learning="Meeting times set around the office shut out working parents, and an "
                 "interpreter booked late means a family cannot really take part. Being invited "
                 "is not the same as being included.",
        studied_on=months[SPREAD_MONTH] - timedelta(days=6), today=today,
    )
    app.decide_act(
        initiative_id, 1, actor=maria, decision=ADAPT,
        rationale="Keep the meeting, which works when families can take part, but hold it at a "
                  "time the family chooses and book the interpreter when the meeting is set.",
    )
    cycle_2 = app.load(Initiative, initiative_id).cycle(2).plan()
    app.revise_plan(initiative_id, 2, actor=maria, plan={
        **cycle_2,
        "objective": "Test the family team meeting held at a time the family chooses, with an "
                     "interpreter booked when the meeting is set, in two units.",
        "prediction": "At least 7 in 10 parents will agree that they helped write their case "
                      "plan, and at least 9 in 10 families offered a meeting will attend.",
        "intervention": "The family team meeting of cycle 1, offered at a time the family "
                        "chooses (evenings included); an interpreter is booked at scheduling "
                        "whenever the family prefers a language other than English.",
        "training_step": "A one-hour refresher for Units 3 and 5 on booking interpreters through "
                         "the language line; a parent partner from the Parent Advisory Council "
                         "co-facilitates each worker's first meeting.",
        "logistics": "Units 3 and 5, cases opened in the next six weeks. Maria collects the "
                     "cards; Denise Harlow tracks meetings offered and held.",
    })
    app.record_do(
        initiative_id, 2, actor=sam,
        observations="Meetings were held for 14 of the 15 cases opened, 6 of them in the "
                     "evening. Interpreters were present at all 4 meetings that needed one. "
                     "Parents asked for a copy of the plan to take home; workers printed it on "
                     "the spot.",
        data_collected="14 cards returned; 10 agree or strongly agree (71%). Meetings held: "
                       "14 of 15 offered (93%).",
        started_on=months[SPREAD_MONTH], today=today,
    )
    loaded.initiatives.append((title, "active, cycle 2 in Do (cycle 1 adapted)"))


def every_child_seen(app: CQIApplication, loaded: Loaded, today: date) -> None:
    """Active, with its first cycle planned."""
    values, sam = loaded.value_ids, loaded.actors["sam"]
    title = "Every child seen, every visit"
    initiative_id = app.open_initiative(
        actor=sam,
        title=title,
        problem=(
            "Last quarter's case record review found that workers documented seeing the child "
            "alone in 58% of monthly visits, observing the home in 71%, and asking foster "
            "parents about their needs in 40%; all three together in 36%. Our practice "
            "standards say all three happen at every visit. The foster parent association tells "
            "us its members are rarely asked what they need."
        ),
        aim=(
            f"By {day_text(end_of_month(today, 6))}, 90% of the monthly visits reviewed "
            "document all three child-safety standards (36% last quarter)."
        ),
        value_ids=[values["Child safety"]],
        team=[
            {"name": "Sam Whitaker", "kind": "staff", "role": "CQI analyst, team lead"},
            {"name": "Rosa Jimenez", "kind": "staff", "role": "Supervisor, Placement Unit"},
            {"name": "Tom Becker", "kind": "stakeholder",
             "role": "President, Riverbend Foster and Adoptive Parent Association"},
            {"name": "Aaliyah Grant", "kind": "consumer",
             "role": "Youth Advisory Board member, formerly in foster care"},
        ],
    ).id
    app.plan_cycle(initiative_id, actor=sam, plan={
        "value_id": values["Child safety"],
        "measure_id": loaded.measure_ids["Visits documenting all three child-safety standards"],
        "objective": "Test a one-page visit guide that walks the worker through the three "
                     "child-safety standards before leaving the home.",
        "questions": "Do workers use the guide at each visit? Does the visit record then show "
                     "the child seen alone, the home observed and the foster parent asked about "
                     "their needs?",
        "prediction": "In the Placement Unit, visits documenting all three standards rise from "
                      "36% to at least 70% within four weeks.",
        "measure": "Visits whose record documents all three standards, divided by monthly "
                   "visits in the period, from a weekly review of 20 visit records.",
        "intervention": "A one-page visit guide with the three standards as questions to answer "
                        "before leaving the home, and matching required fields in the visit "
                        "note.",
        "training_step": "A 45-minute unit huddle to walk through the guide, with a role play of "
                         "talking with a child alone; supervisors review two visit notes per "
                         "worker in weekly supervision.",
        "logistics": "Placement Unit (8 workers), four weeks from next Monday. Rosa Jimenez "
                     "hands out the guides; Sam reviews 20 records a week.",
    })
    loaded.initiatives.append((title, "active, cycle 1 in Plan"))


def relatives_first(app: CQIApplication, loaded: Loaded, today: date) -> None:
    """Proposed: the charter is written, no cycle yet."""
    values, lee = loaded.value_ids, loaded.actors["lee"]
    title = "Relatives first: kinship placements"
    app.open_initiative(
        actor=lee,
        title=title,
        problem=(
            "Only 27% of the children who entered care last year were first placed with "
            "relatives or close family friends. At listening sessions, grandparents and aunts "
            "told us nobody asked them until weeks after the removal, and our tribal partners "
            "report that relatives of Native children are not always contacted before a "
            "placement is made."
        ),
        aim=(
            f"By {day_text(end_of_month(today, 12))}, 45% of children entering care are first "
            "placed with kin, and relatives are contacted within 72 hours of every removal."
        ),
        value_ids=[values["Permanency"], values["Cultural humility"]],
        team=[
            {"name": "Lee Okafor", "kind": "staff", "role": "Deputy Director, sponsor"},
            {"name": "Priya Raman", "kind": "staff", "role": "Supervisor, Intake"},
            {"name": "Grace Whitehorse", "kind": "stakeholder",
             "role": "ICWA liaison, tribal social services"},
            {"name": "Dorothy Simmons", "kind": "consumer",
             "role": "Kinship caregiver, Kinship Support Group"},
        ],
    )
    loaded.initiatives.append((title, "proposed, no cycle yet"))


def brothers_and_sisters(app: CQIApplication, loaded: Loaded, today: date) -> None:
    """Active, its first cycle studied and awaiting the team's Act decision."""
    values, maria, sam = loaded.value_ids, loaded.actors["maria"], loaded.actors["sam"]
    title = "Brothers and sisters together"
    initiative_id = app.open_initiative(
        actor=maria,
        title=title,
        problem=(
            "38% of the sibling groups in our care are split across placements. Members of the "
            "Youth Advisory Board say losing their brothers and sisters was the hardest part "
            "of coming into care, and split siblings see each other once a month at best."
        ),
        aim=(
            f"By {day_text(end_of_month(today, 8))}, 80% of sibling groups entering care are "
            "placed together (62% last year)."
        ),
        value_ids=[values["Permanency"], values["Child safety"]],
        team=[
            {"name": "Maria Delgado", "kind": "staff", "role": "CQI specialist, team lead"},
            {"name": "Rosa Jimenez", "kind": "staff", "role": "Supervisor, Placement Unit"},
            {"name": "Tom Becker", "kind": "stakeholder",
             "role": "President, Riverbend Foster and Adoptive Parent Association"},
            {"name": "Aaliyah Grant", "kind": "consumer",
             "role": "Youth Advisory Board member, formerly in foster care"},
        ],
    ).id
    app.plan_cycle(initiative_id, actor=maria, plan={
        "value_id": values["Permanency"],
        "objective": "Test whether searching for a home that can take the whole sibling group, "
                     "before any split, keeps more brothers and sisters together.",
        "questions": "How often is a home for the whole group found within 24 hours? What "
                     "stops foster parents from taking a larger group?",
        "prediction": "At least 3 in 4 sibling groups placed during the test stay together.",
        "measure": "Sibling groups placed together, divided by sibling groups placed, from the "
                   "placement desk's log.",
        "intervention": "The placement desk searches for a home for the whole group first; "
                        "splitting a group needs a supervisor's written sign-off stating the "
                        "reason.",
        "training_step": "Placement desk staff and on-call supervisors walk through the sign-off "
                         "form; the foster parent association briefs its members on taking "
                         "sibling groups, with respite offered.",
        "logistics": "All placements for six weeks. Rosa Jimenez signs off splits; Maria "
                     "reviews the log weekly.",
    })
    app.record_do(
        initiative_id, 1, actor=sam,
        observations="Eleven sibling groups came into care. A home for the whole group was "
                     "found for eight of them, five within 24 hours. Three splits were signed "
                     "off: two for lack of a large enough home, one for a safety reason between "
                     "the children. Foster parents asked for beds and car seats, not only "
                     "respite.",
        data_collected="8 of 11 sibling groups placed together (73%; 62% last year).",
    )
    app.record_study(
        initiative_id, 1, actor=maria,
        result="73% against a prediction of 75%: nearly there, and clearly better than last "
               "year.",
        learning="The written sign-off makes a split a decision rather than a default. What "
                 "still splits groups is equipment and space: two homes would have taken a "
                 "group of four with bunk beds and a larger car seat budget.",
    )
    loaded.initiatives.append((title, "active, cycle 1 in Study (awaiting Act)"))


def protected_supervision(app: CQIApplication, loaded: Loaded, today: date) -> None:
    """Sustained: one cycle adopted its change, which is now agency policy."""
    values, sam, lee = loaded.value_ids, loaded.actors["sam"], loaded.actors["lee"]
    title = "Protected supervision time"
    initiative_id = app.open_initiative(
        actor=sam,
        title=title,
        problem=(
            "In exit interviews, 7 of the 11 caseworkers who left last year named too little "
            "supervision and support among their reasons. Supervision logs showed that 45% of "
            "caseworkers had an individual supervision session in a given week. Families feel "
            "turnover first: a new worker, the story told again."
        ),
        aim=(
            f"By {day_text(end_of_month(today, -4))}, 90% of caseworkers have at least one hour "
            "of individual supervision every week, as recorded in the supervision log."
        ),
        value_ids=[values["Staff well-being"]],
        team=[
            {"name": "Sam Whitaker", "kind": "staff", "role": "CQI analyst, team lead"},
            {"name": "Priya Raman", "kind": "staff", "role": "Supervisor, Intake"},
            {"name": "Marcus Hill", "kind": "stakeholder",
             "role": "Steward, caseworkers' union"},
            {"name": "Kim Osei", "kind": "consumer", "role": "Parent Advisory Council member"},
        ],
    ).id
    app.plan_cycle(initiative_id, actor=sam, plan={
        "value_id": values["Staff well-being"],
        "objective": "Test whether a protected, recurring hour on each caseworker's calendar "
                     "makes weekly supervision happen.",
        "questions": "Is the hour kept? Do workers say they get the support they need?",
        "prediction": "Weekly supervision rises from 45% to at least 80% of caseworkers in "
                      "Intake and Unit 3 within six weeks.",
        "measure": "Caseworkers with at least one hour of individual supervision in the week, "
                   "divided by caseworkers on staff, from the supervision log, weekly.",
        "intervention": "A recurring, protected one-hour slot for each caseworker, not booked "
                        "over except for emergencies; a missed slot is made up in the same "
                        "week.",
        "training_step": "Supervisors take the two-day supervision coaching course and use a "
                         "shared agenda: a safety case, a family-engagement case, and the "
                         "worker's own well-being.",
        "logistics": "Intake and Unit 3, six weeks. Priya Raman keeps the log.",
    })
    app.record_do(
        initiative_id, 1, actor=sam,
        observations="Slots were kept in five of six weeks; court days were the main reason for "
                     "missed slots, which were usually made up by Friday.",
        data_collected="Weekly supervision: 84%, 88%, 79%, 91%, 86%, 90% (45% before). Pulse "
                       "survey, 'I get the support I need': 2.6 before, 3.7 after (out of 5).",
    )
    app.record_study(
        initiative_id, 1, actor=sam,
        result="Prediction met: 86% on average against 80% predicted, and workers feel the "
               "difference.",
        learning="Protected time works when the supervisor owns the rescheduling. The shared "
                 "agenda made supervision about practice, not only paperwork; workers asked to "
                 "keep it.",
    )
    app.decide_act(
        initiative_id, 1, actor=sam, decision=ADOPT,
        rationale="Adopt agency-wide: written into the supervision policy, and the slots are "
                  "set up on supervisors' calendars when they start.",
    )
    app.conclude_initiative(
        initiative_id, actor=lee, outcome=SUSTAINED,
        note="Agency-wide since the policy change. Weekly supervision has stayed between 85% "
             "and 92% for three months. The quarterly case record review now checks supervision "
             "notes and reports the result to the leadership team.",
    )
    loaded.initiatives.append((title, "sustained (cycle 1 adopted)"))


def family_time_reminders(app: CQIApplication, loaded: Loaded, today: date) -> None:
    """Abandoned, on the consumers' advice, with a note saying why."""
    values, maria = loaded.value_ids, loaded.actors["maria"]
    title = "Text reminders for family time"
    initiative_id = app.open_initiative(
        actor=maria,
        title=title,
        problem=(
            "One in four scheduled family-time visits between parents and their children in "
            "care is missed, and children are left waiting at the visit center."
        ),
        aim=(
            f"By {day_text(end_of_month(today, -2))}, missed family-time visits fall from 25% "
            "to 12%."
        ),
        value_ids=[values["Family engagement"]],
        team=[
            {"name": "Maria Delgado", "kind": "staff", "role": "CQI specialist, team lead"},
            {"name": "Luis Ortega", "kind": "staff", "role": "Coordinator, Family Visit Center"},
            {"name": "Val Moreno", "kind": "consumer",
             "role": "Parent Advisory Council representative"},
        ],
    ).id
    app.plan_cycle(initiative_id, actor=maria, plan={
        "value_id": values["Family engagement"],
        "objective": "Test whether a text message the day before a visit reduces missed "
                     "family-time visits.",
        "prediction": "Missed visits fall from 25% to 15% within four weeks.",
        "measure": "Visits missed by the parent, divided by visits scheduled, from the visit "
                   "center's log, weekly.",
        "intervention": "An automated text reminder at 5 pm the day before each visit.",
        "training_step": "Visit center staff learn to enter parents' mobile numbers and their "
                         "consent to texts at scheduling.",
        "logistics": "All visits at the Family Visit Center for four weeks. Luis Ortega keeps "
                     "the log.",
    })
    app.record_do(
        initiative_id, 1, actor=maria,
        observations="Reminders were sent for 60 visits. At the Parent Advisory Council, "
                     "several parents said texts from an unknown number felt like being watched, "
                     "and two asked for them to stop.",
        data_collected="Missed visits: 23% (25% before).",
    )
    app.record_study(
        initiative_id, 1, actor=maria,
        result="No real change: 23% against a prediction of 15%.",
        learning="Parents were not forgetting their visits; they missed them for lack of "
                 "transport and because of shift work. The reminders treated the family as the "
                 "problem.",
    )
    app.decide_act(
        initiative_id, 1, actor=maria, decision=ABANDON,
        rationale="The change idea does not address the causes families named.",
    )
    app.conclude_initiative(
        initiative_id, actor=maria, outcome=ABANDONED,
        note="Abandoned on the Parent Advisory Council's advice. Transport and visit times go "
             "to the Families at the table team as change ideas for a later cycle.",
    )
    loaded.initiatives.append((title, "abandoned, with a note"))


# --- revisits --------------------------------------------------------------------------


def add_revisits(app: CQIApplication, loaded: Loaded, today: date) -> None:
    """One overdue (values), one upcoming (mission), one held and reaffirmed (vision), whose
    cadence scheduled the next; and one of a single value."""
    lee = loaded.actors["lee"]
    leadership = ["Lee Okafor", "Leadership team", "CQI team"]

    values_due = today - timedelta(days=23)
    app.schedule_revisit(
        actor=lee, subject="values", due_on=values_due,
        participants=[*leadership, "Parent Advisory Council", "Youth Advisory Board"],
        every_months=REVISIT_EVERY_MONTHS,
    )
    loaded.revisits.append(f"values: due {values_due}, OVERDUE")

    mission_due = today + timedelta(days=45)
    app.schedule_revisit(
        actor=lee, subject="mission", due_on=mission_due,
        participants=[*leadership, "Board of Commissioners liaison"],
        every_months=REVISIT_EVERY_MONTHS,
    )
    loaded.revisits.append(f"mission: due {mission_due}")

    vision_due = add_months(today, -5)
    held_on = vision_due + timedelta(days=6)
    vision = app.schedule_revisit(
        actor=lee, subject="vision", due_on=vision_due,
        participants=[*leadership, "Parent Advisory Council", "Foster and Adoptive Parent "
                                                              "Association"],
        every_months=REVISIT_EVERY_MONTHS,
    )
    app.complete_revisit(
        vision.id, actor=lee, held_on=held_on, outcome=REAFFIRMED,
        notes="Reaffirmed. Parents on the council said the vision reads true but that our "
              "letters to families do not sound like it; Communications will rewrite the "
              "standard letters in plain language, and the family survey will ask about them.",
        today=today,
    )
    loaded.revisits.append(
        f"vision: held {held_on}, reaffirmed; next due {add_months(held_on, 12)}")

    value_id = loaded.value_ids["Cultural humility"]
    value_due = add_months(today, 3)
    app.schedule_revisit(
        actor=lee, subject=value_id, due_on=value_due,
        participants=["Lee Okafor", "Grace Whitehorse", "Parent Advisory Council"],
        every_months=24,
    )
    loaded.revisits.append(f"value Cultural humility: due {value_due}")


# --- measures --------------------------------------------------------------------------

# Hand-written monthly series, oldest first, ending last month: the demo is the same every time.
# The family survey: (parents agreeing they helped write their case plan, parents answering).
# Fourteen baseline months around 41%; family team meetings begin in the fifteenth.
CASE_PLAN_SURVEY = (
    (14, 35), (16, 38), (13, 34), (15, 37), (17, 38), (12, 31), (18, 42), (13, 33), (15, 39),
    (16, 36), (17, 41), (14, 32), (16, 40), (14, 36),
    (19, 38), (21, 39), (20, 36), (24, 41), (23, 37), (24, 39), (25, 38), (28, 42), (27, 39),
    (29, 41),
)
CHANGE_MONTH = 14  # index of the first month with family team meetings
SPREAD_MONTH = 18  # Unit 5 joins, meetings at times families choose (cycle 2's change)
# The visit record review: (visits documenting all three child-safety standards, visits).
SAFETY_VISITS = (
    (27, 78), (31, 84), (22, 61), (29, 72), (19, 58), (33, 88), (25, 66), (21, 63), (30, 81),
    (24, 70), (28, 74), (20, 55), (26, 69), (23, 67), (18, 52), (4, 45), (17, 49), (25, 71),
    (29, 80), (32, 86), (24, 68), (27, 82), (23, 64), (25, 70),
)
SHORT_STAFFED_MONTH = 15
DOUBLE_COUNTED_MONTH = 21  # entered as 27 of 82, corrected to 27 of 76
DOUBLE_COUNTED_VISITS = 6
# Family-time visits the agency cancelled (no worker or visit-center staff to supervise).
CANCELLED_FAMILY_TIME = (
    8, 11, 7, 9, 12, 10, 6, 9, 8, 13, 9, 7, 10, 8, 11, 9, 7, 10, 12, 8, 9, 11, 7, 10,
)
# Average days from a child's removal to the family's first team meeting, since meetings began.
DAYS_TO_FIRST_MEETING = (24.5, 23.0, 25.5, 19.0, 21.5, 17.0, 18.5, 15.5, 14.0, 13.5)


def months_back(today: date, count: int) -> list[date]:
    """The first days of the `count` months before this one, oldest first."""
    this_month = today.replace(day=1)
    return [add_months(this_month, -months) for months in range(count, 0, -1)]


def month_text(day: date) -> str:
    return f"{day:%B %Y}"


def add_measures(app: CQIApplication, loaded: Loaded, today: date) -> None:
    """Defined by the leader, their data imported by the CQI team, one series per save."""
    case_plans(app, loaded, today)
    safety_visits(app, loaded, today)
    cancelled_family_time(app, loaded, today)
    days_to_first_meeting(app, loaded, today)


def case_plans(app: CQIApplication, loaded: Loaded, today: date) -> None:
    """The outcome of Families at the table: a run chart shifts up when the meetings begin."""
    values, lee, maria = loaded.value_ids, loaded.actors["lee"], loaded.actors["maria"]
    name = "Parents who helped write their case plan"
    measure_id = app.define_measure(
        actor=lee, name=name, type="outcome", unit="proportion", direction="up", goal=0.75,
        definition={
            "numerator": "Parents answering 'agree' or 'strongly agree' to 'I helped write my "
                         "case plan'.",
            "denominator": "Parents with an open case who answered that question in the month.",
            "data_source": "The monthly family survey (by text, by mail, or on paper at the "
                           "visit center), question 4; the Parent Advisory Council helped "
                           "word it.",
            "owner": "Maria Delgado, CQI specialist",
            "frequency": "monthly",
        },
        value_ids=[values["Family engagement"], values["Cultural humility"]],
    ).id
    loaded.to_publish.append(("measure", measure_id, name))
    loaded.measure_ids[name] = str(measure_id)
    months = months_back(today, len(CASE_PLAN_SURVEY))
    notes = {
        CHANGE_MONTH: "Family team meetings begin in Unit 3: parents co-write the case plan.",
        SPREAD_MONTH: "Unit 5 joins; meetings at a time the family chooses, interpreters booked "
                      "when the meeting is set.",
    }
    app.import_data_points(measure_id, actor=maria, today=today, points=[
        {"period": month, "numerator": agree, "denominator": answered,
         "note": notes.get(index, "")}
        for index, (month, (agree, answered)) in enumerate(
            zip(months, CASE_PLAN_SURVEY, strict=True))
    ])
    loaded.measures.append((name, (
        f"outcome, {len(months)} months; run chart: a shift upward from "
        f"{month_text(months[CHANGE_MONTH])}, when family team meetings began")))


def safety_visits(app: CQIApplication, loaded: Loaded, today: date) -> None:
    """The process measure of Every child seen: a stable 36%, one month below the p chart's
    lower limit, and one month's count corrected."""
    values, lee, sam = loaded.value_ids, loaded.actors["lee"], loaded.actors["sam"]
    name = "Visits documenting all three child-safety standards"
    measure_id = app.define_measure(
        actor=lee, name=name, type="process", unit="proportion", direction="up", goal=0.9,
        definition={
            "numerator": "Visits whose record documents that the worker saw the child alone, "
                         "observed the home, and asked the foster parents what they need.",
            "denominator": "Monthly caseworker visits to children in foster care whose record "
                           "was reviewed in the month (Placement Unit).",
            "data_source": "The CQI team's monthly review of visit records in the case "
                           "management system.",
            "owner": "Sam Whitaker, CQI analyst",
            "frequency": "monthly",
        },
        value_ids=[values["Child safety"]],
    ).id
    loaded.measure_ids[name] = str(measure_id)
    months = months_back(today, len(SAFETY_VISITS))
    notes = {
        SHORT_STAFFED_MONTH: "Placement Unit short-staffed: three of eight caseworker posts "
                             "vacant, visits made by covering workers from other units.",
    }
    entered = list(SAFETY_VISITS)
    documented, visits = entered[DOUBLE_COUNTED_MONTH]
    entered[DOUBLE_COUNTED_MONTH] = (documented, visits + DOUBLE_COUNTED_VISITS)
    app.import_data_points(measure_id, actor=sam, today=today, points=[
        {"period": month, "numerator": documented, "denominator": visits,
         "note": notes.get(index, "")}
        for index, (month, (documented, visits)) in enumerate(zip(months, entered, strict=True))
    ])
    documented, visits = SAFETY_VISITS[DOUBLE_COUNTED_MONTH]
    app.correct_data_point(
        measure_id, actor=sam, period=months[DOUBLE_COUNTED_MONTH], numerator=documented,
        denominator=visits,
        reason=f"{DOUBLE_COUNTED_VISITS} visits were counted twice when the two reviewers' "
               "spreadsheets were merged; the duplicates are removed.",
    )
    app.annotate_measure(
        measure_id, actor=sam, on=months[SHORT_STAFFED_MONTH] + timedelta(days=4),
        text="Three of eight Placement Unit posts vacant", today=today)
    loaded.measures.append((name, (
        f"process, {len(months)} months; p chart: "
        f"{month_text(months[SHORT_STAFFED_MONTH])} below the lower limit (the unit was "
        f"short-staffed); {month_text(months[DOUBLE_COUNTED_MONTH])} corrected")))


def cancelled_family_time(app: CQIApplication, loaded: Loaded, today: date) -> None:
    """A balancing measure: evening family team meetings draw on the same workers who
    supervise family time. The c chart shows nothing but common-cause variation."""
    values, lee, maria = loaded.value_ids, loaded.actors["lee"], loaded.actors["maria"]
    name = "Family-time visits cancelled by the agency"
    measure_id = app.define_measure(
        actor=lee, name=name, type="balancing", unit="count", direction="down",
        definition={
            "numerator": "Scheduled family-time visits between parents and their children in "
                         "care that the agency cancelled (no worker or visit-center staff to "
                         "supervise), in the month.",
            "denominator": "",
            "data_source": "The Family Visit Center's visit log.",
            "owner": "Luis Ortega, Coordinator, Family Visit Center",
            "frequency": "monthly",
        },
        value_ids=[values["Family engagement"], values["Staff well-being"]],
    ).id
    months = months_back(today, len(CANCELLED_FAMILY_TIME))
    app.import_data_points(measure_id, actor=maria, today=today, points=[
        {"period": month, "value": count, "note": ""}
        for month, count in zip(months, CANCELLED_FAMILY_TIME, strict=True)
    ])
    loaded.measures.append((name, (
        f"balancing, {len(months)} months; c chart: steady, the meetings have not cost "
        "families their visits")))


def days_to_first_meeting(app: CQIApplication, loaded: Loaded, today: date) -> None:
    """A continuous process measure, recorded since the family team meetings began."""
    values, lee, maria = loaded.value_ids, loaded.actors["lee"], loaded.actors["maria"]
    name = "Days from removal to the first family team meeting"
    measure_id = app.define_measure(
        actor=lee, name=name, type="process", unit="continuous", direction="down", goal=10,
        definition={
            "numerator": "Average days from a child's removal to the family's first team "
                         "meeting, for the children removed in the month.",
            "denominator": "",
            "data_source": "Removal dates and meeting dates in the case management system.",
            "owner": "Denise Harlow, Supervisor, Ongoing Services Unit 3",
            "frequency": "monthly",
        },
        value_ids=[values["Family engagement"], values["Permanency"]],
    ).id
    months = months_back(today, len(DAYS_TO_FIRST_MEETING))
    app.import_data_points(measure_id, actor=maria, today=today, points=[
        {"period": month, "value": days, "note": ""}
        for month, days in zip(months, DAYS_TO_FIRST_MEETING, strict=True)
    ])
    loaded.measures.append((name, (
        f"process, {len(months)} months since the meetings began; I chart: falling from "
        f"{DAYS_TO_FIRST_MEETING[0]:g} to {DAYS_TO_FIRST_MEETING[-1]:g} days")))


def add_publication(app: CQIApplication, loaded: Loaded) -> None:
    """One measure and one initiative chosen for the public pages, which stay closed: nothing
    is public until a leader opens them on /publishing."""
    lee = loaded.actors["lee"]
    for kind, item_id, _ in loaded.to_publish:
        publish = app.publish_measure if kind == "measure" else app.publish_initiative
        publish(item_id, actor=lee)


# --- summary ---------------------------------------------------------------------------


def summary(settings: Settings, loaded: Loaded) -> str:
    lines = [f"Loaded the demo agency: {AGENCY} (fictional)."]
    statements = ("kept the existing mission and vision" if loaded.kept_statements
                  else f"mission and vision, revisited every {REVISIT_EVERY_MONTHS} months")
    values = ", ".join(loaded.value_ids)
    if loaded.values_added < len(loaded.value_ids):
        values += f" ({len(loaded.value_ids) - loaded.values_added} already there)"
    lines.append(f"  {statements}; values: {values}; {loaded.standards} practice standards added")
    lines.append(f"  {len(loaded.initiatives)} initiatives:")
    lines += [f"    - {title}: {state}" for title, state in loaded.initiatives]
    lines.append("  revisits of the mission, vision and values:")
    lines += [f"    - {revisit}" for revisit in loaded.revisits]
    lines.append(f"  {len(loaded.measures)} measures, with monthly data:")
    lines += [f"    - {name}: {shows}" for name, shows in loaded.measures]
    if loaded.to_publish:
        lines.append("  chosen for the public pages (closed until a leader opens them on "
                     "/publishing):")
        lines += [f"    - {kind}: {name}" for kind, _, name in loaded.to_publish]
    lines.append("")
    if loaded.created:
        lines.append(f"Sign in with one of these logins and the password {DEMO_PASSWORD}")
    else:
        lines.append("Sign in with one of these logins:")
    for person in PEOPLE:
        if person in loaded.kept:
            lines.append(f"    {person.login:<7} an existing account, kept as it is")
        else:
            lines.append(f"    {person.login:<7} {person.role:<8} {person.display_name}, "
                         f"{person.title}")
    lines += [
        "",
        "Start the server with `make run` (or `.venv/bin/cqi serve`, with the same settings) "
        f"and open http://{settings.host}:{settings.port}",
        "For the API, make a token with `.venv/bin/cqi token create lee`.",
    ]
    return "\n".join(lines)
