"""What the public may read: whether the public pages are open, and which measures and
initiatives a leader published. The public pages and the leader's publishing page read it.

A published item is public only while the pages are open; the queries that serve the public
(`public_measures`, `public_initiatives`, `shows`) say nothing when they are closed.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from psycopg import Cursor

from domain.publication import INITIATIVE, MEASURE, Publication
from projections.base import Projection, handles
from projections.cycle_board import TABLE as INITIATIVES
from projections.measure_data import TABLE as MEASURES

TABLE = "published_v1"
ITEMS = f"{TABLE}_items"


class Published(Projection):
    name = TABLE
    tables = (TABLE, ITEMS)
    ddl = (
        f"CREATE TABLE IF NOT EXISTS {TABLE} ("
        " publication_id uuid PRIMARY KEY,"
        " open boolean NOT NULL,"
        " version integer NOT NULL,"
        " updated_at timestamptz NOT NULL,"
        " updated_by text NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {ITEMS} ("
        " kind text NOT NULL,"
        " item_id uuid NOT NULL,"
        " published_at timestamptz NOT NULL,"
        " published_by text NOT NULL,"
        " PRIMARY KEY (kind, item_id))",
    )

    def touch(self, curs: Cursor[Any], e: Any, assignments: str = "", params: tuple = ()) -> None:
        sets = "version = %s, updated_at = %s, updated_by = %s"
        if assignments:
            sets += ", " + assignments
        curs.execute(
            f"UPDATE {TABLE} SET {sets} WHERE publication_id = %s",
            (e.originator_version, e.timestamp, e.actor, *params, e.originator_id),
        )

    @handles(Publication.Started)
    def started(self, curs: Cursor[Any], e: Any) -> None:
        curs.execute(
            f"INSERT INTO {TABLE} (publication_id, open, version, updated_at, updated_by)"
            " VALUES (%s, false, %s, %s, %s)",
            (e.originator_id, e.originator_version, e.timestamp, e.actor),
        )

    @handles(Publication.PublicPagesOpened)
    def opened(self, curs: Cursor[Any], e: Any) -> None:
        self.touch(curs, e, "open = true")

    @handles(Publication.PublicPagesClosed)
    def closed(self, curs: Cursor[Any], e: Any) -> None:
        self.touch(curs, e, "open = false")

    def _publish(self, curs: Cursor[Any], e: Any, kind: str, item_id: str) -> None:
        curs.execute(
            f"INSERT INTO {ITEMS} (kind, item_id, published_at, published_by)"
            " VALUES (%s, %s, %s, %s)",
            (kind, uuid.UUID(item_id), e.timestamp, e.actor),
        )
        self.touch(curs, e)

    def _withdraw(self, curs: Cursor[Any], e: Any, kind: str, item_id: str) -> None:
        curs.execute(f"DELETE FROM {ITEMS} WHERE kind = %s AND item_id = %s",
                     (kind, uuid.UUID(item_id)))
        self.touch(curs, e)

    @handles(Publication.MeasurePublished)
    def measure_published(self, curs: Cursor[Any], e: Any) -> None:
        self._publish(curs, e, MEASURE, e.measure_id)

    @handles(Publication.MeasureWithdrawn)
    def measure_withdrawn(self, curs: Cursor[Any], e: Any) -> None:
        self._withdraw(curs, e, MEASURE, e.measure_id)

    @handles(Publication.InitiativePublished)
    def initiative_published(self, curs: Cursor[Any], e: Any) -> None:
        self._publish(curs, e, INITIATIVE, e.initiative_id)

    @handles(Publication.InitiativeWithdrawn)
    def initiative_withdrawn(self, curs: Cursor[Any], e: Any) -> None:
        self._withdraw(curs, e, INITIATIVE, e.initiative_id)


# --- queries ---------------------------------------------------------------------------------


async def site(conn: asyncpg.Connection) -> dict[str, Any]:
    """Whether the public pages are open and the publication's version (0: never changed)."""
    row = await conn.fetchrow(f"SELECT open, version, updated_at FROM {TABLE} LIMIT 1")
    if row is None:
        return {"open": False, "version": 0, "updated_at": None}
    return dict(row)


async def is_open(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval(f"SELECT open FROM {TABLE} LIMIT 1"))


async def item_ids(conn: asyncpg.Connection, kind: str) -> list[uuid.UUID]:
    """The ids a leader chose to publish (whether or not the pages are open), oldest first."""
    rows = await conn.fetch(
        f"SELECT item_id FROM {ITEMS} WHERE kind = $1 ORDER BY published_at, item_id", kind)
    return [r["item_id"] for r in rows]


async def measure_ids(conn: asyncpg.Connection) -> list[uuid.UUID]:
    return await item_ids(conn, MEASURE)


async def initiative_ids(conn: asyncpg.Connection) -> list[uuid.UUID]:
    return await item_ids(conn, INITIATIVE)


async def shows(conn: asyncpg.Connection, kind: str, item_id: uuid.UUID) -> bool:
    """Whether the public may read this item now: pages open and the item published."""
    return bool(await conn.fetchval(
        f"SELECT EXISTS (SELECT 1 FROM {ITEMS} i JOIN {TABLE} p ON p.open"
        " WHERE i.kind = $1 AND i.item_id = $2)",
        kind, item_id,
    ))


async def public_measures(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """The measures the public may read now (none while the pages are closed), by name."""
    return await conn.fetch(
        f"SELECT m.measure_id, m.name, m.type, m.unit, m.points, m.last_period"
        f" FROM {ITEMS} i JOIN {TABLE} p ON p.open"
        f" JOIN {MEASURES} m ON m.measure_id = i.item_id"
        " WHERE i.kind = $1 ORDER BY m.name, m.measure_id",
        MEASURE,
    )


async def public_initiatives(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """The initiatives the public may read now (none while the pages are closed), by title."""
    return await conn.fetch(
        f"SELECT b.initiative_id, b.title, b.status, b.cycle_number, b.phase"
        f" FROM {ITEMS} i JOIN {TABLE} p ON p.open"
        f" JOIN {INITIATIVES} b ON b.initiative_id = i.item_id"
        " WHERE i.kind = $1 ORDER BY b.title, b.initiative_id",
        INITIATIVE,
    )
