"""Who can sign in, with which role: the leader's accounts page and actor names in history."""

from __future__ import annotations

from typing import Any

import asyncpg

from domain.account import Account
from projections.base import Changes, Projection, handles

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

    keys = {TABLE: ("account_id",)}

    @handles(Account.Registered)
    def registered(self, changes: Changes, e: Any) -> None:
        changes.insert(TABLE, {
            "account_id": e.originator_id, "login": e.login, "display_name": e.display_name,
            "role": e.role, "active": True, "registered_at": e.timestamp,
            "updated_at": e.timestamp})

    @handles(Account.RoleChanged)
    def role_changed(self, changes: Changes, e: Any) -> None:
        changes.update(TABLE, (e.originator_id,), {"role": e.role, "updated_at": e.timestamp})

    @handles(Account.Deactivated)
    def deactivated(self, changes: Changes, e: Any) -> None:
        changes.update(TABLE, (e.originator_id,), {"active": False, "updated_at": e.timestamp})


async def accounts(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT account_id, login, display_name, role, active, registered_at FROM {TABLE}"
        " ORDER BY active DESC, login"
    )


async def actor_names(conn: asyncpg.Connection) -> dict[str, str]:
    """Account id (as stored in events' `actor`) -> login."""
    rows = await conn.fetch(f"SELECT account_id, login FROM {TABLE}")
    return {str(row["account_id"]): row["login"] for row in rows}
