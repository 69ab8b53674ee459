"""The alignment matrix: each value with its practice standards (retired ones kept, marked), and
the queries that gather, per value, its measures and the cycles that served it; and the cycles
that have gone quiet (the portfolio dashboard's stale cycles).

The cycles come from the cycles view (one row per cycle), the measures from the measures view.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg

from domain.initiative import PLAN
from domain.mission import Mission
from projections.base import Changes, Projection, handles
from projections.cycles import OPEN, TRAINED
from projections.cycles import TABLE as CYCLES  # one row per PDSA cycle
from projections.measure_data import TABLE as MEASURES

TABLE = "alignment_v1"
VALUES = f"{TABLE}_values"
STANDARDS = f"{TABLE}_standards"


class Alignment(Projection):
    name = TABLE
    tables = (VALUES, STANDARDS)
    ddl = (
        f"CREATE TABLE IF NOT EXISTS {VALUES} ("
        " value_id text PRIMARY KEY,"
        " name text NOT NULL,"
        " description text NOT NULL,"
        " added_at timestamptz NOT NULL,"
        " revised_at timestamptz NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {STANDARDS} ("
        " value_id text NOT NULL,"
        " standard_id text NOT NULL,"
        " text text NOT NULL,"
        " retired boolean NOT NULL,"
        " added_at timestamptz NOT NULL,"
        " retired_at timestamptz,"
        " PRIMARY KEY (value_id, standard_id))",
    )

    keys = {VALUES: ("value_id",), STANDARDS: ("value_id", "standard_id")}

    @handles(Mission.ValueAdded)
    def value_added(self, changes: Changes, e: Any) -> None:
        changes.insert(VALUES, {"value_id": e.value_id, "name": e.name,
                                "description": e.description, "added_at": e.timestamp,
                                "revised_at": e.timestamp})

    @handles(Mission.ValueRevised)
    def value_revised(self, changes: Changes, e: Any) -> None:
        changes.update(VALUES, (e.value_id,), {"name": e.name, "description": e.description,
                                               "revised_at": e.timestamp})

    @handles(Mission.PracticeStandardAdded)
    def standard_added(self, changes: Changes, e: Any) -> None:
        changes.insert(STANDARDS, {"value_id": e.value_id, "standard_id": e.standard_id,
                                   "text": e.text, "retired": False, "added_at": e.timestamp,
                                   "retired_at": None})

    @handles(Mission.PracticeStandardRetired)
    def standard_retired(self, changes: Changes, e: Any) -> None:
        changes.update(STANDARDS, (e.value_id, e.standard_id),
                       {"retired": True, "retired_at": e.timestamp})


# --- queries ---------------------------------------------------------------------------------


async def values(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """The agency's values, by name."""
    return await conn.fetch(
        f"SELECT value_id, name, description FROM {VALUES} ORDER BY lower(name), value_id")


