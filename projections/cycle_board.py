"""Every initiative with its current cycle and phase: the cycle board and the initiatives list."""

from __future__ import annotations

from typing import Any

import asyncpg

from domain.initiative import ACTIVE, DO, PLAN, PROPOSED, STUDY, Initiative
from projections.base import Changes, Projection, Replace, handles
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

    keys = {TABLE: ("initiative_id",)}

    def touch(self, changes: Changes, e: Any, **assignments: Any) -> None:
        """Update the row for the event's initiative, always moving version and last activity."""
        changes.update(TABLE, (e.originator_id,), {
            "version": e.originator_version, "updated_at": e.timestamp, "updated_by": e.actor,
            **assignments})

    @handles(Initiative.Opened)
    def opened(self, changes: Changes, e: Any) -> None:
        changes.insert(TABLE, {
            "initiative_id": e.originator_id, "title": e.title, "status": PROPOSED,
            "value_ids": list(e.value_ids), "cycle_number": None, "phase": None,
            "cycle_value_id": None, "decision": None, "version": e.originator_version,
            "opened_at": e.timestamp, "updated_at": e.timestamp, "updated_by": e.actor})

    @handles(Initiative.CharterRevised)
    def charter_revised(self, changes: Changes, e: Any) -> None:
        self.touch(changes, e, title=e.title, value_ids=list(e.value_ids))

    @handles(Initiative.TeamMemberAdded)
    def team_changed(self, changes: Changes, e: Any) -> None:
        self.touch(changes, e)

    @handles(Initiative.CyclePlanned)
    def cycle_planned(self, changes: Changes, e: Any) -> None:
        self.touch(changes, e, cycle_number=e.number, phase=PLAN, cycle_value_id=e.value_id,
                   decision=None, status=Replace((PROPOSED, ACTIVE)))

    @handles(Initiative.CyclePlanRevised)
    def plan_revised(self, changes: Changes, e: Any) -> None:
        self.touch(changes, e, cycle_value_id=e.value_id)

    @handles(Initiative.DoRecorded)
    def do_recorded(self, changes: Changes, e: Any) -> None:
        self.touch(changes, e, phase=DO)

    @handles(Initiative.StudyRecorded)
    def study_recorded(self, changes: Changes, e: Any) -> None:
        self.touch(changes, e, phase=STUDY)

    @handles(Initiative.ActDecided)
    def act_decided(self, changes: Changes, e: Any) -> None:
        self.touch(changes, e, phase="act", decision=e.decision)

    @handles(Initiative.Concluded)
    def concluded(self, changes: Changes, e: Any) -> None:
        self.touch(changes, e, status=e.outcome)


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
