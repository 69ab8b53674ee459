"""A view's batch is folded row by row and written with a few statements per table: the rows
must be exactly those that applying the events one by one gives, whatever the batch's size."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import errors

from projections.base import Add, Changes, Greatest, Least, Projection, Replace, handles

TABLE = "scratch_batches_v1"
COLUMNS = ("k", "j", "n", "lo", "hi", "s", "tags", "x")


@dataclass
class Inserted:
    row: dict[str, Any]


@dataclass
class Replaced:
    row: dict[str, Any]


@dataclass
class Updated:
    key: tuple[int, int]
    changes: dict[str, Any]


@dataclass
class Deleted:
    key: tuple[int, int]


class Scratch(Projection):
    name = TABLE
    tables = (TABLE,)
    keys = {TABLE: ("k", "j")}
    ddl = (f"CREATE TABLE IF NOT EXISTS {TABLE} (k integer NOT NULL, j integer NOT NULL,"
           " n integer, lo date, hi date, s text, tags text[], x double precision,"
           " PRIMARY KEY (k, j))",)

    @handles(Inserted)
    def inserted(self, changes: Changes, e: Inserted) -> None:
        changes.insert(TABLE, dict(e.row))

    @handles(Replaced)
    def replaced(self, changes: Changes, e: Replaced) -> None:
        changes.replace(TABLE, dict(e.row))

    @handles(Updated)
    def updated(self, changes: Changes, e: Updated) -> None:
        changes.update(TABLE, e.key, e.changes)

    @handles(Deleted)
    def deleted(self, changes: Changes, e: Deleted) -> None:
        changes.delete(TABLE, e.key)


def some_events(seed: int, count: int) -> list[Any]:
    """A valid stream (no key inserted while it exists) over few keys, so that most events meet
    a row an earlier event of the same batch touched."""
    rng = random.Random(seed)
    day = date(2024, 1, 1)
    exists: set[tuple[int, int]] = set()

    def text() -> str | None:
        return rng.choice([None, "a", "b", 'quo"te', "back\\slash", "a,b {c}"])

    def row(key: tuple[int, int]) -> dict[str, Any]:
        return {"k": key[0], "j": key[1], "n": rng.choice([None, 0, 5]),
                "lo": rng.choice([None, day + timedelta(rng.randrange(60))]),
                "hi": rng.choice([None, day + timedelta(rng.randrange(60))]),
                "s": text(), "tags": rng.choice([[], ["x"], ["a b", None, 'q"'], None]),
                "x": rng.choice([None, 1.5, 0.1])}

    def update() -> dict[str, Any]:
        options = {
            "n": lambda: rng.choice([Add(rng.randrange(-3, 4)), Add(1), rng.randrange(9), None]),
            "lo": lambda: rng.choice([Least(day + timedelta(rng.randrange(60))), None]),
            "hi": lambda: rng.choice([Greatest(day + timedelta(rng.randrange(60))),
                                      day + timedelta(rng.randrange(60))]),
            "s": lambda: rng.choice([Replace(("a", "b")), Replace((None, "a")), text()]),
            "tags": lambda: rng.choice([["t"], [], None]),
            "x": lambda: rng.choice([Add(0.1), Add(0.2), 2.5]),
        }
        chosen = rng.sample(sorted(options), rng.randrange(1, 4))
        return {column: options[column]() for column in chosen}

    events: list[Any] = []
    for _ in range(count):
        key = (rng.randrange(3), rng.randrange(2))
        kind = rng.choice(["insert", "insert", "replace", "update", "update", "update",
                           "delete"])
        if kind == "insert" and key not in exists:
            events.append(Inserted(row(key)))
            exists.add(key)
        elif kind == "replace":
            events.append(Replaced(row(key)))
            exists.add(key)
        elif kind == "delete":
            events.append(Deleted(key))
            exists.discard(key)
        else:
            events.append(Updated(key, update()))
    return events


def rows_after(database_url: str, batches: list[list[Any]]) -> list[tuple[Any, ...]]:
    view = Scratch()
    with psycopg.connect(database_url) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
        conn.execute(view.ddl[0])
        for batch in batches:
            with conn.transaction(), conn.cursor() as curs, conn.pipeline():
                view.apply(curs, batch)
        return conn.execute(f"SELECT {', '.join(COLUMNS)} FROM {TABLE} ORDER BY k, j").fetchall()


@pytest.mark.parametrize("seed", range(6))
def test_a_batch_gives_the_rows_its_events_give_one_by_one(database_url, seed):
    events = some_events(seed, 300)
    one_by_one = rows_after(database_url, [[e] for e in events])
    assert one_by_one, "the stream leaves rows to compare"
    assert rows_after(database_url, [events]) == one_by_one
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(events)), 12))
    chunks = [events[a:b] for a, b in zip([0, *cuts], [*cuts, len(events)], strict=True)]
    assert rows_after(database_url, chunks) == one_by_one


def test_an_update_of_a_missing_row_then_its_insert_leaves_the_inserted_row(database_url):
    row = {"k": 1, "j": 1, "n": 1, "lo": None, "hi": None, "s": "new", "tags": ["a"], "x": None}
    events = [Updated((1, 1), {"s": "changed", "n": Add(5)}), Inserted(row),
              Updated((1, 1), {"n": Add(2)})]
    assert rows_after(database_url, [events]) == [(1, 1, 3, None, None, "new", ["a"], None)]


def test_a_second_insert_of_a_row_fails_the_batch_as_its_statement_would(database_url):
    row = {"k": 1, "j": 1, "n": 1, "lo": None, "hi": None, "s": None, "tags": None, "x": None}
    with pytest.raises(errors.UniqueViolation):
        rows_after(database_url, [[Inserted(row)], [Updated((1, 1), {"n": 2}), Inserted(row)]])


class Recording:
    """A cursor that keeps the statements it is given (the column types are known)."""

    def __init__(self) -> None:
        self.statements: list[Any] = []

    def execute(self, query: Any, params: Any = None) -> None:
        self.statements.append(query)


def test_a_measures_year_of_points_in_one_batch_takes_three_statements():
    from domain.measure import Measure
    from projections.measure_data import MeasureData

    types = {"measure_id": "uuid", "period": "date", "version": "integer",
             "value": "double precision", "numerator": "double precision",
             "denominator": "double precision", "note": "text", "corrections": "integer",
             "recorded_at": "timestamp with time zone", "recorded_by": "text",
             "corrected_at": "timestamp with time zone", "corrected_by": "text",
             "excluded": "text", "astronomical": "text", "kind": "text", "reason": "text",
             "entered_at": "timestamp with time zone", "entered_by": "text",
             "points": "integer", "first_period": "date", "last_period": "date",
             "updated_at": "timestamp with time zone", "updated_by": "text"}
    view = MeasureData()
    view.column_types = lambda curs, table: types  # type: ignore[method-assign]
    import uuid
    from datetime import UTC, datetime

    measure_id = uuid.uuid4()
    events = []
    for month in range(1, 13):
        event = Measure.DataPointRecorded.__new__(Measure.DataPointRecorded)
        event.__dict__.update(
            originator_id=measure_id, originator_version=month + 1,
            timestamp=datetime(2024, month, 2, tzinfo=UTC), actor="sam",
            period=date(2024, month, 1), value=None, numerator=50 + month, denominator=80,
            note="")
        events.append(event)
    curs = Recording()
    view.apply(curs, events)  # type: ignore[arg-type]
    assert len(curs.statements) == 3  # the measure's row, its points, their entries
