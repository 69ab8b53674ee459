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

from domain.measure import Measure, point_value
from projections.accounts import TABLE as ACCOUNTS
from projections.base import Add, Changes, Greatest, Least, Projection, handles

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
        # The measures list, a page at a time, by name.
        f"CREATE INDEX IF NOT EXISTS {TABLE}_by_name ON {TABLE} (name, measure_id)",
        # The measures serving a value (the list's filter, the alignment matrix).
        f"CREATE INDEX IF NOT EXISTS {TABLE}_by_value ON {TABLE} USING gin (value_ids)",
    )

    keys = {
        TABLE: ("measure_id",),
        POINTS: ("measure_id", "period"),
        ENTRIES: ("measure_id", "period", "version"),
        MARKS: ("measure_id", "kind", "day"),
    }

    def touch(self, changes: Changes, e: Any, **assignments: Any) -> None:
        changes.update(TABLE, (e.originator_id,), {
            "version": e.originator_version, "updated_at": e.timestamp, "updated_by": e.actor,
            **assignments})

    @staticmethod
    def _definition(e: Any) -> dict[str, Any]:
        d = e.definition
        return {"name": e.name, "type": e.type, "unit": e.unit, "direction": e.direction,
                "goal": e.goal, "numerator": d["numerator"], "denominator": d["denominator"],
                "data_source": d["data_source"], "owner": d["owner"],
                "frequency": d["frequency"], "value_ids": list(e.value_ids)}

    @handles(Measure.Defined)
    def defined(self, changes: Changes, e: Any) -> None:
        changes.insert(TABLE, {
            "measure_id": e.originator_id, **self._definition(e), "points": 0,
            "first_period": None, "last_period": None, "freeze_through": None,
            "version": e.originator_version, "defined_at": e.timestamp,
            "updated_at": e.timestamp, "updated_by": e.actor})

    @handles(Measure.DefinitionRevised)
    def revised(self, changes: Changes, e: Any) -> None:
        self.touch(changes, e, **self._definition(e))

    def _add_points(self, changes: Changes, e: Any, points: list[Any], kind: str) -> None:
        measure_id, version, at, by = e.originator_id, e.originator_version, e.timestamp, e.actor
        insert_point, insert_entry = changes[POINTS].insert, changes[ENTRIES].insert
        for p in points:
            period, numerator, denominator, note = (p["period"], p["numerator"],
                                                    p["denominator"], p["note"])
            value = point_value(p["value"], numerator, denominator)
            insert_point({"measure_id": measure_id, "period": period, "value": value,
                          "numerator": numerator, "denominator": denominator, "note": note,
                          "corrections": 0, "recorded_at": at, "recorded_by": by,
                          "corrected_at": None, "corrected_by": None, "excluded": None,
                          "astronomical": None})
            insert_entry({"measure_id": measure_id, "period": period, "version": version,
                          "kind": kind, "value": value, "numerator": numerator,
                          "denominator": denominator, "note": note, "reason": None,
                          "entered_at": at, "entered_by": by})
        periods = [p["period"] for p in points]
        self.touch(changes, e, points=Add(len(points)), first_period=Least(min(periods)),
                   last_period=Greatest(max(periods)))

    @handles(Measure.DataPointRecorded)
    def recorded(self, changes: Changes, e: Any) -> None:
        self._add_points(changes, e, [vars(e)], RECORDED)

    @handles(Measure.DataPointsImported)
    def imported(self, changes: Changes, e: Any) -> None:
        self._add_points(changes, e, e.points, IMPORTED)

    @handles(Measure.DataPointCorrected)
    def corrected(self, changes: Changes, e: Any) -> None:
        value = point_value(e.value, e.numerator, e.denominator)
        changes.update(POINTS, (e.originator_id, e.period), {
            "value": value, "numerator": e.numerator, "denominator": e.denominator,
            "corrections": Add(1), "corrected_at": e.timestamp, "corrected_by": e.actor})
        changes.insert(ENTRIES, {
            "measure_id": e.originator_id, "period": e.period, "version": e.originator_version,
            "kind": CORRECTED, "value": value, "numerator": e.numerator,
            "denominator": e.denominator, "note": None, "reason": e.reason,
            "entered_at": e.timestamp, "entered_by": e.actor})
        self.touch(changes, e)

    # --- how the charts are read ----------------------------------------------------------

    @handles(Measure.BaselineFrozen)
    def baseline_frozen(self, changes: Changes, e: Any) -> None:
        self.touch(changes, e, freeze_through=e.through)

    @handles(Measure.BaselineUnfrozen)
    def baseline_unfrozen(self, changes: Changes, e: Any) -> None:
        self.touch(changes, e, freeze_through=None)

    def _point_mark(self, changes: Changes, e: Any, column: str, value: str | None) -> None:
        changes.update(POINTS, (e.originator_id, e.period), {column: value})
        self.touch(changes, e)

    @handles(Measure.PointExcluded)
    def excluded(self, changes: Changes, e: Any) -> None:
        self._point_mark(changes, e, "excluded", e.reason)

    @handles(Measure.PointIncluded)
    def included(self, changes: Changes, e: Any) -> None:
        self._point_mark(changes, e, "excluded", None)

    @handles(Measure.AstronomicalPointFlagged)
    def flagged(self, changes: Changes, e: Any) -> None:
        self._point_mark(changes, e, "astronomical", e.reason)

    @handles(Measure.AstronomicalFlagRemoved)
    def unflagged(self, changes: Changes, e: Any) -> None:
        self._point_mark(changes, e, "astronomical", None)

    def _mark(self, changes: Changes, e: Any, kind: str, day: Any, label: str | None) -> None:
        if label is None:
            changes.delete(MARKS, (e.originator_id, kind, day))
        else:
            changes.replace(MARKS, {"measure_id": e.originator_id, "kind": kind, "day": day,
                                    "label": label})
        self.touch(changes, e)

    @handles(Measure.PhaseStarted)
    def phase_started(self, changes: Changes, e: Any) -> None:
        self._mark(changes, e, PHASE, e.period, e.label)

    @handles(Measure.PhaseRemoved)
    def phase_removed(self, changes: Changes, e: Any) -> None:
        self._mark(changes, e, PHASE, e.period, None)

    @handles(Measure.Annotated)
    def annotated(self, changes: Changes, e: Any) -> None:
        self._mark(changes, e, ANNOTATION, e.on, e.text)

    @handles(Measure.AnnotationRemoved)
    def annotation_removed(self, changes: Changes, e: Any) -> None:
        self._mark(changes, e, ANNOTATION, e.on, None)


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


