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
        # The initiatives list, a page at a time, most recently active first.
        f"CREATE INDEX IF NOT EXISTS {TABLE}_by_activity ON {TABLE}"
        " (updated_at DESC, title, initiative_id)",
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


def _where(status: str | None, value_id: str | None) -> tuple[str, list[Any]]:
    conditions, args = [], []
    if status is not None:
        args.append(status)
        conditions.append(f"b.status = ${len(args)}")
    if value_id is not None:
        args.append(value_id)
        conditions.append(f"${len(args)} = ANY(b.value_ids)")
    return (" WHERE " + " AND ".join(conditions) if conditions else ""), args


async def initiatives_page(
    conn: asyncpg.Connection, status: str | None, value_id: str | None, limit: int, offset: int
) -> list[asyncpg.Record]:
    """One page of the initiatives list (optionally one status, or those serving one value),
    most recently active first; the initiative's id ends the order so pages never overlap."""
    where, args = _where(status, value_id)
    n = len(args)
    return await conn.fetch(
        f"SELECT {_COLUMNS} FROM {TABLE} b LEFT JOIN {VALUES} v ON v.value_id = b.cycle_value_id"
        f"{where} ORDER BY b.updated_at DESC, b.title, b.initiative_id"
        f" LIMIT ${n + 1} OFFSET ${n + 2}",
        *args, limit, offset,
    )


async def initiatives_count(
    conn: asyncpg.Connection, status: str | None, value_id: str | None
) -> int:
    where, args = _where(status, value_id)
    return int(await conn.fetchval(f"SELECT count(*) FROM {TABLE} b{where}", *args))


async def status_counts(conn: asyncpg.Connection) -> dict[str, int]:
    """How many initiatives are in each status."""
    rows = await conn.fetch(f"SELECT status, count(*) AS n FROM {TABLE} GROUP BY status")
    return {r["status"]: r["n"] for r in rows}


async def active_phase_counts(conn: asyncpg.Connection) -> dict[str | None, int]:
    """Active initiatives by the phase of their current cycle (None: no cycle planned yet)."""
    rows = await conn.fetch(
        f"SELECT phase, count(*) AS n FROM {TABLE} WHERE status = $1 GROUP BY phase", ACTIVE)
    return {r["phase"]: r["n"] for r in rows}
