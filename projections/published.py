"""What the public may read: whether the public pages are open, and which measures and
initiatives a leader published. The public pages and the leader's publishing page read it.

A published item is public only while the pages are open; the queries that serve the public
(`public_measures`, `public_initiatives`, `shows`) say nothing when they are closed.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from domain.publication import INITIATIVE, MEASURE, Publication
from projections.base import Changes, Projection, handles
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

    keys = {TABLE: ("publication_id",), ITEMS: ("kind", "item_id")}

    def touch(self, changes: Changes, e: Any, **assignments: Any) -> None:
        changes.update(TABLE, (e.originator_id,), {
            "version": e.originator_version, "updated_at": e.timestamp, "updated_by": e.actor,
            **assignments})

    @handles(Publication.Started)
    def started(self, changes: Changes, e: Any) -> None:
        changes.insert(TABLE, {"publication_id": e.originator_id, "open": False,
                               "version": e.originator_version, "updated_at": e.timestamp,
                               "updated_by": e.actor})

    @handles(Publication.PublicPagesOpened)
    def opened(self, changes: Changes, e: Any) -> None:
        self.touch(changes, e, open=True)

    @handles(Publication.PublicPagesClosed)
    def closed(self, changes: Changes, e: Any) -> None:
        self.touch(changes, e, open=False)

    def _publish(self, changes: Changes, e: Any, kind: str, item_id: str) -> None:
        changes.insert(ITEMS, {"kind": kind, "item_id": uuid.UUID(item_id),
                               "published_at": e.timestamp, "published_by": e.actor})
        self.touch(changes, e)

    def _withdraw(self, changes: Changes, e: Any, kind: str, item_id: str) -> None:
        changes.delete(ITEMS, (kind, uuid.UUID(item_id)))
        self.touch(changes, e)

    @handles(Publication.MeasurePublished)
    def measure_published(self, changes: Changes, e: Any) -> None:
        self._publish(changes, e, MEASURE, e.measure_id)

    @handles(Publication.MeasureWithdrawn)
    def measure_withdrawn(self, changes: Changes, e: Any) -> None:
        self._withdraw(changes, e, MEASURE, e.measure_id)

    @handles(Publication.InitiativePublished)
    def initiative_published(self, changes: Changes, e: Any) -> None:
        self._publish(changes, e, INITIATIVE, e.initiative_id)

    @handles(Publication.InitiativeWithdrawn)
    def initiative_withdrawn(self, changes: Changes, e: Any) -> None:
        self._withdraw(changes, e, INITIATIVE, e.initiative_id)


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