async def standards(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every practice standard ever written, retired ones too (`retired`), oldest first."""
    return await conn.fetch(
        f"SELECT value_id, standard_id, text, retired FROM {STANDARDS}"
        " ORDER BY value_id, added_at, standard_id")


async def measures(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every measure with the values it serves."""
    return await conn.fetch(
        f"SELECT measure_id, name, value_ids FROM {MEASURES} ORDER BY name, measure_id")


async def cycles(conn: asyncpg.Connection, zone: str) -> list[asyncpg.Record]:
    """Every cycle with the value it tested; `planned_on` is the plan's day in the agency's
    time zone `zone`."""
    return await conn.fetch(
        "SELECT initiative_id, number, title, status, value_id, phase, training_step,"
        " result, learning, decision, started_on, studied_on,"
        " (planned_at AT TIME ZONE $1)::date AS planned_on"
        f" FROM {CYCLES} ORDER BY initiative_id, number",
        zone,
    )


async def stale_cycles(
    conn: asyncpg.Connection, today: date, zone: str, days: int, limit: int | None = None
) -> list[asyncpg.Record]:
    """Open cycles (Act not decided, the initiative not concluded) whose last activity was
    `days` or more days before `today`, counted in calendar days of the agency's time zone
    `zone`; the longest idle first (at most `limit`)."""
    idle = "($1::date - (c.updated_at AT TIME ZONE $2)::date)"
    return await conn.fetch(
        "SELECT c.initiative_id, c.number, c.title, c.status, c.phase, c.value_id,"
        f" v.name AS value_name, c.updated_at, {idle} AS days_idle"
        f" FROM {CYCLES} c LEFT JOIN {VALUES} v ON v.value_id = c.value_id"
        f" WHERE {_open('c')} AND {idle} >= $3"
        " ORDER BY days_idle DESC, c.title, c.number, c.initiative_id LIMIT $4",
        today, zone, days, limit,
    )


async def stale_cycles_count(conn: asyncpg.Connection, today: date, zone: str, days: int) -> int:
    return int(await conn.fetchval(
        f"SELECT count(*) FROM {CYCLES} c WHERE {_open('c')}"
        " AND ($1::date - (c.updated_at AT TIME ZONE $2)::date) >= $3", today, zone, days))


def _open(alias: str) -> str:
    """OPEN for the table named `alias` (the text the open cycles' partial index is made of)."""
    return OPEN.replace("phase", f"{alias}.phase").replace("status", f"{alias}.status")


# --- the matrix, bounded: counts and the first few of each list, per value ---------------

_KEY = "coalesce(c.started_on, (c.planned_at AT TIME ZONE 'UTC')::date)"
_LATEST = f"{_KEY} DESC, c.title DESC, c.number DESC"
"""Latest first, in the order of the index on a value's cycles (see projections/cycles.py)."""
_CYCLE_COLUMNS = (
    "c.initiative_id, c.number, c.title, c.status, c.value_id, c.phase, c.training_step,"
    " c.result, c.learning, c.decision, c.started_on, c.studied_on,"
    " (c.planned_at AT TIME ZONE $1)::date AS planned_on"
)
_TRAINED = TRAINED.replace("training_step", "c.training_step")
CYCLE_LISTS = {
    "training": _TRAINED,
    "active": _open("c"),
    "finished": f"NOT ({_open('c')})",
}


async def current_standards(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    """Each value's current practice standards, oldest first, at most `limit` a value, each row
    with `total`: how many the value has."""
    return await conn.fetch(
        "SELECT value_id, standard_id, text, total FROM ("
        " SELECT value_id, standard_id, text, added_at,"
        "  count(*) OVER (PARTITION BY value_id) AS total,"
        "  row_number() OVER (PARTITION BY value_id ORDER BY added_at, standard_id) AS n"
        f" FROM {STANDARDS} WHERE NOT retired) s WHERE n <= $1"
        " ORDER BY value_id, added_at, standard_id", limit)


async def value_measures(conn: asyncpg.Connection, limit: int
                         ) -> tuple[list[asyncpg.Record], dict[str, int]]:
    """Each value's first `limit` measures by name, and how many measures serve each value."""
    rows = await conn.fetch(
        f"SELECT v.value_id, m.measure_id, m.name FROM {VALUES} v CROSS JOIN LATERAL ("
        f" SELECT measure_id, name FROM {MEASURES} WHERE value_ids @> ARRAY[v.value_id]"
        " ORDER BY lower(name), name, measure_id LIMIT $1) m", limit)
    counts = await conn.fetch(
        f"SELECT v.value_id, (SELECT count(*) FROM {MEASURES} m"
        f"  WHERE m.value_ids @> ARRAY[v.value_id]) AS n FROM {VALUES} v")
    return list(rows), {r["value_id"]: r["n"] for r in counts}


async def value_cycles(conn: asyncpg.Connection, zone: str, kind: str, limit: int
                       ) -> list[asyncpg.Record]:
    """Each value's latest `limit` cycles of one kind (training: with a training step; active;
    finished), `planned_on` in the agency's time zone `zone`."""
    return await conn.fetch(
        f"SELECT {_CYCLE_COLUMNS} FROM {VALUES} v CROSS JOIN LATERAL ("
        f" SELECT * FROM {CYCLES} c WHERE c.value_id = v.value_id AND {CYCLE_LISTS[kind]}"
        f" ORDER BY {_LATEST} LIMIT $2) c", zone, limit)


async def cycle_facts(conn: asyncpg.Connection, zone: str, since: date
                      ) -> dict[str, asyncpg.Record]:
    """Per value: how many cycles it has (`total`, `active`, `training`), whether one has
    tested it (Do recorded) and whether one with a training step was planned, or began its
    test, on `since` or later (days in the agency's time zone `zone`)."""
    planned_since = "($3::date::timestamp AT TIME ZONE $1)"  # the start of `since` in the zone
    recent = f"{_TRAINED} AND (c.planned_at >= {planned_since} OR c.started_on >= $3)"

    def found(condition: str) -> str:
        # The first match in the order of a value's index: an index scan that stops there
        # (an EXISTS is planned as a scan of the whole table when most rows would match).
        return (f"coalesce((SELECT true FROM {CYCLES} c WHERE c.value_id = v.value_id"
                f" AND {condition} ORDER BY c.value_id, {_LATEST} LIMIT 1), false)")

    rows = await conn.fetch(
        "SELECT v.value_id,"
        f" (SELECT count(*) FROM {CYCLES} c WHERE c.value_id = v.value_id) AS total,"
        f" (SELECT count(*) FROM {CYCLES} c WHERE c.value_id = v.value_id AND {_open('c')})"
        "  AS active,"
        f" (SELECT count(*) FROM {CYCLES} c WHERE c.value_id = v.value_id AND {_TRAINED})"
        "  AS training,"
        f" {found('c.phase <> $2')} AS tested,"
        # A recent training step is found through the index (its day is at most one day
        # from the zone's); one whose test began before its plan was written is looked for
        # only when none is.
        f" ({found(f'{_KEY} >= $3::date - 1 AND {recent}')}"
        f"  OR {found(f'c.started_on < $3::date - 1 AND {recent}')}) AS recent_training"
        f" FROM {VALUES} v", zone, PLAN, since)
    return {r["value_id"]: r for r in rows}
