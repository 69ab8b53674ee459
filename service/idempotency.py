"""Commands that never apply twice: idempotency keys.

A client names each write with a key (the `Idempotency-Key` header, or the hidden `_idem`
field every rendered form carries). The first time a key is used, the row that remembers it
(`cqi_idempotency`: principal, key, a fingerprint of the request and the command's receipt) is
inserted by the event recorder in the same transaction as the command's events. So either both
are stored or neither is: a repeat of a request whose answer was lost finds the row and gets the
first answer, and a repeat racing the first one fails on the row's primary key, storing nothing.

The pieces:
- `IdempotencyMiddleware` notes the key and hashes the body of every unsafe request;
- `Services.command` claims the key for one command (`claiming`), or answers from the row;
- `IdempotentRecorder` writes the row next to the events;
- `note_detail` lets the application add the receipt's `detail` the recorder cannot know.

The recorder also stores the saves that threads make at the same moment in one transaction
(`GroupCommit`), and checks, under the events table's lock, the versions a save was decided on
without reading them (`expecting`; see CQIApplication._change).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import re
import secrets
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    StoredEvent,
)
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from litestar import Litestar
from litestar.enums import ParamType
from litestar.exceptions import ClientException, ValidationException
from litestar.openapi.spec import OpenAPIResponse, OpenAPIType, Operation, Parameter, Schema
from litestar.routes import HTTPRoute
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from service import bridge
from service.vouch import PrincipalChanged
from service.vouch import current as vouched

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
FORM_FIELD = "_idem"
MAX_KEY_LENGTH = 200
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
TABLE = "cqi_idempotency"

_PRINTABLE = re.compile(r"[\x20-\x7e]+")


class KeyAlreadyUsed(Exception):
    """The key's row exists: this command was already done (its events are not stored twice)."""


class KeyReusedError(ClientException):
    """The same key came with a different request."""

    status_code = 422

    def __init__(self) -> None:
        super().__init__(
            f"This {HEADER} was already used for a different request (another method, path or "
            "body). Use a new key for a new request; repeat a request only with the same body.",
            status_code=422,
        )


def key_problem(raw: str) -> str | None:
    """Why `raw` is not a usable key (None: it is one)."""
    if not raw:
        return "must not be empty"
    if len(raw) > MAX_KEY_LENGTH:
        return f"must be at most {MAX_KEY_LENGTH} characters (it has {len(raw)})"
    if not _PRINTABLE.fullmatch(raw):
        return "may hold only printable ASCII characters"
    return None


def checked_key(raw: str) -> str:
    """The key, or a 400 that names `Idempotency-Key` and says what is wrong with it."""
    problem = key_problem(raw)
    if problem is not None:
        raise ValidationException(
            f"The {HEADER} is not usable: it {problem}.", extra={HEADER: problem}
        )
    return raw


def _started(method: str, path: str) -> Any:
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode()):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What a repeat must match: the method, the path and the body, as a SHA-256 hex digest."""
    digest = _started(method, path)
    digest.update(body)
    return digest.hexdigest()


def new_key() -> str:
    """A fresh key for a form being rendered."""
    return secrets.token_urlsafe(18)


# --- the request's key, noted by the middleware ------------------------------------------


@dataclass
class RequestKey:
    """An unsafe request: its key (once known) and its fingerprint as its body is read."""

    method: str
    path: str
    scope: Scope
    key: str | None = None
    claimed: bool = False
    """A request's key applies to its first command only."""
    _digest: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._digest = _started(self.method, self.path)

    def take_body(self, chunk: bytes) -> None:
        self._digest.update(chunk)

    def fingerprint(self) -> str:
        return str(self._digest.copy().hexdigest())

    def principal(self) -> str:
        user = self.scope.get("user")
        return str(getattr(user, "account_id", "")) if user is not None else ""


_request: ContextVar[RequestKey | None] = ContextVar("cqi_idempotency_request", default=None)


def current_request() -> RequestKey | None:
    return _request.get()


def use_form_key(raw: object) -> None:
    """A form's hidden key, unless the request already named one in its header."""
    request = _request.get()
    if request is None or request.key is not None or not isinstance(raw, str):
        return
    request.key = checked_key(raw)


