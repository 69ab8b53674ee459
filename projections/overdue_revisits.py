"""Revisits of the mission, vision and values: what is due, what is overdue, what was held.

Overdue is decided when read, against the agency's today, never frozen when written.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg
from psycopg import Cursor

from domain.revisit import HELD, SCHEDULED, Revisit
from projections.base import Projection, handles
from projections.value_names import TABLE as VALUES

TABLE = "revisits_v1"


class OverdueRevisits(Projection):
    name = TABLE
    tables = (TABLE,)
    ddl = (
        f"CREATE TABLE IF NOT EXISTS {TABLE} ("
        " revisit_id uuid PRIMARY KEY,"
        " subject text NOT NULL,"
        " due_on date NOT NULL,"
        " participants text[] NOT NULL,"
        " every_months integer,"
        " status text NOT NULL,"
        " held_on date,"
        " outcome text,"
        " notes text,"
        " version integer NOT NULL,"
        " scheduled_at timestamptz NOT NULL,"
        " updated_at timestamptz NOT NULL)",
        f"CREATE INDEX IF NOT EXISTS {TABLE}_due ON {TABLE} (status, due_on)",
    )

    @handles(Revisit.Scheduled)
    def scheduled(self, curs: Cursor[Any], e: Any) -> None:
        curs.execute(
            f"INSERT INTO {TABLE} (revisit_id, subject, due_on, participants, every_months,"
            " status, version, scheduled_at, updated_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)",
            (e.originator_id, e.subject, e.due_on, list(e.participants), e.every_months,
             SCHEDULED, e.originator_version, e.timestamp, e.timestamp),
        )

    @handles(Revisit.Rescheduled)
    def rescheduled(self, curs: Cursor[Any], e: Any) -> None:
        curs.execute(
            f"UPDATE {TABLE} SET due_on = %s, version = %s, updated_at = %s WHERE revisit_id = %s",
            (e.due_on, e.originator_version, e.timestamp, e.originator_id),
        )

    @handles(Revisit.Held)
    def held(self, curs: Cursor[Any], e: Any) -> None:
        curs.execute(
            f"UPDATE {TABLE} SET status = %s, held_on = %s, outcome = %s, notes = %s,"
            " version = %s, updated_at = %s WHERE revisit_id = %s",
            (HELD, e.held_on, e.outcome, e.notes, e.originator_version, e.timestamp,
             e.originator_id),
        )


STATUSES = ("overdue", "scheduled", "held")


async def revisits(
    conn: asyncpg.Connection, today: date, status: str | None = None
) -> list[asyncpg.Record]:
    """Revisits with `days_overdue` against `today`; status: overdue | scheduled | held | None."""
    condition = {
        None: "TRUE",
        "overdue": f"r.status = '{SCHEDULED}' AND r.due_on < $1",
        "scheduled": f"r.status = '{SCHEDULED}'",
        "held": f"r.status = '{HELD}'",
    }[status]
    return await conn.fetch(
        "SELECT r.revisit_id, r.subject, COALESCE(v.name, initcap(r.subject)) AS subject_label,"
        " r.due_on, r.participants, r.every_months, r.status, r.held_on, r.outcome, r.notes,"
        " r.version, r.updated_at,"
        f" CASE WHEN r.status = '{SCHEDULED}' THEN GREATEST(0, $1 - r.due_on) ELSE 0 END"
        " AS days_overdue"
        f" FROM {TABLE} r LEFT JOIN {VALUES} v ON v.value_id = r.subject"
        f" WHERE {condition}"
        " ORDER BY r.status DESC, r.due_on, r.held_on DESC",
        today,
    )
