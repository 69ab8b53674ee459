"""The agency's values by id: other views show a value's name beside its id."""

from __future__ import annotations

from typing import Any

import asyncpg
from psycopg import Cursor

from domain.mission import Mission
from projections.base import Projection, handles

TABLE = "value_names_v1"


class ValueNames(Projection):
    name = TABLE
    tables = (TABLE,)
    ddl = (
        f"CREATE TABLE IF NOT EXISTS {TABLE} ("
        " value_id text PRIMARY KEY,"
        " name text NOT NULL,"
        " description text NOT NULL,"
        " added_at timestamptz NOT NULL)",
    )

    @handles(Mission.ValueAdded)
    def added(self, curs: Cursor[Any], e: Any) -> None:
        curs.execute(
            f"INSERT INTO {TABLE} (value_id, name, description, added_at)"
            " VALUES (%s, %s, %s, %s)",
            (e.value_id, e.name, e.description, e.timestamp),
        )

    @handles(Mission.ValueRevised)
    def revised(self, curs: Cursor[Any], e: Any) -> None:
        curs.execute(
            f"UPDATE {TABLE} SET name = %s, description = %s WHERE value_id = %s",
            (e.name, e.description, e.value_id),
        )


async def value_names(conn: asyncpg.Connection) -> dict[str, str]:
    rows = await conn.fetch(f"SELECT value_id, name FROM {TABLE}")
    return {row["value_id"]: row["name"] for row in rows}