class IdempotencyMiddleware:
    """Notes the `Idempotency-Key` of every unsafe request and fingerprints its body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method", "GET") not in UNSAFE_METHODS:
            await self.app(scope, receive, send)
            return
        request = RequestKey(scope["method"], scope.get("path", ""), scope)
        for name, value in scope.get("headers", []):
            if name == b"idempotency-key":
                request.key = checked_key(value.decode("latin-1").strip())
                break

        async def reading() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                request.take_body(message.get("body", b""))
            return message

        token = _request.set(request)
        try:
            await self.app(scope, reading, send)
        finally:
            _request.reset(token)


# --- the key in the OpenAPI document ------------------------------------------------------


@dataclass
class IdempotentOperation(Operation):
    """A write operation: documents the optional `Idempotency-Key` header and the 422 that
    a key reused for another request gets (with the body of the operation's 400)."""

    def __post_init__(self) -> None:
        earlier = getattr(super(), "__post_init__", None)
        if earlier is not None:  # a handler's own operation class (e.g. a CSV body)
            earlier()
        header = Parameter(
            name=HEADER, param_in=ParamType.HEADER, required=False,
            schema=Schema(type=OpenAPIType.STRING, min_length=1, max_length=MAX_KEY_LENGTH,
                          pattern=r"^[ -~]+$"),
            description="Makes the command safe to repeat: a request with a key already "
                        "used returns the first answer and stores nothing new.",
        )
        self.parameters = [*(self.parameters or []), header]
        if self.responses is not None and "422" not in self.responses:
            bad = self.responses.get("400")
            self.responses["422"] = OpenAPIResponse(
                description=f"The {HEADER} was already used for a different request.",
                content=bad.content if isinstance(bad, OpenAPIResponse) else None,
            )


def document_keys(app: Litestar) -> None:
    """Every API write documents the key (its schema is built later, on first request)."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or not route.path.startswith("/api/"):
            continue
        for handler in route.route_handlers:
            if not set(handler.http_methods) & UNSAFE_METHODS:
                continue
            own = handler.operation_class
            if own is Operation:
                handler.operation_class = IdempotentOperation
            elif not issubclass(own, IdempotentOperation):
                handler.operation_class = type(f"Idempotent{own.__name__}",
                                               (IdempotentOperation, own), {})


# --- one command's claim on the key ------------------------------------------------------


@dataclass
class Claim:
    """What the recorder writes next to the command's events."""

    principal: str
    key: str
    fingerprint: str
    detail: Any = None
    recorded: bool = False


_claim: ContextVar[Claim | None] = ContextVar("cqi_idempotency_claim", default=None)


@contextmanager
def claiming(claim: Claim | None) -> Iterator[None]:
    """While it is open, the saves of this context (and of threads started from it) carry
    `claim`. Worker threads started with anyio copy the context, so they see it too."""
    token = _claim.set(claim)
    try:
        yield
    finally:
        _claim.reset(token)


def note_detail(detail: Any) -> None:
    """The command's outcome, which its receipt carries (the application calls this)."""
    claim = _claim.get()
    if claim is not None:
        claim.detail = detail


# --- what a save expects of the store ----------------------------------------------------


class ExpectationFailed(Exception):
    """A save was decided on versions that were not read for it (see CQIApplication._change),
    and the store, checked under the events table's lock, has moved past one of them: nothing
    of the save was stored; decide again on what is stored now."""

    def __init__(self, message: str, stale: Sequence[int] = ()) -> None:
        super().__init__(message)
        self.stale = list(stale)
        """Which saves of the transaction expected too much (their indexes)."""


RECHECKS = 3
"""Saves tried again when the token holder's account moved on but still gives the same holder."""

SAVE_SETUP_LOCK = 0x637169_657870  # pg_advisory_xact_lock key: "cqi" "exp"

Expected = Mapping[uuid.UUID, int]
"""Aggregate id -> the version a save expects to be its latest stored one (0: none stored)."""

_expect: ContextVar[Expected | None] = ContextVar("cqi_expected_versions", default=None)


@contextmanager
def expecting(versions: Expected | None) -> Iterator[None]:
    """While it is open, this thread's saves are stored only if each aggregate named in
    `versions` is still at that latest version (not counting the save's own events), checked in
    the save's own transaction while the events table is locked, so that no other save can come
    between; else the save raises ExpectationFailed and stores nothing."""
    token = _expect.set(versions or None)
    try:
        yield
    finally:
        _expect.reset(token)


# --- storing and reading the row ---------------------------------------------------------


def _encode(value: Any) -> Any:
    """JSON for a receipt's detail, keeping the types details have (ids, days, amounts)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, uuid.UUID):
        return {"$uuid": str(value)}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {"$dict": [[_encode(k), _encode(v)] for k, v in value.items()]}
    raise TypeError(f"an idempotent command's detail cannot hold a {type(value).__name__}")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        ((tag, raw),) = value.items()
        if tag == "$uuid":
            return uuid.UUID(raw)
        if tag == "$datetime":
            return datetime.fromisoformat(raw)
        if tag == "$date":
            return date.fromisoformat(raw)
        if tag == "$decimal":
            return Decimal(raw)
        return {_decode(k): _decode(v) for k, v in raw}
    return value


def receipt_fields(stored_events: Sequence[StoredEvent], notification_ids: Sequence[int],
                   detail: Any) -> dict[str, Any]:
    """The receipt of a save, from what was stored (the application saves its main aggregate
    first, then the others it changed with it)."""
    first = stored_events[0].originator_id
    others: list[str] = []
    for stored in stored_events:
        if stored.originator_id != first and str(stored.originator_id) not in others:
            others.append(str(stored.originator_id))
    return {
        "id": str(first),
        "version": max(e.originator_version for e in stored_events if e.originator_id == first),
        "notification_id": max(notification_ids),
        "topics": sorted({e.topic for e in stored_events}),
        "detail": _encode(detail),
        "also_saved": others,
    }


def receipt_kwargs(stored: str | dict[str, Any]) -> dict[str, Any]:
    """The stored receipt as keyword arguments for `Receipt`."""
    data = json.loads(stored) if isinstance(stored, str) else stored
    return {
        "id": uuid.UUID(data["id"]),
        "version": int(data["version"]),
        "notification_id": int(data["notification_id"]),
        "topics": tuple(data["topics"]),
        "detail": _decode(data["detail"]),
        "also_saved": tuple(uuid.UUID(i) for i in data["also_saved"]),
    }


@dataclass(frozen=True)
class StoredKey:
    fingerprint: str
    receipt: dict[str, Any]


async def find(conn: Any, principal: str, key: str) -> StoredKey | None:
    """The row of `key` for `principal` (an asyncpg connection), if the key was used."""
    row = await conn.fetchrow(
        f"SELECT fingerprint, receipt::text AS receipt FROM {TABLE} "
        "WHERE principal = $1 AND key = $2",
        principal, key,
    )
    if row is None:
        return None
    return StoredKey(row["fingerprint"], json.loads(row["receipt"]))


class IdempotentRecorder(PostgresApplicationRecorder):
    """The application's recorder, which also writes the claimed key's row in the events'
    transaction (wired in with APPLICATION_RECORDER_TOPIC)."""

    def __init__(self, datastore: PostgresDatastore, *,
                 events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        if getattr(datastore, "enable_db_functions", False):
            # The library's database-function insert path never reaches the hook that
            # writes the key's row: repeats would apply again. Refuse rather than pretend.
            raise ValueError("POSTGRES_ENABLE_DB_FUNCTIONS cannot be used with idempotency "
                             "keys: leave it unset")
        self.idempotency_table_name = TABLE
        self.idempotency_constraint = f"{TABLE}_pkey"
        table = SQL("{schema}.{table}").format(schema=Identifier(self.datastore.schema),
                                               table=Identifier(TABLE))
        self.sql_create_statements.append(SQL(
            "CREATE TABLE IF NOT EXISTS {table} ("
            "principal text NOT NULL, "
            "key text NOT NULL, "
            "fingerprint text NOT NULL, "
            "originator_id uuid NOT NULL, "
            "originator_version bigint NOT NULL, "
            "notification_id bigint NOT NULL, "
            "receipt jsonb NOT NULL, "
            "recorded_at timestamptz NOT NULL DEFAULT now(), "
            "PRIMARY KEY (principal, key))"
        ).format(table=table))
        events = SQL("{schema}.{events}").format(schema=Identifier(self.datastore.schema),
                                                  events=Identifier(self.events_table_name))
        self.latest_versions_statement = SQL(
            "SELECT u.id AS id, (SELECT e.originator_version FROM {events} e "
            "WHERE e.originator_id = u.id ORDER BY e.originator_version DESC LIMIT 1) AS version "
            "FROM unnest(%s::uuid[]) AS u(id)"
        ).format(events=events)
        # One statement, in a transaction of its own (the connections are in autocommit): a
        # group of saves costs one round trip, and the events table's lock is held for no
        # round trip to the client. Under the lock, the saves whose expected versions (see
        # `expecting`) have moved on are left out. So is a save expecting an aggregate that an
        # earlier save of the same group writes: it was decided without that save, so it is
        # tried again (even if that save is left out too). The others' events are inserted in
        # the order given (so their notification ids follow it), listeners notified, and each
        # claimed key's row written with the receipt its save's last notification id
        # completes. Returns a row per stored event, and one per save left out.
        self.save_function = Identifier(self.datastore.schema,
                                        f"{self.events_table_name}_save_v2")
        self.save_function_statement = SQL(
            "CREATE OR REPLACE FUNCTION {save}("
            " saves integer[], ids uuid[], versions bigint[], topics text[], states bytea[],"
            " expect_saves integer[], expect_ids uuid[], expect_versions bigint[],"
            " key_saves integer[], principals text[], keys text[], fingerprints text[],"
            " key_ids uuid[], key_versions bigint[], receipts text[], lock_timeout text)"
            " RETURNS TABLE (stored_id uuid, stored_version bigint, stored_notification bigint,"
            "                stale_save integer)"
            " LANGUAGE plpgsql AS $body$"
            " #variable_conflict use_column\n"
            " DECLARE stale integer[];"
            " BEGIN"
            "  PERFORM set_config('lock_timeout', lock_timeout, true);"
            "  LOCK TABLE {events} IN EXCLUSIVE MODE;"
            "  SELECT coalesce(array_agg(DISTINCT x.save), '{{}}') INTO stale"
            "  FROM unnest(expect_saves, expect_ids, expect_versions) AS x(save, id, version)"
            "  WHERE coalesce((SELECT e.originator_version FROM {events} e"
            "                  WHERE e.originator_id = x.id"
            "                  ORDER BY e.originator_version DESC LIMIT 1), 0) <> x.version"
            "  OR EXISTS (SELECT 1 FROM unnest(saves, ids) AS u(save, id)"
            "             WHERE u.save < x.save AND u.id = x.id);"
            "  IF EXISTS (SELECT 1 FROM unnest(saves) AS u(save) WHERE NOT u.save = ANY(stale))"
            "  THEN NOTIFY {channel}; END IF;"
            "  RETURN QUERY"
            "  WITH input AS ("
            "   SELECT u.save, u.id, u.version, u.topic, u.state, u.n FROM unnest(saves, ids,"
            "    versions, topics, states) WITH ORDINALITY AS u(save, id, version, topic, state, n)"
            "   WHERE NOT u.save = ANY(stale)),"
            "  inserted AS ("
            "   INSERT INTO {events} (originator_id, originator_version, topic, state)"
            "   SELECT i.id, i.version, i.topic, i.state FROM input i ORDER BY i.n"
            "   RETURNING originator_id, originator_version, notification_id),"
            "  last AS ("
            "   SELECT i.save, max(s.notification_id) AS notification_id FROM inserted s"
            "   JOIN input i ON i.id = s.originator_id AND i.version = s.originator_version"
            "   GROUP BY i.save),"
            "  keyed AS ("
            "   INSERT INTO {keys_table} (principal, key, fingerprint, originator_id,"
            "    originator_version, notification_id, receipt)"
            "   SELECT k.principal, k.key, k.fingerprint, k.id, k.version, l.notification_id,"
            "    jsonb_set(k.receipt::jsonb, '{{notification_id}}', to_jsonb(l.notification_id))"
            "   FROM unnest(key_saves, principals, keys, fingerprints, key_ids, key_versions,"
            "    receipts) AS k(save, principal, key, fingerprint, id, version, receipt)"
            "   JOIN last l ON l.save = k.save"
            "   RETURNING 1)"
            "  SELECT s.originator_id, s.originator_version, s.notification_id, NULL::integer"
            "  FROM inserted s"
            "  UNION ALL SELECT NULL::uuid, NULL::bigint, NULL::bigint, x FROM unnest(stale) AS x;"
            " END $body$"
        ).format(save=self.save_function, events=events, keys_table=table,
                 channel=Identifier(self.channel_name))
        # Each process's own lock timeout, given with each call: a function shared by every
        # replica keeps none of its own (the last to start would set it for all).
        self.lock_timeout = f"{self.datastore.lock_timeout}s"
        # Parameters in binary: half the time to encode a group's arrays, and no hex for the
        # events' bytes.
        self.save_statement = SQL(
            "SELECT * FROM {save}(%b::integer[], %b::uuid[], %b::bigint[], %b::text[],"
            " %b::bytea[], %b::integer[], %b::uuid[], %b::bigint[], %b::integer[], %b::text[],"
            " %b::text[], %b::text[], %b::uuid[], %b::bigint[], %b::text[], %b::text)"
        ).format(save=self.save_function)
        self.stored_events_statement = SQL(
            "SELECT e.originator_id, e.originator_version, e.notification_id, e.state"
            " FROM unnest(%s::uuid[], %s::bigint[]) AS u(id, version)"
            " JOIN {events} e ON e.originator_id = u.id AND e.originator_version = u.version"
        ).format(events=events)
        self._group = GroupCommit(self._insert_together)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """A save's events (and its claimed key's row): stored together with the saves other
        threads of this process make meanwhile, in one transaction (see GroupCommit), if the
        versions it expects (see `expecting`) are still the latest."""
        vouch = vouched()
        for _ in range(RECHECKS):
            expected: Expected | Pairs | None = _expect.get()
            if vouch is not None and stored_events:
                # The request's token holder, as this process remembered it (service/vouch.py).
                expected = [*(expected or {}).items(), (vouch.account_id, vouch.version)]
            try:
                if not stored_events or any(v is not None for v in kwargs.values()):
                    answer = bridge.off_loop(
                        self._insert_saves, [(stored_events, _claim.get(), expected)],
                        **kwargs)[0]
                    if isinstance(answer, ExpectationFailed):
                        raise answer
                else:
                    answer = self._group.insert(stored_events, _claim.get(), expected)
            except ExpectationFailed:
                if vouch is None or not stored_events:
                    raise
                latest = self.latest_versions([vouch.account_id]).get(vouch.account_id, 0)
                if latest == vouch.version:
                    raise  # not the holder's account: one of the command's own expectations
                again = vouch.recheck()
                if again is None:
                    raise PrincipalChanged() from None
                vouch.version = again  # the same holder: expect the account as it now is
                continue
            if vouch is not None and stored_events:
                vouch.confirmed = True
            return answer
        raise PrincipalChanged()

    @bridge.offloaded
    def select_events(self, *args: Any, **kwargs: Any) -> Any:
        return super().select_events(*args, **kwargs)

    @bridge.offloaded
    def latest_versions(self, aggregate_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        """The latest stored version of each aggregate that has events, in one query (one
        backward index probe each)."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.latest_versions_statement, (list(aggregate_ids),), prepare=True)
            return {row["id"]: row["version"] for row in curs.fetchall()
                    if row["version"] is not None}

    def _insert_together(self, saves: list[Save]) -> list[Sequence[int] | Exception | None]:
        return self._insert_saves(saves)

    def _insert_saves(self, saves: list[Save], **kwargs: Any
                      ) -> list[Sequence[int] | Exception | None]:
        """Several saves' events in one transaction, the notification ids of each save in the
        order given. A save whose expected versions have moved on is answered with an
        ExpectationFailed and stores nothing; the others are stored all the same."""
        if any(v is not None for v in kwargs.values()):
            raise NotImplementedError(f"saving with {sorted(kwargs)} is not supported")
        if not any(events for events, _, _ in saves):
            return [None] * len(saves)
        return self._insert_transaction(saves)

    def create_save_function(self) -> None:
        """The database function that stores a group of saves (idempotent; run at start-up,
        one process at a time)."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute("SELECT pg_advisory_xact_lock(%s)", (SAVE_SETUP_LOCK,))
            curs.execute(self.save_function_statement)

    def _insert_transaction(self, saves: list[Save]) -> list[Sequence[int] | Exception | None]:
        """The saves through the save function: one statement, one transaction."""
        events_columns: list[list[Any]] = [[], [], [], [], []]
        expect_columns: list[list[Any]] = [[], [], []]
        key_columns: list[list[Any]] = [[], [], [], [], [], [], []]
        for k, (events, claim, expected) in enumerate(saves):
            for e in events:
                for column, value in zip(events_columns, (
                        k, e.originator_id, e.originator_version, e.topic, e.state),
                        strict=True):
                    column.append(value)
            pairs = expected.items() if isinstance(expected, Mapping) else (expected or ())
            for aggregate_id, version in pairs:
                for column, value in zip(expect_columns, (k, aggregate_id, version),
                                         strict=True):
                    column.append(value)
            if claim is not None and events and not claim.recorded:
                # The receipt's notification id is the database's to fill in.
                receipt = receipt_fields(events, [0], claim.detail)
                for column, value in zip(key_columns, (
                        k, claim.principal, claim.key, claim.fingerprint,
                        uuid.UUID(receipt["id"]), receipt["version"], json.dumps(receipt)),
                        strict=True):
                    column.append(value)
        try:
            rows = self._call_save([*events_columns, *expect_columns, *key_columns,
                                    self.lock_timeout])
        except IntegrityError as exc:
            cause = exc.__cause__
            if (isinstance(cause, psycopg.errors.UniqueViolation)
                    and cause.diag.constraint_name == self.idempotency_constraint):
                raise KeyAlreadyUsed(str(exc)) from exc
            raise
        stale = {row[3] for row in rows if row[3] is not None}
        stored = {(row[0], row[1]): row[2] for row in rows if row[3] is None}
        answers: list[Sequence[int] | Exception | None] = []
        for k, (events, claim, _) in enumerate(saves):
            if k in stale:
                answers.append(ExpectationFailed(
                    "decided on versions no longer the latest", [k]))
                continue
            answers.append([stored[e.originator_id, e.originator_version] for e in events])
            if claim is not None and events:
                claim.recorded = True
        return answers

    def _call_save(self, params: list[Any]) -> list[tuple[Any, ...]]:
        """The save statement, tried again on a dropped connection, as the library's own insert
        is. Not blindly: a connection can drop after the transaction committed and before its
        answer arrived. Run again, the statement would find its own versions stored, the
        command would be decided afresh and stored a second time. So before each new try the
        events are looked for, and if they are there, as sent, that is the answer."""
        for attempt in range(SAVE_ATTEMPTS):
            try:
                if attempt:
                    stored = self._stored_rows(params)
                    if stored is not None:
                        return stored
                return self._save_once(params)
            except (InterfaceError, OperationalError):
                if attempt == SAVE_ATTEMPTS - 1:
                    raise
                time.sleep(SAVE_RETRY_WAIT)
        raise AssertionError("unreachable")

    def _save_once(self, params: list[Any]) -> list[tuple[Any, ...]]:
        with self.datastore.get_connection() as conn:
            assert conn.autocommit  # the statement is its own transaction
            with conn.cursor(row_factory=tuple_row) as curs:
                curs.execute(self.save_statement, params, prepare=True)
                return curs.fetchall()

    def _stored_rows(self, params: list[Any]) -> list[tuple[Any, ...]] | None:
        """The save statement's answer if its transaction committed, read back; else None.

        One transaction stores all its saves but the stale ones, or nothing: if any event
        sent is stored with the very bytes sent (its time, its actor), it committed. Then
        each save whose events are there was stored, and each save with none there was left
        out as stale. Events stored by someone else under the same versions differ in bytes."""
        saves, ids, versions, _, states = params[:5]
        if not ids:
            return None
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(self.stored_events_statement, (ids, versions), prepare=True)
            found = {(row[0], row[1]): (row[2], bytes(row[3])) for row in curs.fetchall()}
        ours = {k: found[key][0] for k, key in enumerate(zip(ids, versions, strict=True))
                if key in found and found[key][1] == bytes(states[k])}
        if not ours:
            return None
        rows: list[tuple[Any, ...]] = [(ids[k], versions[k], ours[k], None) for k in sorted(
            ours, key=ours.__getitem__)]
        stored_saves = {saves[k] for k in ours}
        rows += [(None, None, None, save) for save in sorted(set(saves) - stored_saves)]
        return rows

Pairs = Sequence[tuple[uuid.UUID, int]]
"""Expected versions as (aggregate id, version) pairs; an id may be named twice."""

Save = tuple[Sequence[StoredEvent], Claim | None, Expected | Pairs | None]
"""One save's events, its claim on an idempotency key, the versions it expects."""

