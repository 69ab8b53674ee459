"""Every initiative with its current cycle and phase: the cycle board and the initiatives list."""

from __future__ import annotations

from typing import Any

import asyncpg
from psycopg import Cursor

from domain.initiative import ACTIVE, DO, PLAN, PROPOSED, STUDY, Initiative
from projections.base import Projection, handles
from projections.value_names import TABLE as VALUES

TABLE = "cycle_board_v1"


class CycleBoard(Projection):
    name = TABLE
    tables = (TABLE,)
    ddl = (
        f"CREATE TABLE IF NOT EXISTS {TABLE} ("
        " initiative_id uuid PRIMARY KEY,"
        " title text NOT NULL,"
        " status text NOT NULL,"
        " value_ids text[] NOT NULL,"
        " cycle_number integer,"
        " phase text,"
        " cycle_value_id text,"
        " decision text,"
        " version integer NOT NULL,"
        " opened_at timestamptz NOT NULL,"
        " updated_at timestamptz NOT NULL,"
        " updated_by text NOT NULL)",
        f"CREATE INDEX IF NOT EXISTS {TABLE}_by_status ON {TABLE} (status, updated_at DESC)",
    )

    def touch(self, curs: Cursor[Any], e: Any, assignments: str = "", params: tuple = ()) -> None:
        """Update the row for the event's initiative, always moving version and last activity."""
        sets = "version = %s, updated_at = %s, updated_by = %s"
        if assignments:
            sets += ", " + assignments
        curs.execute(
            f"UPDATE {TABLE} SET {sets} WHERE initiative_id = %s",
            (e.originator_version, e.timestamp, e.actor, *params, e.originator_id),
        )

    @handles(Initiative.Opened)
    def opened(self, curs: Cursor[Any], e: Any) -> None:
        curs.execute(
            f"INSERT INTO {TABLE} (initiative_id, title, status, value_ids, version, opened_at,"
            " updated_at, updated_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (e.originator_id, e.title, PROPOSED, list(e.value_ids), e.originator_version,
             e.timestamp, e.timestamp, e.actor),
        )

    @handles(Initiative.CharterRevised)
    def charter_revised(self, curs: Cursor[Any], e: Any) -> None:
        self.touch(curs, e, "title = %s, value_ids = %s", (e.title, list(e.value_ids)))

    @handles(Initiative.TeamMemberAdded)
    def team_changed(self, curs: Cursor[Any], e: Any) -> None:
        self.touch(curs, e)

    @handles(Initiative.CyclePlanned)
    def cycle_planned(self, curs: Cursor[Any], e: Any) -> None:
        self.touch(
            curs, e,
            "cycle_number = %s, phase = %s, cycle_value_id = %s, decision = NULL,"
            " status = CASE WHEN status = %s THEN %s ELSE status END",
            (e.number, PLAN, e.value_id, PROPOSED, ACTIVE),
        )

    @handles(Initiative.CyclePlanRevised)
    def plan_revised(self, curs: Cursor[Any], e: Any) -> None:
        self.touch(curs, e, "cycle_value_id = %s", (e.value_id,))

    @handles(Initiative.DoRecorded)
    def do_recorded(self, curs: Cursor[Any], e: Any) -> None:
        self.touch(curs, e, "phase = %s", (DO,))

    @handles(Initiative.StudyRecorded)
    def study_recorded(self, curs: Cursor[Any], e: Any) -> None:
        self.touch(curs, e, "phase = %s", (STUDY,))

    @handles(Initiative.ActDecided)
    def act_decided(self, curs: Cursor[Any], e: Any) -> None:
        self.touch(curs, e, "phase = 'act', decision = %s", (e.decision,))

    @handles(Initiative.Concluded)
    def concluded(self, curs: Cursor[Any], e: Any) -> None:
        self.touch(curs, e, "status = %s", (e.outcome,))


_COLUMNS = (
    "b.initiative_id, b.title, b.status, b.value_ids, b.cycle_number, b.phase, b.cycle_value_id,"
    " v.name AS cycle_value_name, b.decision, b.version, b.opened_at, b.updated_at, b.updated_by"
)


async def initiatives(conn: asyncpg.Connection, status: str | None = None) -> list[asyncpg.Record]:
    """All initiatives, most recently active first (optionally one status only)."""
    return await conn.fetch(
        f"SELECT {_COLUMNS} FROM {TABLE} b LEFT JOIN {VALUES} v ON v.value_id = b.cycle_value_id"
        " WHERE $1::text IS NULL OR b.status = $1 ORDER BY b.updated_at DESC, b.title",
        status,
    )


async def in_progress(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Proposed and active initiatives, most recently active first: the board's cards. Years of
    sustained, closed and abandoned initiatives are history and are not read at all (the status
    index picks the few rows in progress)."""
    return await conn.fetch(
        f"SELECT {_COLUMNS} FROM {TABLE} b LEFT JOIN {VALUES} v ON v.value_id = b.cycle_value_id"
        " WHERE b.status = ANY($1::text[]) ORDER BY b.updated_at DESC, b.title",
        [PROPOSED, ACTIVE],
    )


async def board(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Active initiatives with their current cycle: what CQI teams are working on now."""
    return await initiatives(conn, ACTIVE)
