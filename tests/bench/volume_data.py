"""Data for the volume suite: a realistic agency, multiplied in SQL to any number of events.

The agency is written through the real application: the demo agency (accounts, mission and
values, initiatives in every state, measures, revisits), then one "team-year" of work — a
measure with its monthly data points entered one by one, and an initiative that runs five PDSA
cycles against it (four adapted, the last adopted) and is sustained. The team-year is then copied
in SQL as many times as needed, each copy with new aggregate ids. Ids of the copied aggregates
that appear inside an event's state (a cycle plan names its measure) are rewritten to the copy's;
references to the shared mission values and accounts are kept, as in a real agency where many
initiatives serve the same values.

Copies are history: their initiatives are sustained, so a larger store means more years of
work, not more work in flight. The audit chain's trigger is skipped for the copy (the chain is
not what is measured here, and its per-row hashing would dominate the generation time).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

import psycopg

from domain.account import account_id
from domain.initiative import ADAPT, ADOPT, SUSTAINED, Initiative
from service.application import CQIApplication
from service.demo import load_demo
from service.settings import Settings

COPIES = "bench_volume_copies"
MONTHS = 24
CYCLES = 5


@dataclass(frozen=True)
class Unit:
    """The aggregates of one team-year, and how many events they hold."""

    originator_ids: tuple[uuid.UUID, ...]
    events: int


def first_of_months_back(today: date, count: int) -> list[date]:
    first = today.replace(day=1)
    months = []
    for back in range(count, 0, -1):
        year, month = divmod(first.year * 12 + first.month - 1 - back, 12)
        months.append(date(year, month + 1, 1))
    return months


def load_agency(app: CQIApplication, settings: Settings) -> Unit:
    """The demo agency plus one team-year; returns the team-year (the unit to copy)."""
    load_demo(app, settings, force=False)
    return team_year(app, date.today())


def team_year(app: CQIApplication, today: date) -> Unit:
    lee, maria, sam = (str(account_id(login)) for login in ("lee", "maria", "sam"))
    mission = app.mission()
    assert mission is not None, "the demo agency has a mission"
    values = sorted(v.id for v in mission.active_values())
    months = first_of_months_back(today, MONTHS)
    measure_id = app.define_measure(
        actor=lee, name="Children visited in their placement month", type="process",
        unit="proportion", direction="up", goal=0.95, value_ids=[values[0]],
        definition={
            "numerator": "Children in care seen by their worker in the placement that month.",
            "denominator": "Children in care for the whole month.",
            "data_source": "Case management system, monthly contact report.",
            "owner": "CQI analyst",
            "frequency": "monthly",
        },
    ).id
    initiative_id = app.open_initiative(
        actor=maria, title="Monthly visits in the placement",
        problem="Case reviews found children seen at the office instead of where they live; "
                "workers cannot check the home or talk with the child alone.",
        aim="95% of children in care seen in their placement every month within a year.",
        value_ids=[values[0], values[1]],
        team=[{"name": "Maria Delgado", "kind": "staff", "role": "CQI specialist, lead"}],
    ).id
    app.add_team_member(initiative_id, actor=maria, name="Jordan Reyes", kind="staff",
                        role="Supervisor, Placement Unit")
    app.add_team_member(initiative_id, actor=maria, name="A foster parent", kind="consumer",
                        role="Foster Parent Association representative")
    month = iter(enumerate(months))

    def data_point() -> None:
        index, period = next(month)
        app.record_data_point(measure_id, actor=sam, period=period, numerator=58 + index,
                              denominator=80, today=today,
                              note="Unit 2 joins." if index == 12 else "")

    for _ in range(4):
        data_point()
    app.plan_cycle(initiative_id, actor=maria, plan={
        "value_id": values[0], "measure_id": str(measure_id),
        "objective": "Test a visit calendar agreed with the foster family at placement.",
        "prediction": "Visits in the placement rise from 75% to 85% in Unit 1.",
        "intervention": "Worker and foster family agree the month's visit at each visit.",
        "training_step": "A 30-minute huddle on the calendar for Unit 1 workers.",
        "questions": "Do families keep the agreed date?",
        "logistics": "Unit 1, eight weeks; the analyst pulls the contact report.",
    })
    for number in range(1, CYCLES + 1):
        started = months[4 + 3 * number]
        data_point()
        app.record_do(initiative_id, number, actor=sam, started_on=started, today=today,
                      observations="Most visits happened on the agreed day; two were moved.",
                      data_collected="Visits in placement for the unit, week by week.")
        data_point()
        app.record_study(initiative_id, number, actor=maria, studied_on=started + timedelta(40),
                         today=today, result="Visits rose, a little short of the prediction.",
                         learning="Evening visits suit working foster parents better.")
        data_point()
        last = number == CYCLES
        app.decide_act(initiative_id, number, actor=maria, decision=ADOPT if last else ADAPT,
                       rationale="Keep the calendar; offer evening slots." if not last
                       else "The calendar works in both units; make it standard practice.")
        if number == 2:
            plan = app.load(Initiative, initiative_id).cycle(3).plan()
            app.revise_plan(initiative_id, 3, actor=maria, plan={
                **plan, "logistics": "Units 1 and 2, twelve weeks."})
    for index, period in month:  # the months left: the change holds
        app.record_data_point(measure_id, actor=sam, period=period, numerator=72 + index % 5,
                              denominator=80, today=today)
    app.correct_data_point(measure_id, actor=sam, period=months[3], numerator=63,
                           denominator=80, reason="Two visits were entered a month late.")
    app.conclude_initiative(initiative_id, actor=maria, outcome=SUSTAINED,
                            note="Visits in the placement held at 90% or more for six months.")
    ids = (initiative_id, measure_id)
    with app.factory.datastore.transaction(commit=False) as curs:  # type: ignore[attr-defined]
        curs.execute("SELECT count(*) AS n FROM cqi_events WHERE originator_id = ANY(%s)",
                     (list(ids),))
        row = curs.fetchone()
    return Unit(ids, int(row["n"] if isinstance(row, dict) else row[0]))


def event_count(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM cqi_events").fetchone()
    return int(row[0]) if row else 0


def multiply(url: str, unit: Unit, copies: int) -> int:
    """Append `copies` copies of the unit's events, in the unit's order, copy after copy;
    returns the events added. Each copied aggregate gets a new id, also where its id appears
    in a state (as text or as the transcoder's hex form)."""
    if copies <= 0:
        return 0
    n = len(unit.originator_ids)
    new_columns = ", ".join(f"gen_random_uuid() AS id{i}" for i in range(n))
    new_id = "CASE e.originator_id " + " ".join(
        f"WHEN %(o{i})s THEN c.id{i}" for i in range(n)) + " END"
    state = "convert_from(e.state, 'UTF8')"
    for i in range(n):
        state = (f"replace(replace({state}, %(t{i})s, c.id{i}::text), "
                 f"%(h{i})s, replace(c.id{i}::text, '-', ''))")
    params: dict[str, object] = {"copies": copies}
    for i, oid in enumerate(unit.originator_ids):
        params.update({f"o{i}": oid, f"t{i}": str(oid), f"h{i}": oid.hex})
    with psycopg.connect(url) as conn, conn.transaction():
        # The audit chain's trigger is an ordinary (origin) trigger: skipped in replica role.
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute(
            "CREATE TEMP TABLE unit_events ON COMMIT DROP AS SELECT notification_id,"
            " originator_id, originator_version, topic, state FROM cqi_events"
            " WHERE originator_id = ANY(%s)", (list(unit.originator_ids),))
        # Kept (in the bench's own database) so that the views can be copied with the same ids.
        conn.execute(f"CREATE TABLE IF NOT EXISTS {COPIES} (k integer PRIMARY KEY,"
                     + ", ".join(f"id{i} uuid NOT NULL" for i in range(n)) + ")")
        row = conn.execute(f"SELECT coalesce(max(k), 0) FROM {COPIES}").fetchone()
        params["first"] = (row[0] if row else 0) + 1
        conn.execute(f"INSERT INTO {COPIES} SELECT k, {new_columns} FROM generate_series("
                     "%(first)s, %(first)s + %(copies)s - 1) AS k", params)
        cursor = conn.execute(
            "INSERT INTO cqi_events (originator_id, originator_version, topic, state)"
            f" SELECT {new_id}, e.originator_version, e.topic, convert_to({state}, 'UTF8')"
            f" FROM {COPIES} c CROSS JOIN unit_events e WHERE c.k >= %(first)s"
            " ORDER BY c.k, e.notification_id", params)
        added = cursor.rowcount
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE cqi_events")
    return added


def out_of_order(url: str) -> int:
    """Events whose notification id does not follow their aggregate's previous version (0 when
    every aggregate's events are numbered in version order, one version at a time)."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM (SELECT originator_version - lag(originator_version)"
            " OVER (PARTITION BY originator_id ORDER BY notification_id) AS step"
            " FROM cqi_events) s WHERE step <> 1").fetchone()
    return int(row[0]) if row else -1


def topic_mix(url: str, limit: int = 6) -> list[tuple[str, float]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT split_part(topic, ':', 2), count(*)::float / sum(count(*)) OVER ()"
            " FROM cqi_events GROUP BY 1 ORDER BY 2 DESC LIMIT %s", (limit,)).fetchall()
    return [(str(r[0]), float(r[1])) for r in rows]


def multiply_views(url: str, unit: Unit, tables: list[str], tracking_tables: list[str],
                   app_name: str, after_copy: int) -> int:
    """Give the views the rows a rebuild would give the copies made after copy `after_copy`:
    each row that names a unit aggregate (in a uuid column) is copied with the copy's ids. Every
    view here is keyed by its aggregates' ids, so this equals a rebuild (the quick test checks
    it row for row). Then every tracking position is moved to the head of the log."""
    n = len(unit.originator_ids)
    params: dict[str, object] = {"after": after_copy, "ids": list(unit.originator_ids)}
    params.update({f"o{i}": oid for i, oid in enumerate(unit.originator_ids)})
    added = 0
    with psycopg.connect(url) as conn, conn.transaction():
        for table in tables:
            columns = conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns"
                " WHERE table_name = %s ORDER BY ordinal_position", (table,)).fetchall()
            ids = [c for c, kind in columns if kind == "uuid"]
            if not ids:
                continue
            select = ", ".join(
                ("CASE t.{c} " + " ".join(f"WHEN %(o{i})s THEN c.id{i}" for i in range(n))
                 + " ELSE t.{c} END").format(c=c) if c in ids else f"t.{c}"
                for c, _ in columns)
            names = ", ".join(c for c, _ in columns)
            named = " OR ".join(f"t.{c} = ANY(%(ids)s)" for c in ids)
            cursor = conn.execute(
                f"INSERT INTO {table} ({names}) SELECT {select}"
                f" FROM {table} t CROSS JOIN {COPIES} c WHERE c.k > %(after)s AND ({named})",
                params)
            added += cursor.rowcount
        head = conn.execute("SELECT max(notification_id) FROM cqi_events").fetchone()
        position = head[0] if head else 0
        for table in tracking_tables:
            conn.execute(f"INSERT INTO {table} (application_name, notification_id)"
                         " VALUES (%s, %s) ON CONFLICT (application_name) DO UPDATE"
                         " SET notification_id = EXCLUDED.notification_id", (app_name, position))
    with psycopg.connect(url, autocommit=True) as conn:
        for table in tables:
            conn.execute(f"ANALYZE {table}")
    return added


def copies_made(url: str) -> int:
    with psycopg.connect(url) as conn:
        if not conn.execute("SELECT to_regclass(%s)", (COPIES,)).fetchone()[0]:  # type: ignore[index]
            return 0
        row = conn.execute(f"SELECT coalesce(max(k), 0) FROM {COPIES}").fetchone()
    return int(row[0]) if row else 0


def view_rows(url: str, tables: list[str]) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every view, sorted (to compare two builds row for row)."""
    with psycopg.connect(url) as conn:
        return {t: sorted(map(tuple, conn.execute(f"SELECT * FROM {t}").fetchall()), key=repr)
                for t in tables}
