"""Bearer tokens that are in force: the fast path of authentication for API clients.

Only a hash of each token's secret is kept (as in the account's events). The request path
checks a token against this view and its account's row in the accounts view; a token the view
does not know (just issued elsewhere, or not a token at all) is checked against the account
itself, so the view can only make a valid token quicker, never make an invalid one pass.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from psycopg import Cursor

from domain.account import Account
from projections.accounts import TABLE as ACCOUNTS
from projections.base import Projection, handles

TABLE = "api_tokens_v1"


class ApiTokens(Projection):
    name = TABLE
    tables = (TABLE,)
    ddl = (
        f"CREATE TABLE IF NOT EXISTS {TABLE} ("
        " account_id uuid NOT NULL,"
        " token_id text NOT NULL,"
        " secret_hash text NOT NULL,"
        " PRIMARY KEY (account_id, token_id))",
    )

    @handles(Account.TokenIssued)
    def issued(self, curs: Cursor[Any], e: Any) -> None:
        curs.execute(
            f"INSERT INTO {TABLE} (account_id, token_id, secret_hash) VALUES (%s, %s, %s)",
            (e.originator_id, e.token_id, e.secret_hash),
        )

    @handles(Account.TokenRevoked)
    def revoked(self, curs: Cursor[Any], e: Any) -> None:
        curs.execute(f"DELETE FROM {TABLE} WHERE account_id = %s AND token_id = %s",
                     (e.originator_id, e.token_id))


async def token_holder(conn: asyncpg.Connection, account_id: uuid.UUID,
                       token_id: str) -> asyncpg.Record | None:
    """The token's secret hash and its account, if the token is in force and the account
    active."""
    return await conn.fetchrow(
        f"SELECT t.secret_hash, a.account_id, a.login, a.display_name, a.role FROM {TABLE} t"
        f" JOIN {ACCOUNTS} a ON a.account_id = t.account_id"
        " WHERE t.account_id = $1 AND t.token_id = $2 AND a.active",
        account_id, token_id,
    )
