"""The alignment matrix: each value with its practice standards (retired ones kept, marked), and
the queries that gather, per value, its measures and the cycles that served it; and the cycles
that have gone quiet (the portfolio dashboard's stale cycles).

The cycles come from the cycles view (one row per cycle), the measures from the measures view.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg

from domain.initiative import ACT, CONCLUSIONS
from domain.mission import Mission
from projections.base import Changes, Projection, handles
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
    conn: asyncpg.Connection, today: date, zone: str, days: int
) -> list[asyncpg.Record]:
    """Open cycles (Act not decided, the initiative not concluded) whose last activity was
    `days` or more days before `today`, counted in calendar days of the agency's time zone
    `zone`; the longest idle first."""
    idle = "($1::date - (c.updated_at AT TIME ZONE $2)::date)"
    return await conn.fetch(
        "SELECT c.initiative_id, c.number, c.title, c.status, c.phase, c.value_id,"
        f" v.name AS value_name, c.updated_at, {idle} AS days_idle"
        f" FROM {CYCLES} c LEFT JOIN {VALUES} v ON v.value_id = c.value_id"
        f" WHERE c.phase <> '{ACT}' AND c.status <> ALL($4::text[]) AND {idle} >= $3"
        " ORDER BY days_idle DESC, c.title, c.number",
        today, zone, days, list(CONCLUSIONS),
    )
