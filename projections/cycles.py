"""Every PDSA cycle of every initiative, one row each: which value it puts into practice, the
measure it links, its training step, its dates and its result. The alignment matrix, the
portfolio's stale cycles and the cycle markers on a measure's chart read it.

`updated_at` is the cycle's own last activity (its plan, a revision, Do, Study or Act); a
charter or team change does not make a cycle look active.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from psycopg import Cursor

from domain.initiative import ACT, DO, PLAN, PROPOSED, STUDY, Initiative
from projections.base import Projection, handles

TABLE = "cycles_v1"
INITIATIVES = f"{TABLE}_initiatives"


class Cycles(Projection):
    name = TABLE
    tables = (TABLE, INITIATIVES)
    ddl = (
        f"CREATE TABLE IF NOT EXISTS {TABLE} ("
        " initiative_id uuid NOT NULL,"
        " number integer NOT NULL,"
        " title text NOT NULL,"
        " status text NOT NULL,"
        " value_id text NOT NULL,"
        " measure text NOT NULL,"
        " measure_id uuid,"
        " objective text NOT NULL,"
        " intervention text NOT NULL,"
        " training_step text NOT NULL,"
        " prediction text NOT NULL,"
        " phase text NOT NULL,"
        " result text NOT NULL DEFAULT '',"
        " learning text NOT NULL DEFAULT '',"
        " decision text NOT NULL DEFAULT '',"
        " planned_at timestamptz NOT NULL,"
        " started_on date,"
        " studied_on date,"
        " updated_at timestamptz NOT NULL,"
        " PRIMARY KEY (initiative_id, number))",
        f"CREATE INDEX IF NOT EXISTS {TABLE}_by_measure ON {TABLE} (measure_id)"
        " WHERE measure_id IS NOT NULL",
        f"CREATE INDEX IF NOT EXISTS {TABLE}_by_value ON {TABLE} (value_id)",
        # An initiative's title and status, kept here so cycle rows can carry them.
        f"CREATE TABLE IF NOT EXISTS {INITIATIVES} ("
        " initiative_id uuid PRIMARY KEY,"
        " title text NOT NULL,"
        " status text NOT NULL)",
    )

    def _cycle(self, curs: Cursor[Any], e: Any, assignments: str, params: tuple) -> None:
        curs.execute(
            f"UPDATE {TABLE} SET updated_at = %s, {assignments}"
            " WHERE initiative_id = %s AND number = %s",
            (e.timestamp, *params, e.originator_id, e.number),
        )

    def _initiative(self, curs: Cursor[Any], e: Any, column: str, value: str) -> None:
        curs.execute(f"UPDATE {INITIATIVES} SET {column} = %s WHERE initiative_id = %s",
                     (value, e.originator_id))
        curs.execute(f"UPDATE {TABLE} SET {column} = %s WHERE initiative_id = %s",
                     (value, e.originator_id))

    @handles(Initiative.Opened)
    def opened(self, curs: Cursor[Any], e: Any) -> None:
        curs.execute(
            f"INSERT INTO {INITIATIVES} (initiative_id, title, status) VALUES (%s, %s, %s)",
            (e.originator_id, e.title, PROPOSED),
        )

    @handles(Initiative.CharterRevised)
    def charter_revised(self, curs: Cursor[Any], e: Any) -> None:
        self._initiative(curs, e, "title", e.title)

    @handles(Initiative.Concluded)
    def concluded(self, curs: Cursor[Any], e: Any) -> None:
        self._initiative(curs, e, "status", e.outcome)

    @handles(Initiative.CyclePlanned)
    def planned(self, curs: Cursor[Any], e: Any) -> None:
        curs.execute(
            f"UPDATE {INITIATIVES} SET status = 'active'"
            " WHERE initiative_id = %s AND status = %s", (e.originator_id, PROPOSED))
        curs.execute(
            f"INSERT INTO {TABLE} (initiative_id, number, title, status, value_id, measure,"
            " measure_id, objective, intervention, training_step, prediction, phase, planned_at,"
            " updated_at)"
            f" SELECT %s, %s, i.title, i.status, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s"
            f" FROM {INITIATIVES} i WHERE i.initiative_id = %s",
            (e.originator_id, e.number, e.value_id, e.measure, _measure_id(e.measure_id),
             e.objective, e.intervention, e.training_step, e.prediction, PLAN, e.timestamp,
             e.timestamp, e.originator_id),
        )
        curs.execute(f"UPDATE {TABLE} SET status = 'active' WHERE initiative_id = %s"
                     " AND status = %s", (e.originator_id, PROPOSED))

    @handles(Initiative.CyclePlanRevised)
    def plan_revised(self, curs: Cursor[Any], e: Any) -> None:
        self._cycle(
            curs, e, "value_id = %s, measure = %s, measure_id = %s, objective = %s,"
            " intervention = %s, training_step = %s, prediction = %s",
            (e.value_id, e.measure, _measure_id(e.measure_id), e.objective, e.intervention,
             e.training_step, e.prediction),
        )

    @handles(Initiative.DoRecorded)
    def do_recorded(self, curs: Cursor[Any], e: Any) -> None:
        self._cycle(curs, e, "phase = %s, started_on = %s", (DO, e.started_on))

    @handles(Initiative.StudyRecorded)
    def study_recorded(self, curs: Cursor[Any], e: Any) -> None:
        self._cycle(curs, e, "phase = %s, studied_on = %s, result = %s, learning = %s",
                    (STUDY, e.studied_on, e.result, e.learning))

    @handles(Initiative.ActDecided)
    def act_decided(self, curs: Cursor[Any], e: Any) -> None:
        self._cycle(curs, e, "phase = %s, decision = %s", (ACT, e.decision))


def _measure_id(text: str) -> uuid.UUID | None:
    return uuid.UUID(text) if text else None


_COLUMNS = (
    "initiative_id, number, title, status, value_id, measure, measure_id, objective,"
    " intervention, training_step, prediction, phase, result, learning, decision, planned_at,"
    " started_on, studied_on, updated_at"
)


async def cycles(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every cycle, initiative by initiative, in order."""
    return await conn.fetch(f"SELECT {_COLUMNS} FROM {TABLE} ORDER BY title, initiative_id,"
                            " number")


async def measure_cycles(conn: asyncpg.Connection, measure_id: uuid.UUID) -> list[asyncpg.Record]:
    """The cycles whose Plan links this measure, the earliest test first: their Do-Study spans
    are marked on the measure's chart."""
    return await conn.fetch(
        f"SELECT {_COLUMNS} FROM {TABLE} WHERE measure_id = $1"
        " ORDER BY coalesce(started_on, planned_at::date), title, number",
        measure_id,
    )
