"""The agency's values by id: other views show a value's name beside its id."""

from __future__ import annotations

from typing import Any

import asyncpg

from domain.mission import Mission
from projections.base import Changes, Projection, handles

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

    keys = {TABLE: ("value_id",)}

    @handles(Mission.ValueAdded)
    def added(self, changes: Changes, e: Any) -> None:
        changes.insert(TABLE, {"value_id": e.value_id, "name": e.name,
                               "description": e.description, "added_at": e.timestamp})

    @handles(Mission.ValueRevised)
    def revised(self, changes: Changes, e: Any) -> None:
        changes.update(TABLE, (e.value_id,), {"name": e.name, "description": e.description})


async def value_names(conn: asyncpg.Connection) -> dict[str, str]:
    rows = await conn.fetch(f"SELECT value_id, name FROM {TABLE}")
    return {row["value_id"]: row["name"] for row in rows}
