"""Revisits of the mission, vision and values: what is due, what is overdue, what was held.

Overdue is decided when read, against the agency's today, never frozen when written.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg

from domain.revisit import HELD, SCHEDULED, Revisit
from projections.base import Changes, Projection, handles
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

    keys = {TABLE: ("revisit_id",)}

    @handles(Revisit.Scheduled)
    def scheduled(self, changes: Changes, e: Any) -> None:
        changes.insert(TABLE, {
            "revisit_id": e.originator_id, "subject": e.subject, "due_on": e.due_on,
            "participants": list(e.participants), "every_months": e.every_months,
            "status": SCHEDULED, "held_on": None, "outcome": None, "notes": None,
            "version": e.originator_version, "scheduled_at": e.timestamp,
            "updated_at": e.timestamp})

    @handles(Revisit.Rescheduled)
    def rescheduled(self, changes: Changes, e: Any) -> None:
        changes.update(TABLE, (e.originator_id,), {
            "due_on": e.due_on, "version": e.originator_version, "updated_at": e.timestamp})

    @handles(Revisit.Held)
    def held(self, changes: Changes, e: Any) -> None:
        changes.update(TABLE, (e.originator_id,), {
            "status": HELD, "held_on": e.held_on, "outcome": e.outcome, "notes": e.notes,
            "version": e.originator_version, "updated_at": e.timestamp})


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