def _value_filter(value_id: str | None, first: int = 1) -> tuple[str, list[Any]]:
    if value_id is None:
        return "", []
    return f" WHERE m.value_ids @> ARRAY[${first}::text]", [value_id]


async def measures_page(
    conn: asyncpg.Connection, value_id: str | None, limit: int, offset: int
) -> list[asyncpg.Record]:
    """One page of the measures list (optionally those serving one value), by name, each with
    its latest point (`last_value`, `last_period`; none without data)."""
    where, args = _value_filter(value_id)
    n = len(args)
    columns = ", ".join(f"m.{c.strip()}" for c in _MEASURE_COLUMNS.split(","))
    return await conn.fetch(
        f"SELECT {columns}, p.value AS last_value FROM ("
        f" SELECT * FROM {TABLE} m{where} ORDER BY m.name, m.measure_id"
        f" LIMIT ${n + 1} OFFSET ${n + 2}) m"
        f" LEFT JOIN {POINTS} p ON p.measure_id = m.measure_id AND p.period = m.last_period"
        " ORDER BY m.name, m.measure_id",
        *args, limit, offset,
    )


async def measures_count(conn: asyncpg.Connection, value_id: str | None) -> int:
    where, args = _value_filter(value_id)
    return int(await conn.fetchval(f"SELECT count(*) FROM {TABLE} m{where}", *args))


async def latest_measures(conn: asyncpg.Connection, limit: int
                          ) -> tuple[list[asyncpg.Record], int]:
    """The `limit` measures with the latest data (latest period first, then the most recently
    changed), and how many measures have data."""
    rows = await conn.fetch(
        f"SELECT {_MEASURE_COLUMNS} FROM {TABLE} WHERE points > 0"
        " ORDER BY last_period DESC, updated_at DESC, measure_id LIMIT $1", limit)
    total = await conn.fetchval(f"SELECT count(*) FROM {TABLE} WHERE points > 0")
    return rows, int(total)


async def points_of(
    conn: asyncpg.Connection, measure_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[asyncpg.Record]]:
    """`points` for several measures in one query."""
    rows = await conn.fetch(
        f"SELECT p.measure_id, {_POINT_COLUMNS}{_POINT_FROM} WHERE p.measure_id = ANY($1)"
        " ORDER BY p.measure_id, p.period", measure_ids)
    return _by_measure(rows, measure_ids)


async def marks_of(
    conn: asyncpg.Connection, measure_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[asyncpg.Record]]:
    """`marks` for several measures in one query."""
    rows = await conn.fetch(
        f"SELECT measure_id, kind, day, label FROM {MARKS} WHERE measure_id = ANY($1)"
        " ORDER BY measure_id, day, kind", measure_ids)
    return _by_measure(rows, measure_ids)


def _by_measure(rows: list[asyncpg.Record], measure_ids: list[uuid.UUID]
                ) -> dict[uuid.UUID, list[asyncpg.Record]]:
    """Each measure's rows, in the order read (an empty list for a measure with none)."""
    out: dict[uuid.UUID, list[asyncpg.Record]] = {m: [] for m in measure_ids}
    for row in rows:
        out[row["measure_id"]].append(row)
    return out
