"""Who can sign in, with which role: the leader's accounts page and actor names in history."""

from __future__ import annotations

from typing import Any

import asyncpg
from psycopg import Cursor

from domain.account import Account
from projections.base import Projection, handles

TABLE = "accounts_v1"


class Accounts(Projection):
    name = TABLE
    tables = (TABLE,)
    ddl = (
        f"CREATE TABLE IF NOT EXISTS {TABLE} ("
        " account_id uuid PRIMARY KEY,"
        " login text NOT NULL UNIQUE,"
        " display_name text NOT NULL,"
        " role text NOT NULL,"
        " active boolean NOT NULL,"
        " registered_at timestamptz NOT NULL,"
        " updated_at timestamptz NOT NULL)",
    )

    @handles(Account.Registered)
    def registered(self, curs: Cursor[Any], e: Any) -> None:
        curs.execute(
            f"INSERT INTO {TABLE} (account_id, login, display_name, role, active, registered_at,"
            " updated_at) VALUES (%s, %s, %s, %s, TRUE, %s, %s)",
            (e.originator_id, e.login, e.display_name, e.role, e.timestamp, e.timestamp),
        )

    @handles(Account.RoleChanged)
    def role_changed(self, curs: Cursor[Any], e: Any) -> None:
        curs.execute(
            f"UPDATE {TABLE} SET role = %s, updated_at = %s WHERE account_id = %s",
            (e.role, e.timestamp, e.originator_id),
        )

    @handles(Account.Deactivated)
    def deactivated(self, curs: Cursor[Any], e: Any) -> None:
        curs.execute(
            f"UPDATE {TABLE} SET active = FALSE, updated_at = %s WHERE account_id = %s",
            (e.timestamp, e.originator_id),
        )


async def accounts(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT account_id, login, display_name, role, active, registered_at FROM {TABLE}"
        " ORDER BY active DESC, login"
    )


async def actor_names(conn: asyncpg.Connection) -> dict[str, str]:
    """Account id (as stored in events' `actor`) -> login."""
    rows = await conn.fetch(f"SELECT account_id, login FROM {TABLE}")
    return {str(row["account_id"]): row["login"] for row in rows}
