"""Floor for commands: the least a write over HTTP costs on this stack, no event store.

A minimal Litestar + asyncpg app. PUT /charters/{id} takes the same JSON body as our charter
revision (title, problem, aim, value_ids; decoded into a msgspec struct by Litestar) and, in
one transaction on one pooled connection:

- bumps the aggregate's row in the "view" table (`floor_view`: id, title, version) and reads
  the new version back: the row lock also orders concurrent writes to one aggregate;
- appends one event to an append-only table (`floor_events`: aggregate id, version, topic, a
  JSON body of ~300 bytes; primary key (aggregate id, version), as an event store's);

then answers {"version": n} with an ETag, as ours does. The commit is durable
(synchronous_commit is left at its default, on). There is no authentication, no aggregate to
load, no idempotency record, no global event order and no separate views runner: whatever ours
costs beyond this is ours. Served by tests.bench.http_serve (`tests.bench.http_floor:app`, a
factory); reads DATABASE_URL. The aggregates' rows are made by the caller (`seed`).
"""

from __future__ import annotations

import datetime
import os
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import msgspec
from litestar import Litestar, Response, put

EVENTS = "floor_events"
VIEW = "floor_view"
DDL = (
    f"CREATE TABLE IF NOT EXISTS {EVENTS} (aggregate_id uuid NOT NULL, version bigint NOT NULL,"
    " topic text NOT NULL, body bytea NOT NULL, PRIMARY KEY (aggregate_id, version));"
    f" CREATE TABLE IF NOT EXISTS {VIEW} (id uuid PRIMARY KEY, title text NOT NULL,"
    " version bigint NOT NULL)"
)
TOPIC = "tests.bench.http_floor:Charter.Revised"
ACTOR = uuid.UUID("00000000-0000-4000-8000-00000000be9c")
BUMP = f"UPDATE {VIEW} SET title = $2, version = version + 1 WHERE id = $1 RETURNING version"
APPEND = f"INSERT INTO {EVENTS} (aggregate_id, version, topic, body) VALUES ($1, $2, $3, $4)"


class Revision(msgspec.Struct, forbid_unknown_fields=True):
    title: str
    problem: str
    aim: str
    value_ids: list[str]


class Event(msgspec.Struct):
    originator_id: uuid.UUID
    originator_version: int
    timestamp: datetime.datetime
    actor: uuid.UUID
    title: str
    problem: str
    aim: str
    value_ids: list[str]


class VersionOut(msgspec.Struct):
    version: int


def seed(conn: Any, ids: Sequence[uuid.UUID]) -> None:
    """Empty both tables and make one view row (version 0) per aggregate; `conn` is a psycopg
    connection in autocommit."""
    conn.execute(f"TRUNCATE {EVENTS}, {VIEW}")
    with conn.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {VIEW} (id, title, version) VALUES (%s, %s, 0)",
                           [(i, f"Charter {k}") for k, i in enumerate(ids)])


def app() -> Litestar:
    dsn = os.environ["DATABASE_URL"]
    encode = msgspec.json.Encoder().encode

    @asynccontextmanager
    async def lifespan(application: Litestar) -> AsyncIterator[None]:
        application.state.pool = await asyncpg.create_pool(dsn, min_size=2, max_size=10)
        try:
            yield
        finally:
            await application.state.pool.close()

    @put("/charters/{charter_id:uuid}")
    async def revise(charter_id: uuid.UUID, data: Revision) -> Response[VersionOut]:
        async with application.state.pool.acquire() as conn, conn.transaction():
            version = await conn.fetchval(BUMP, charter_id, data.title)
            if version is None:
                return Response(VersionOut(0), status_code=404)
            body = encode(Event(charter_id, version, datetime.datetime.now(datetime.UTC), ACTOR,
                                data.title, data.problem, data.aim, data.value_ids))
            await conn.execute(APPEND, charter_id, version, TOPIC, body)
        return Response(VersionOut(version), headers={"ETag": f'"{version}"'})

    application = Litestar(route_handlers=[revise], lifespan=[lifespan])
    return application
