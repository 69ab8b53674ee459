"""Every PDSA cycle of every initiative, one row each: which value it puts into practice, the
measure it links, its training step, its dates and its result. The alignment matrix, the
portfolio's stale cycles and the cycle markers on a measure's chart read it.

`updated_at` is the cycle's own last activity (its plan, a revision, Do, Study or Act); a
charter or team change does not make a cycle look active.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
from psycopg import Cursor, sql

from domain.initiative import ACT, ACTIVE, CONCLUSIONS, DO, PLAN, PROPOSED, STUDY, Initiative
from projections.base import (
    Changes,
    ColumnTypes,
    Projection,
    Replace,
    column_params,
    handles,
    statement,
    unnest_source,
    write_stage,
)

TABLE = "cycles_v1"
INITIATIVES = f"{TABLE}_initiatives"
OPEN = f"phase <> '{ACT}' AND status <> ALL ('{{{','.join(CONCLUSIONS)}}}'::text[])"
"""A cycle still open: Act not decided and its initiative not concluded (queries that want
the open cycles' index repeat this text)."""
TRAINED = "btrim(training_step, E' \\t\\n\\r\\f\\v') <> ''"
"""A cycle with a training step (not only blanks; queries repeat this text for its index)."""


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
        # A value's cycles, latest first (the alignment matrix's lists; the day is the test's
        # start, else the plan's UTC day, which the matrix refines in the agency's zone).
        f"CREATE INDEX IF NOT EXISTS {TABLE}_latest_by_value ON {TABLE} (value_id,"
        " (coalesce(started_on, (planned_at AT TIME ZONE 'UTC')::date)) DESC, title DESC,"
        " number DESC)",
        # The same for the cycles with a training step (the matrix's training column).
        f"CREATE INDEX IF NOT EXISTS {TABLE}_trained_by_value ON {TABLE} (value_id,"
        " (coalesce(started_on, (planned_at AT TIME ZONE 'UTC')::date)) DESC, title DESC,"
        f" number DESC) WHERE {TRAINED}",
        # The open cycles (Act not decided, initiative not concluded): few at any time.
        f"CREATE INDEX IF NOT EXISTS {TABLE}_open ON {TABLE} (value_id, updated_at)"
        f" WHERE {OPEN}",
        # An initiative's title and status, kept here so cycle rows can carry them.
        f"CREATE TABLE IF NOT EXISTS {INITIATIVES} ("
        " initiative_id uuid PRIMARY KEY,"
        " title text NOT NULL,"
        " status text NOT NULL)",
    )

    keys = {TABLE: ("initiative_id", "number"), INITIATIVES: ("initiative_id",)}
    # A cycle's title and status are its initiative's, always: a cycle is inserted with them and
    # every change of them reaches all its cycles. So a batch writes the initiatives first,
    # then inserts its new cycles joined with their initiative (no row when it has none), then
    # copies the title and status to the cycles of the initiatives whose row changed.
    _CARRIED = ("title", "status")

    def _cycle(self, changes: Changes, e: Any, **assignments: Any) -> None:
        changes.update(TABLE, (e.originator_id, e.number), {"updated_at": e.timestamp,
                                                            **assignments})

    def _initiative(self, changes: Changes, e: Any, **assignments: Any) -> None:
        changes.update(INITIATIVES, (e.originator_id,), assignments)
        changes.carried.add(e.originator_id)

    @handles(Initiative.Opened)
    def opened(self, changes: Changes, e: Any) -> None:
        changes.insert(INITIATIVES, {"initiative_id": e.originator_id, "title": e.title,
                                     "status": PROPOSED})

    @handles(Initiative.CharterRevised)
    def charter_revised(self, changes: Changes, e: Any) -> None:
        self._initiative(changes, e, title=e.title)

    @handles(Initiative.Concluded)
    def concluded(self, changes: Changes, e: Any) -> None:
        self._initiative(changes, e, status=e.outcome)

    @handles(Initiative.CyclePlanned)
    def planned(self, changes: Changes, e: Any) -> None:
        self._initiative(changes, e, status=Replace((PROPOSED, ACTIVE)))
        changes.insert(TABLE, {
            "initiative_id": e.originator_id, "number": e.number, "value_id": e.value_id,
            "measure": e.measure, "measure_id": _measure_id(e.measure_id),
            "objective": e.objective, "intervention": e.intervention,
            "training_step": e.training_step, "prediction": e.prediction, "phase": PLAN,
            "result": "", "learning": "", "decision": "", "planned_at": e.timestamp,
            "started_on": None, "studied_on": None, "updated_at": e.timestamp})

    @handles(Initiative.CyclePlanRevised)
    def plan_revised(self, changes: Changes, e: Any) -> None:
        self._cycle(changes, e, value_id=e.value_id, measure=e.measure,
                    measure_id=_measure_id(e.measure_id), objective=e.objective,
                    intervention=e.intervention, training_step=e.training_step,
                    prediction=e.prediction)

    @handles(Initiative.DoRecorded)
    def do_recorded(self, changes: Changes, e: Any) -> None:
        self._cycle(changes, e, phase=DO, started_on=e.started_on)

    @handles(Initiative.StudyRecorded)
    def study_recorded(self, changes: Changes, e: Any) -> None:
        self._cycle(changes, e, phase=STUDY, studied_on=e.studied_on, result=e.result,
                    learning=e.learning)

    @handles(Initiative.ActDecided)
    def act_decided(self, changes: Changes, e: Any) -> None:
        self._cycle(changes, e, phase=ACT, decision=e.decision)

    def changes(self) -> Changes:
        changes = super().changes()
        changes.carried = set()  # type: ignore[attr-defined]
        return changes

    def write(self, curs: Cursor[Any], changes: Changes) -> None:
        changes.write(curs, (INITIATIVES,))
        cycles = changes[TABLE]
        for stage in cycles.stages:
            if stage.rows:
                write_stage(curs, cycles, stage, self.column_types(curs, TABLE),
                            insert=self._insert_cycles)
        carried = changes.carried  # type: ignore[attr-defined]
        if carried:
            curs.execute(
                f"UPDATE {TABLE} c SET title = i.title, status = i.status FROM {INITIATIVES} i"
                " WHERE i.initiative_id = ANY(%s) AND c.initiative_id = i.initiative_id"
                " AND (c.title, c.status) IS DISTINCT FROM (i.title, i.status)",
                (list(carried),))

    def _insert_cycles(self, curs: Cursor[Any], table: str, columns: Sequence[str],
                       rows: Sequence[Sequence[Any]], types: ColumnTypes) -> None:
        if not set(self._CARRIED).isdisjoint(columns):
            raise ValueError("a cycle takes its title and status from its initiative")
        def build() -> sql.Composable:
            source, selects = unnest_source(columns, [types[c] for c in columns])
            return sql.SQL(
                "INSERT INTO {} ({}, title, status) SELECT {}, i.title, i.status FROM {}"
                " JOIN {} i ON i.initiative_id = v.initiative_id::uuid").format(
                sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns)),
                selects, source, sql.Identifier(INITIATIVES))
        curs.execute(statement(("insert cycles", table, tuple(columns)), build),
                     column_params(columns, rows, types))


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
