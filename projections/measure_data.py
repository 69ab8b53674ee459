"""Measures and their data: the measures list, a measure's current data points, and every entry
(recorded, imported, corrected) behind each point; and how its charts are read (frozen baseline,
phases, excluded and astronomical points, annotations).

Rows hold event data only (times are the events' timestamps), so a rebuild gives the same rows.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import asyncpg
from psycopg import Cursor

from domain.measure import Measure, point_value
from projections.accounts import TABLE as ACCOUNTS
from projections.base import Projection, handles

TABLE = "measures_v2"  # v2: chart settings
POINTS = f"{TABLE}_points"
ENTRIES = f"{TABLE}_entries"
MARKS = f"{TABLE}_marks"
PHASE, ANNOTATION = "phase", "annotation"
RECORDED, IMPORTED, CORRECTED = "recorded", "imported", "corrected"


class MeasureData(Projection):
    name = TABLE
    tables = (TABLE, POINTS, ENTRIES, MARKS)
    ddl = (
        f"CREATE TABLE IF NOT EXISTS {TABLE} ("
        " measure_id uuid PRIMARY KEY,"
        " name text NOT NULL,"
        " type text NOT NULL,"
        " unit text NOT NULL,"
        " direction text NOT NULL,"
        " goal double precision,"
        " numerator text NOT NULL,"
        " denominator text NOT NULL,"
        " data_source text NOT NULL,"
        " owner text NOT NULL,"
        " frequency text NOT NULL,"
        " value_ids text[] NOT NULL,"
        " points integer NOT NULL,"
        " first_period date,"
        " last_period date,"
        " freeze_through date,"
        " version integer NOT NULL,"
        " defined_at timestamptz NOT NULL,"
        " updated_at timestamptz NOT NULL,"
        " updated_by text NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {POINTS} ("
        " measure_id uuid NOT NULL,"
        " period date NOT NULL,"
        " value double precision NOT NULL,"
        " numerator double precision,"
        " denominator double precision,"
        " note text NOT NULL,"
        " corrections integer NOT NULL,"
        " recorded_at timestamptz NOT NULL,"
        " recorded_by text NOT NULL,"
        " corrected_at timestamptz,"
        " corrected_by text,"
        " excluded text,"  # the reason, while the point is left out of the limits
        " astronomical text,"  # why a person flagged it, while flagged
        " PRIMARY KEY (measure_id, period))",
        f"CREATE TABLE IF NOT EXISTS {ENTRIES} ("
        " measure_id uuid NOT NULL,"
        " period date NOT NULL,"
        " version integer NOT NULL,"
        " kind text NOT NULL,"
        " value double precision NOT NULL,"
        " numerator double precision,"
        " denominator double precision,"
        " note text,"
        " reason text,"
        " entered_at timestamptz NOT NULL,"
        " entered_by text NOT NULL,"
        " PRIMARY KEY (measure_id, period, version))",
        f"CREATE TABLE IF NOT EXISTS {MARKS} ("
        " measure_id uuid NOT NULL,"
        " kind text NOT NULL,"  # phase | annotation
        " day date NOT NULL,"
        " label text NOT NULL,"
        " PRIMARY KEY (measure_id, kind, day))",
    )

    def touch(self, curs: Cursor[Any], e: Any, assignments: str = "", params: tuple = ()) -> None:
        sets = "version = %s, updated_at = %s, updated_by = %s"
        if assignments:
            sets += ", " + assignments
        curs.execute(
            f"UPDATE {TABLE} SET {sets} WHERE measure_id = %s",
            (e.originator_version, e.timestamp, e.actor, *params, e.originator_id),
        )

    @staticmethod
    def _definition(e: Any) -> tuple[Any, ...]:
        d = e.definition
        return (e.name, e.type, e.unit, e.direction, e.goal, d["numerator"], d["denominator"],
                d["data_source"], d["owner"], d["frequency"], list(e.value_ids))

    @handles(Measure.Defined)
    def defined(self, curs: Cursor[Any], e: Any) -> None:
        curs.execute(
            f"INSERT INTO {TABLE} (name, type, unit, direction, goal, numerator, denominator,"
            " data_source, owner, frequency, value_ids, measure_id, points, version,"
            " defined_at, updated_at, updated_by)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 0, %s, %s, %s, %s)",
            (*self._definition(e), e.originator_id, e.originator_version, e.timestamp,
             e.timestamp, e.actor),
        )

    @handles(Measure.DefinitionRevised)
    def revised(self, curs: Cursor[Any], e: Any) -> None:
        self.touch(
            curs, e,
            "name = %s, type = %s, unit = %s, direction = %s, goal = %s, numerator = %s,"
            " denominator = %s, data_source = %s, owner = %s, frequency = %s, value_ids = %s",
            self._definition(e),
        )

    def _add_points(self, curs: Cursor[Any], e: Any, points: list[Any], kind: str) -> None:
        rows = [
            (e.originator_id, p["period"], point_value(p["value"], p["numerator"],
                                                       p["denominator"]),
             p["numerator"], p["denominator"], p["note"])
            for p in points
        ]
        curs.executemany(
            f"INSERT INTO {POINTS} (measure_id, period, value, numerator, denominator, note,"
            " corrections, recorded_at, recorded_by) VALUES (%s, %s, %s, %s, %s, %s, 0, %s, %s)",
            [(*row, e.timestamp, e.actor) for row in rows],
        )
        curs.executemany(
            f"INSERT INTO {ENTRIES} (measure_id, period, value, numerator, denominator, note,"
            " version, kind, entered_at, entered_by)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [(*row, e.originator_version, kind, e.timestamp, e.actor) for row in rows],
        )
        periods = [p["period"] for p in points]
        self.touch(
            curs, e,
            "points = points + %s, first_period = LEAST(first_period, %s),"
            " last_period = GREATEST(last_period, %s)",
            (len(points), min(periods), max(periods)),
        )

    @handles(Measure.DataPointRecorded)
    def recorded(self, curs: Cursor[Any], e: Any) -> None:
        self._add_points(curs, e, [vars(e)], RECORDED)

    @handles(Measure.DataPointsImported)
    def imported(self, curs: Cursor[Any], e: Any) -> None:
        self._add_points(curs, e, e.points, IMPORTED)

    @handles(Measure.DataPointCorrected)
    def corrected(self, curs: Cursor[Any], e: Any) -> None:
        value = point_value(e.value, e.numerator, e.denominator)
        curs.execute(
            f"UPDATE {POINTS} SET value = %s, numerator = %s, denominator = %s,"
            " corrections = corrections + 1, corrected_at = %s, corrected_by = %s"
            " WHERE measure_id = %s AND period = %s",
            (value, e.numerator, e.denominator, e.timestamp, e.actor, e.originator_id,
             e.period),
        )
        curs.execute(
            f"INSERT INTO {ENTRIES} (measure_id, period, version, kind, value, numerator,"
            " denominator, reason, entered_at, entered_by)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (e.originator_id, e.period, e.originator_version, CORRECTED, value, e.numerator,
             e.denominator, e.reason, e.timestamp, e.actor),
        )
        self.touch(curs, e)

    # --- how the charts are read ----------------------------------------------------------

    @handles(Measure.BaselineFrozen)
    def baseline_frozen(self, curs: Cursor[Any], e: Any) -> None:
        self.touch(curs, e, "freeze_through = %s", (e.through,))

    @handles(Measure.BaselineUnfrozen)
    def baseline_unfrozen(self, curs: Cursor[Any], e: Any) -> None:
        self.touch(curs, e, "freeze_through = NULL")

    def _point_mark(self, curs: Cursor[Any], e: Any, column: str, value: str | None) -> None:
        curs.execute(f"UPDATE {POINTS} SET {column} = %s WHERE measure_id = %s AND period = %s",
                     (value, e.originator_id, e.period))
        self.touch(curs, e)

    @handles(Measure.PointExcluded)
    def excluded(self, curs: Cursor[Any], e: Any) -> None:
        self._point_mark(curs, e, "excluded", e.reason)

    @handles(Measure.PointIncluded)
    def included(self, curs: Cursor[Any], e: Any) -> None:
        self._point_mark(curs, e, "excluded", None)

    @handles(Measure.AstronomicalPointFlagged)
    def flagged(self, curs: Cursor[Any], e: Any) -> None:
        self._point_mark(curs, e, "astronomical", e.reason)

    @handles(Measure.AstronomicalFlagRemoved)
    def unflagged(self, curs: Cursor[Any], e: Any) -> None:
        self._point_mark(curs, e, "astronomical", None)

    def _mark(self, curs: Cursor[Any], e: Any, kind: str, day: Any, label: str | None) -> None:
        if label is None:
            curs.execute(f"DELETE FROM {MARKS} WHERE measure_id = %s AND kind = %s AND day = %s",
                         (e.originator_id, kind, day))
        else:
            curs.execute(
                f"INSERT INTO {MARKS} (measure_id, kind, day, label) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (measure_id, kind, day) DO UPDATE SET label = EXCLUDED.label",
                (e.originator_id, kind, day, label))
        self.touch(curs, e)

    @handles(Measure.PhaseStarted)
    def phase_started(self, curs: Cursor[Any], e: Any) -> None:
        self._mark(curs, e, PHASE, e.period, e.label)

    @handles(Measure.PhaseRemoved)
    def phase_removed(self, curs: Cursor[Any], e: Any) -> None:
        self._mark(curs, e, PHASE, e.period, None)

    @handles(Measure.Annotated)
    def annotated(self, curs: Cursor[Any], e: Any) -> None:
        self._mark(curs, e, ANNOTATION, e.on, e.text)

    @handles(Measure.AnnotationRemoved)
    def annotation_removed(self, curs: Cursor[Any], e: Any) -> None:
        self._mark(curs, e, ANNOTATION, e.on, None)


# --- queries ---------------------------------------------------------------------------------

_MEASURE_COLUMNS = (
    "measure_id, name, type, unit, direction, goal, numerator, denominator, data_source, owner,"
    " frequency, value_ids, points, first_period, last_period, freeze_through, version,"
    " defined_at, updated_at, updated_by"
)


async def measures(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every measure, by name."""
    return await conn.fetch(f"SELECT {_MEASURE_COLUMNS} FROM {TABLE} ORDER BY name, measure_id")


