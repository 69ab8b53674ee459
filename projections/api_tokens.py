"""Bearer tokens that are in force: the fast path of authentication for API clients.

Only a hash of each token's secret is kept (as in the account's events). The request path
checks a token against this view and its account's row in the accounts view, when both have
seen the account's latest event; otherwise (a token just issued or revoked elsewhere, a
rebuild under way, not a token at all) against the account itself. So the view can only make a
valid token quicker, never make an invalid one pass.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from domain.account import Account
from projections.accounts import TABLE as ACCOUNTS
from projections.base import Changes, Projection, handles

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

    keys = {TABLE: ("account_id", "token_id")}

    @handles(Account.TokenIssued)
    def issued(self, changes: Changes, e: Any) -> None:
        # A token id issued again replaces the first, as it does in the account.
        changes.replace(TABLE, {"account_id": e.originator_id, "token_id": e.token_id,
                                "secret_hash": e.secret_hash})

    @handles(Account.TokenRevoked)
    def revoked(self, changes: Changes, e: Any) -> None:
        changes.delete(TABLE, (e.originator_id, e.token_id))


async def token_holder(conn: asyncpg.Connection, account_id: uuid.UUID, token_id: str,
                       events: str, application: str) -> asyncpg.Record | None:
    """The token's secret hash and its account (with the account's latest version), if the
    token is in force and the account active — and only if both views have seen the account's
    latest event (`events` is the event store's table): a view that lags behind (another
    process's revocation, a rebuild under way, a view still catching up) must not let through
    what the account no longer allows, so then the answer is None and the caller asks the
    account itself."""
    return await conn.fetchrow(
        f"SELECT t.secret_hash, a.account_id, a.login, a.display_name, a.role,"
        f" last.originator_version AS version FROM {TABLE} t"
        f" JOIN {ACCOUNTS} a ON a.account_id = t.account_id"
        f" CROSS JOIN LATERAL (SELECT notification_id, originator_version FROM {events}"
        "   WHERE originator_id = $1 ORDER BY originator_version DESC LIMIT 1) last"
        " WHERE t.account_id = $1 AND t.token_id = $2 AND a.active"
        f" AND last.notification_id <= LEAST((SELECT max(notification_id) FROM {TABLE}_tracking"
        "                                     WHERE application_name = $3),"
        f"                                    (SELECT max(notification_id) FROM {ACCOUNTS}_tracking"
        "                                     WHERE application_name = $3))",
        account_id, token_id, application,
    )