SAVE_ATTEMPTS = 10
SAVE_RETRY_WAIT = 0.2
"""A save statement is tried this often, this many seconds apart, while the database cannot
be reached (as the library's own insert is)."""

MAX_GROUP_SAVES = 64
MAX_GROUP_BYTES = 256 * 1024
"""A group's events stay well under the size at which one insert over a unix socket was seen
to hang (~1 MB); a single save larger than this is stored alone."""


class _Save:
    __slots__ = ("answered", "claim", "done", "error", "events", "expected", "lead",
                 "notification_ids", "size")

    def __init__(self, events: Sequence[StoredEvent], claim: Claim | None,
                 expected: Expected | Pairs | None,
                 answered: asyncio.Future[None] | None = None) -> None:
        self.events = events
        self.claim = claim
        self.expected = expected
        self.size = sum(len(e.state) for e in events)
        self.answered = answered
        """Set when the save has its answer, for a save waiting on the event loop."""
        self.done = threading.Event() if answered is None else None
        self.lead = False
        self.notification_ids: Sequence[int] | None = None
        self.error: BaseException | None = None


class GroupCommit:
    """Group commit: the saves that threads of one process make at the same moment are stored
    in one transaction (one table lock, one insert, one commit and one flush to disk), instead
    of queueing for the events table's lock one commit at a time.

    No thread of its own: the first saving thread leads. It takes every save waiting (its own
    first), stores them together and wakes their threads with their notification ids; then
    hands the lead to the oldest save that arrived meanwhile. A group that the store refuses
    (a version someone else stored first, a key already used) stores nothing, so each of its
    saves is tried again alone and gets its own answer, as after any error that one save's data
    could cause; a connection error is every save's answer (none was stored, as when each save
    was alone). The store may also answer one save with an exception of its own (versions it
    expected have moved on) while storing the others. A save is acknowledged only once the
    transaction holding it has committed.

    A save made by a command running on an event loop (service/bridge.py) waits on that loop
    instead of in a thread. Such saves form groups of their own, led by a task on the loop,
    which stores each group in a thread kept for it: one thread switch per group, none per
    save. The two kinds of group may be in flight at once; the store's lock orders them."""

    def __init__(self, insert: Callable[[list[Save]],
                                        list[Sequence[int] | Exception | None]]) -> None:
        self._insert = insert
        self._lock = threading.Lock()
        self._waiting: list[_Save] = []
        self._leading = False
        self._on_loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopGroups] = \
            weakref.WeakKeyDictionary()
        self.groups = 0
        """How many transactions stored groups (tests and diagnostics read it)."""

    def insert(self, events: Sequence[StoredEvent], claim: Claim | None,
               expected: Expected | Pairs | None = None) -> Sequence[int] | None:
        if bridge.bridged():
            return self._insert_on_loop(events, claim, expected)
        save = _Save(events, claim, expected)
        with self._lock:
            self._waiting.append(save)
            if not self._leading:
                self._leading = save.lead = True
        if not save.lead:
            save.done.wait()
        if save.lead:
            self._lead()
        if save.error is not None:
            raise save.error
        return save.notification_ids

    def _lead(self) -> None:
        group: list[_Save] = []
        try:
            with self._lock:
                group = _next_group(self._waiting)
            self._store(group)
        finally:
            with self._lock:
                if self._waiting:
                    self._waiting[0].lead = True
                    self._waiting[0].done.set()
                else:
                    self._leading = False
            for save in group:
                save.done.set()

    def _insert_on_loop(self, events: Sequence[StoredEvent], claim: Claim | None,
                        expected: Expected | Pairs | None) -> Sequence[int] | None:
        loop = asyncio.get_running_loop()
        groups = self._on_loops.get(loop)
        if groups is None:
            groups = self._on_loops[loop] = _LoopGroups()
        save = _Save(events, claim, expected, loop.create_future())
        groups.waiting.append(save)
        if groups.leader is None or groups.leader.done():
            groups.leader = leader = loop.create_task(self._lead_on_loop(groups))
            leader.add_done_callback(functools.partial(_abandon, groups))
        assert save.answered is not None
        bridge.await_(save.answered)
        if save.error is not None:
            raise save.error
        return save.notification_ids

    async def _lead_on_loop(self, groups: _LoopGroups) -> None:
        """Store the loop's waiting saves, a group at a time, until none waits.

        Each group is answered only with what its transaction did: the leader cancelled
        while one is stored (the loop shutting down) waits for it to end, answers it, and
        only then stops; the saves still waiting are failed by `_abandon`."""
        loop = asyncio.get_running_loop()
        while groups.waiting:
            group = _next_group(groups.waiting)
            try:
                storing = loop.run_in_executor(groups.thread, self._store, group)
            except RuntimeError as error:  # the thread is gone (the process is ending)
                _fail(group, error)
                raise
            cancelled = False
            while not storing.done():
                try:
                    await asyncio.wait({storing})
                except asyncio.CancelledError:
                    cancelled = True
            failure = storing.exception()
            if failure is not None:  # _store answers each save itself; this is a defect
                _fail([save for save in group if save.notification_ids is None
                       and save.error is None], failure)
            _answer(group)
            if cancelled:
                raise asyncio.CancelledError

    def _store(self, group: list[_Save]) -> None:
        try:
            answers = self._insert([(s.events, s.claim, s.expected) for s in group])
            self.groups += 1
        except (IntegrityError, KeyAlreadyUsed) as refusal:
            if len(group) == 1:
                group[0].error = refusal
                return
            culprit = _named_by(refusal, group)
            if culprit is not None:  # refuse it, store the others together again
                culprit.error = refusal
                self._store([save for save in group if save is not culprit])
                return
            for save in group:
                self._store([save])
            return
        except (OperationalError, InterfaceError, psycopg.OperationalError,
                psycopg.InterfaceError) as error:  # the database failed, not one save's data
            for save in group:
                save.error = error
            return
        except Exception as error:
            if len(group) == 1:
                group[0].error = error
                return
            for save in group:  # one save's own data may be at fault: each gets its own answer
                self._store([save])
            return
        except BaseException as error:
            for save in group:
                save.error = error
            return
        for save, ids in zip(group, answers, strict=True):
            if isinstance(ids, Exception):
                save.error = ids
            else:
                save.notification_ids = ids