async def measure(conn: asyncpg.Connection, measure_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_MEASURE_COLUMNS} FROM {TABLE} WHERE measure_id = $1", measure_id)


_POINT_COLUMNS = (
    "p.period, p.value, p.numerator, p.denominator, p.note, p.corrections > 0 AS corrected,"
    " p.corrections, p.recorded_at, p.recorded_by, r.login AS recorded_by_login,"
    " p.corrected_at, p.corrected_by, p.excluded, p.astronomical"
)
_POINT_FROM = (
    f" FROM {POINTS} p LEFT JOIN {ACCOUNTS} r ON r.account_id::text = p.recorded_by"
)


async def points(conn: asyncpg.Connection, measure_id: uuid.UUID) -> list[asyncpg.Record]:
    """A measure's current data points (each as last corrected), oldest period first."""
    return await conn.fetch(
        f"SELECT {_POINT_COLUMNS}{_POINT_FROM} WHERE p.measure_id = $1 ORDER BY p.period",
        measure_id,
    )


async def point(
    conn: asyncpg.Connection, measure_id: uuid.UUID, period: date
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_POINT_COLUMNS}{_POINT_FROM} WHERE p.measure_id = $1 AND p.period = $2",
        measure_id, period,
    )


async def entries(
    conn: asyncpg.Connection, measure_id: uuid.UUID, period: date
) -> list[asyncpg.Record]:
    """Everything entered for one period, first to last: the recording, then each correction."""
    return await conn.fetch(
        "SELECT e.version, e.kind, e.value, e.numerator, e.denominator, e.note, e.reason,"
        " e.entered_at, e.entered_by, a.login AS entered_by_login"
        f" FROM {ENTRIES} e LEFT JOIN {ACCOUNTS} a ON a.account_id::text = e.entered_by"
        " WHERE e.measure_id = $1 AND e.period = $2 ORDER BY e.version",
        measure_id, period,
    )


async def marks(conn: asyncpg.Connection, measure_id: uuid.UUID) -> list[asyncpg.Record]:
    """A measure's phases and annotations (kind, day, label), in time order."""
    return await conn.fetch(
        f"SELECT kind, day, label FROM {MARKS} WHERE measure_id = $1 ORDER BY day, kind",
        measure_id,
    )