class _LoopGroups:
    """The saves waiting on one event loop, their leader task, the thread that stores."""

    def __init__(self) -> None:
        self.waiting: list[_Save] = []
        self.leader: asyncio.Task[None] | None = None
        self.thread = ThreadPoolExecutor(1, thread_name_prefix="cqi-group-commit")

    def __del__(self) -> None:
        self.thread.shutdown(wait=False)


def _next_group(waiting: list[_Save]) -> list[_Save]:
    """The oldest saves waiting, taken out: as many as one transaction stores."""
    group: list[_Save] = []
    size = 0
    for save in waiting:
        if group and (len(group) >= MAX_GROUP_SAVES or size + save.size > MAX_GROUP_BYTES):
            break
        group.append(save)
        size += save.size
    del waiting[:len(group)]
    return group


def _fail(saves: list[_Save], error: BaseException) -> None:
    """Saves that were not stored: each fails with `error`."""
    for save in saves:
        save.error = error
    _answer(saves)


def _abandon(groups: _LoopGroups, leader: asyncio.Task[None]) -> None:
    """When a leader stops early (cancelled, even before it began; its thread gone), the
    saves still waiting were never stored: they fail, and a later save starts a leader."""
    if groups.leader is leader:
        groups.leader = None
    elif groups.leader is not None and not groups.leader.done():
        return  # a save arriving since started a leader of its own: it stores those waiting
    if leader.cancelled():
        error: BaseException = RuntimeError("the server is stopping: the save was not stored")
    elif leader.exception() is not None:
        error = leader.exception()  # type: ignore[assignment]
    else:
        return
    waiting, groups.waiting = groups.waiting, []
    _fail(waiting, error)


def _answer(saves: list[_Save]) -> None:
    for save in saves:
        if save.answered is not None and not save.answered.done():
            save.answered.set_result(None)


def _named_by(refusal: BaseException, group: list[_Save]) -> _Save | None:
    """The one save of `group` whose event (originator id and version) or key the unique
    violation behind `refusal` names, if it names exactly one: PostgreSQL's detail reads
    `Key (columns)=(values) already exists.`"""
    error: BaseException | None = refusal
    detail = None
    while error is not None and detail is None:
        diag = getattr(error, "diag", None)
        detail = getattr(diag, "message_detail", None) if diag is not None else None
        error = error.__cause__
    if not isinstance(detail, str):
        return None
    named = []
    for save in group:
        values = [f"{e.originator_id}, {e.originator_version}" for e in save.events]
        if isinstance(save.claim, Claim):
            values.append(f"{save.claim.principal}, {save.claim.key}")
        if any(detail.endswith(f"=({v}) already exists.") for v in values):
            named.append(save)
    return named[0] if len(named) == 1 else None
