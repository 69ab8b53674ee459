"""The audit trail you can prove: a hash chain over every stored event, signed anchors,
a standalone verifier and an NDJSON export.

The chain is kept by PostgreSQL itself: a trigger on `cqi_events` appends one link to
`cqi_audit_chain` for each inserted event, so no write path can skip it. The library's own
tables are not changed. Links are numbered by a dense sequence (1, 2, 3...), not by the
notification ids, which have gaps.

Hash layout (all integers big-endian; the same bytes in SQL and in Python):

    event digest = SHA-256( originator id (16 bytes, the UUID's bytes)
                          ‖ originator version (8 bytes, signed)
                          ‖ topic: length (4 bytes, signed) ‖ its UTF-8 bytes
                          ‖ state: length (4 bytes, signed) ‖ its bytes )
    link         = SHA-256( previous link (32 bytes; 32 zero bytes before the first)
                          ‖ sequence (8 bytes, signed)
                          ‖ event digest (32 bytes) )

A NULL topic or state is written as the length -1 with no bytes, so NULL and "" differ.
The event's stored state enters the link through its digest: this lets an export of one
initiative carry only the digests of the other events, and still be checked link by link.

Anchors sign the text `anchor_message(sequence, head)` with an Ed25519 key that lives in a
file outside the database (CQI_SIGNING_KEY_FILE). Someone who can write to the database can
rewrite the events and recompute every later link; only an anchor kept elsewhere (a board
report, an email) shows that.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import stat
import struct
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

CHAIN = "cqi_audit_chain"
ANCHORS = "cqi_audit_anchors"
EVENTS = "cqi_events"
GENESIS = bytes(32)
EXPORT_FORMAT = "cqi-audit-export/1"
_SETUP_LOCK = 0x637169_617564  # pg_advisory_xact_lock key: "cqi" "aud"


# --- the hashing (pure) --------------------------------------------------------------------


def _sized(value: bytes | None) -> bytes:
    if value is None:
        return struct.pack(">i", -1)
    return struct.pack(">i", len(value)) + value


def event_digest(originator_id: uuid.UUID, version: int, topic: str | None,
                 state: bytes | None) -> bytes:
    material = (originator_id.bytes + struct.pack(">q", version)
                + _sized(None if topic is None else topic.encode("utf-8")) + _sized(state))
    return hashlib.sha256(material).digest()


def next_link(previous: bytes, sequence: int, digest: bytes) -> bytes:
    if len(previous) != 32 or len(digest) != 32:
        raise ValueError("a link and a digest are 32 bytes each")
    return hashlib.sha256(previous + struct.pack(">q", sequence) + digest).digest()


def anchor_message(sequence: int, head: bytes) -> bytes:
    """What an anchor's signature covers; anyone can rebuild it from the published values."""
    return f"cqi audit anchor v1: sequence {sequence}, head {head.hex()}".encode("ascii")


# --- the chain in the database -----------------------------------------------------------

_FUNCTIONS = [
    """
    CREATE OR REPLACE FUNCTION cqi_audit_event_digest(
        originator_id uuid, originator_version bigint, topic text, state bytea)
    RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
      SELECT sha256(
        uuid_send(originator_id) || int8send(originator_version)
        || CASE WHEN topic IS NULL THEN int4send(-1)
                ELSE int4send(octet_length(convert_to(topic, 'UTF8')))
                     || convert_to(topic, 'UTF8') END
        || CASE WHEN state IS NULL THEN int4send(-1)
                ELSE int4send(octet_length(state)) || state END)
    $$
    """,
    """
    CREATE OR REPLACE FUNCTION cqi_audit_link(previous bytea, sequence bigint, digest bytea)
    RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
      SELECT sha256(previous || int8send(sequence) || digest)
    $$
    """,
    # One call per INSERT statement, not per row: a group of saves stored by one statement
    # takes the chain's lock and reads its head once, and adds its links in one insert.
    # Links are made in notification order, as a row trigger made them one row at a time.
    f"""
    CREATE OR REPLACE FUNCTION cqi_audit_append_rows() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
    DECLARE
      last_sequence bigint;
      last_link bytea;
      e record;
      sequences bigint[] := '{{}}';
      notification_ids bigint[] := '{{}}';
      originator_ids uuid[] := '{{}}';
      originator_versions bigint[] := '{{}}';
      links bytea[] := '{{}}';
    BEGIN
      -- The writers already hold EXCLUSIVE on the events table; this also serialises any
      -- other writer.
      LOCK TABLE {CHAIN} IN EXCLUSIVE MODE;
      SELECT sequence, link INTO last_sequence, last_link
        FROM {CHAIN} ORDER BY sequence DESC LIMIT 1;
      IF last_sequence IS NULL THEN
        last_sequence := 0;
        last_link := decode(repeat('00', 32), 'hex');
      END IF;
      FOR e IN SELECT notification_id, originator_id, originator_version, topic, state
                 FROM inserted ORDER BY notification_id LOOP
        last_sequence := last_sequence + 1;
        last_link := cqi_audit_link(last_link, last_sequence, cqi_audit_event_digest(
            e.originator_id, e.originator_version, e.topic, e.state));
        sequences := sequences || last_sequence;
        notification_ids := notification_ids || e.notification_id;
        originator_ids := originator_ids || e.originator_id;
        originator_versions := originator_versions || e.originator_version;
        links := links || last_link;
      END LOOP;
      INSERT INTO {CHAIN} (sequence, notification_id, originator_id, originator_version, link)
      SELECT * FROM unnest(sequences, notification_ids, originator_ids, originator_versions,
                           links);
      RETURN NULL;
    END
    $$
    """,
]

_CREATE_CHAIN = f"""
    CREATE TABLE {CHAIN} (
        sequence bigint PRIMARY KEY CHECK (sequence > 0),
        notification_id bigint NOT NULL UNIQUE,
        originator_id uuid NOT NULL,
        originator_version bigint NOT NULL,
        link bytea NOT NULL CHECK (octet_length(link) = 32)
    )
"""

_BACKFILL = f"""
    DO $$
    DECLARE
      e record;
      n bigint := 0;
      previous bytea := decode(repeat('00', 32), 'hex');
    BEGIN
      FOR e IN SELECT * FROM {EVENTS} ORDER BY notification_id LOOP
        n := n + 1;
        previous := cqi_audit_link(previous, n, cqi_audit_event_digest(
            e.originator_id, e.originator_version, e.topic, e.state));
        INSERT INTO {CHAIN} VALUES (n, e.notification_id, e.originator_id,
                                    e.originator_version, previous);
      END LOOP;
    END
    $$
"""

_CREATE_ANCHORS = f"""
    CREATE TABLE IF NOT EXISTS {ANCHORS} (
        id bigserial PRIMARY KEY,
        sequence bigint NOT NULL,
        head bytea NOT NULL,
        signature bytea NOT NULL,
        public_key bytea NOT NULL,
        anchored_at timestamptz NOT NULL DEFAULT now()
    )
"""


def ensure_chain(cursor: Any) -> None:
    """Create the chain's table, functions and trigger if missing (idempotent; run at start-up
    in one transaction). A store that predates the chain gets its links backfilled once, in
    notification order, while writers wait."""
    cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_SETUP_LOCK,))
    for statement in _FUNCTIONS:
        cursor.execute(statement)
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL AS present", (CHAIN,))
    if not _first(cursor.fetchone()):
        cursor.execute(f"LOCK TABLE {EVENTS} IN EXCLUSIVE MODE")
        cursor.execute(_CREATE_CHAIN)
        cursor.execute(_BACKFILL)
    cursor.execute(_CREATE_ANCHORS)
    # Statement-level (tgtype's bit 0 clear). A store made before the trigger became one
    # has the row-level trigger: it is replaced, in this transaction, so no insert meets
    # both or neither; then the row-level function goes too.
    cursor.execute(
        "SELECT count(*) AS n FROM pg_trigger WHERE tgname = 'cqi_audit_chain_append' "
        "AND tgrelid = to_regclass(%s) AND tgtype & 1 = 0", (EVENTS,))
    if not _first(cursor.fetchone()):
        cursor.execute(f"DROP TRIGGER IF EXISTS cqi_audit_chain_append ON {EVENTS}")
        cursor.execute(
            f"CREATE TRIGGER cqi_audit_chain_append AFTER INSERT ON {EVENTS} "
            "REFERENCING NEW TABLE AS inserted "
            "FOR EACH STATEMENT EXECUTE FUNCTION cqi_audit_append_rows()")
    cursor.execute("DROP FUNCTION IF EXISTS cqi_audit_append()")


def ensure_chain_for(app: Any) -> None:
    """Set up the chain for an application stored in PostgreSQL (nothing for in-memory ones)."""
    from eventsourcing.postgres import PostgresApplicationRecorder

    recorder = getattr(app, "recorder", None)
    if isinstance(recorder, PostgresApplicationRecorder):
        with recorder.datastore.transaction(commit=True) as cursor:
            ensure_chain(cursor)


def _first(row: Any) -> Any:
    return next(iter(row.values())) if isinstance(row, dict) else row[0]


# --- signing keys and anchors ---------------------------------------------------------------


class AuditError(Exception):
    """A key, a file or a database that cannot be used; the message says why."""


def new_signing_key(path: Path) -> bytes:
    """Create an Ed25519 private key file readable by its owner only; return the public key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise AuditError(f"{path} already exists; a key is never overwritten") from None
    with os.fdopen(descriptor, "wb") as key_file:
        key_file.write(pem)
    return _public_bytes(key)


def load_signing_key(path: Path) -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except FileNotFoundError:
        raise AuditError(f"no signing key at {path} (create one with `cqi anchor --new-key`)"
                         ) from None
    except OSError as error:
        raise AuditError(f"cannot read the signing key {path}: {error.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise AuditError(f"{path} can be read by others; make it private (chmod 600)")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise AuditError(f"{path} does not hold an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditError(f"{path} holds a key that is not Ed25519")
    return key


def public_key_of(path: Path) -> bytes:
    return _public_bytes(load_signing_key(path))


def _public_bytes(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_key().public_bytes(serialization.Encoding.Raw,
                                         serialization.PublicFormat.Raw)


def signature_valid(public_key: bytes, signature: bytes, sequence: int, head: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(
            signature, anchor_message(sequence, head))
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True)
class Anchor:
    id: int
    sequence: int
    head: bytes
    signature: bytes
    public_key: bytes
    anchored_at: datetime | str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"kind": "anchor", "id": self.id, "sequence": self.sequence,
                "head": self.head.hex(), "signature": self.signature.hex(),
                "public_key": self.public_key.hex(),
                "anchored_at": (self.anchored_at.isoformat()
                                if isinstance(self.anchored_at, datetime) else self.anchored_at)}


def record_anchor(conn: Any, key_file: Path) -> Anchor:
    """Sign the chain's current head and store the anchor. Refuses an empty chain."""
    key = load_signing_key(key_file)
    with conn.transaction():
        head = conn.execute(f"SELECT sequence, link FROM {CHAIN} "
                            "ORDER BY sequence DESC LIMIT 1").fetchone()
        if head is None:
            raise AuditError("the chain is empty: there is nothing to anchor yet")
        sequence, link = head[0], bytes(head[1])
        signature = key.sign(anchor_message(sequence, link))
        row = conn.execute(
            f"INSERT INTO {ANCHORS} (sequence, head, signature, public_key) "
            "VALUES (%s, %s, %s, %s) RETURNING id, anchored_at",
            (sequence, link, signature, _public_bytes(key))).fetchone()
    return Anchor(row[0], sequence, link, signature, _public_bytes(key), row[1])


async def latest_anchor(pool: Any) -> dict[str, Any] | None:
    """The newest anchor, for the audit page (asyncpg)."""
    async with pool.acquire() as conn:
        if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", ANCHORS):
            return None
        row = await conn.fetchrow(
            f"SELECT id, sequence, head, signature, public_key, anchored_at FROM {ANCHORS} "
            "ORDER BY id DESC LIMIT 1")
    if row is None:
        return None
    anchor = Anchor(row["id"], row["sequence"], bytes(row["head"]), bytes(row["signature"]),
                    bytes(row["public_key"]), row["anchored_at"])
    return {**anchor.as_json(), "anchored_at": anchor.anchored_at,
            "message": anchor_message(anchor.sequence, anchor.head).decode("ascii")}


async def chain_head(pool: Any) -> dict[str, Any] | None:
    async with pool.acquire() as conn:
        if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", CHAIN):
            return None
        row = await conn.fetchrow(
            f"SELECT sequence, link FROM {CHAIN} ORDER BY sequence DESC LIMIT 1")
    return None if row is None else {"sequence": row["sequence"], "head": bytes(row["link"]).hex()}


# --- verification ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One link of the chain and what it should cover. `event` is None when the event itself
    is missing; `digest` stands in for an event that an export left out."""

    sequence: int
    link: bytes
    notification_id: int | None = None
    originator_id: uuid.UUID | None = None
    originator_version: int | None = None
    event: tuple[uuid.UUID, int, str | None, bytes | None] | None = None
    digest: bytes | None = None


@dataclass
class Problem:
    sequence: int | None
    message: str

    def __str__(self) -> str:
        where = f"sequence {self.sequence}" if self.sequence is not None else "outside the chain"
        return f"{where}: {self.message}"


@dataclass
class Report:
    events: int = 0
    head_sequence: int = 0
    head: bytes = GENESIS
    anchors: int = 0
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def first(self) -> Problem:
        def order(p: Problem) -> tuple[int, int]:
            return (0, p.sequence) if p.sequence is not None else (1, 0)
        return min(self.problems, key=order)


def check_chain(entries: Iterable[Entry], anchors: list[Anchor],
                trusted_key: bytes | None = None) -> Report:
    """Recompute every link in order, check the sequence is dense, then check the anchors."""
    report = Report()
    wanted = {a.sequence for a in anchors}
    links_at: dict[int, bytes] = {}
    previous, expected = GENESIS, 1
    for entry in entries:
        if entry.sequence != expected:
            if entry.sequence > expected:
                report.problems.append(Problem(expected, (
                    f"the chain jumps from {expected - 1} to {entry.sequence}: links "
                    f"{expected}..{entry.sequence - 1} are missing")))
            else:
                report.problems.append(Problem(entry.sequence, "this sequence number repeats"))
        if entry.event is not None:
            originator_id, version, topic, state = entry.event
            digest = event_digest(originator_id, version, topic, state)
            if entry.originator_id is not None and (
                    entry.originator_id, entry.originator_version) != (originator_id, version):
                report.problems.append(Problem(entry.sequence, (
                    f"the link was made for {entry.originator_id} version "
                    f"{entry.originator_version}, but notification #{entry.notification_id} "
                    f"now holds {originator_id} version {version}")))
            report.events += 1
        elif entry.digest is not None:
            digest = entry.digest
            report.events += 1
        else:
            report.problems.append(Problem(entry.sequence, (
                f"its event ({entry.originator_id} version {entry.originator_version}, "
                f"notification #{entry.notification_id}) is missing: it was deleted")))
            digest = None
        if digest is not None and next_link(previous, entry.sequence, digest) != entry.link:
            what = (f"the stored event ({entry.originator_id} version "
                    f"{entry.originator_version})" if entry.originator_id else "the event")
            report.problems.append(Problem(entry.sequence, (
                f"{what} does not match its link: the event or the link was changed after "
                "it was stored")))
        if entry.sequence in wanted:
            links_at[entry.sequence] = entry.link
        previous, expected = entry.link, entry.sequence + 1
        report.head_sequence, report.head = entry.sequence, entry.link
    for anchor in anchors:
        report.anchors += 1
        label = f"anchor #{anchor.id}"
        if trusted_key is not None and anchor.public_key != trusted_key:
            report.problems.append(Problem(anchor.sequence, (
                f"{label} was signed by key {anchor.public_key.hex()[:16]}…, not by the "
                f"trusted key {trusted_key.hex()[:16]}…")))
        elif not signature_valid(anchor.public_key, anchor.signature, anchor.sequence,
                                 anchor.head):
            report.problems.append(Problem(anchor.sequence, (
                f"{label}: the signature does not match its sequence and head")))
        if anchor.sequence > report.head_sequence:
            report.problems.append(Problem(report.head_sequence + 1, (
                f"{label} signed sequence {anchor.sequence}, but the chain ends at "
                f"{report.head_sequence}: events after it were removed (truncated)")))
        elif anchor.sequence in links_at and links_at[anchor.sequence] != anchor.head:
            report.problems.append(Problem(anchor.sequence, (
                f"{label}: the chain's link here differs from the signed head "
                f"{anchor.head.hex()}: the history up to it was rewritten")))
    if anchors and trusted_key is None:
        report.notes.append("anchors were checked against the public keys stored with them; "
                            "set CQI_SIGNING_KEY_FILE or pass --public-key to pin the key")
    return report


def verify_database(conn: Any, trusted_key: bytes | None = None) -> Report:
    """Check the chain in the database (psycopg connection; reads only)."""
    present = conn.execute("SELECT to_regclass(%s) IS NOT NULL, to_regclass(%s) IS NOT NULL",
                           (CHAIN, ANCHORS)).fetchone()
    if not present[0] or not present[1]:
        raise AuditError("this database has no audit chain yet (it is created when the app "
                         "first opens the store)")
    with _snapshot(conn):  # the anchors, the links and the events as of one moment
        anchors = _anchors(conn)
        with conn.cursor(name="cqi_audit_verify") as cursor:
            cursor.itersize = 2000
            cursor.execute(
                f"SELECT c.sequence, c.link, c.notification_id, c.originator_id, "
                f"c.originator_version, e.originator_id, e.originator_version, e.topic, "
                f"e.state FROM {CHAIN} c LEFT JOIN {EVENTS} e "
                "ON e.notification_id = c.notification_id ORDER BY c.sequence")
            report = check_chain(_database_entries(cursor), anchors, trusted_key)
        unlinked = conn.execute(
            f"SELECT e.notification_id, e.originator_id, e.originator_version FROM {EVENTS} e "
            f"WHERE NOT EXISTS (SELECT 1 FROM {CHAIN} c WHERE c.notification_id = "
            "e.notification_id) ORDER BY e.notification_id").fetchall()
    for notification_id, originator_id, version in unlinked[:20]:
        report.problems.append(Problem(None, (
            f"the event at notification #{notification_id} ({originator_id} version {version}) "
            "has no link: it was written around the chain")))
    if len(unlinked) > 20:
        report.problems.append(Problem(None, f"{len(unlinked) - 20} more events have no link"))
    return report


@contextlib.contextmanager
def _snapshot(conn: Any) -> Iterator[None]:
    """One read-only REPEATABLE READ transaction: an anchor or an event stored while we read
    is either wholly seen or not at all."""
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield


def _anchors(conn: Any) -> list[Anchor]:
    return [Anchor(row[0], row[1], bytes(row[2]), bytes(row[3]), bytes(row[4]), row[5])
            for row in conn.execute(
                f"SELECT id, sequence, head, signature, public_key, anchored_at FROM {ANCHORS} "
                "ORDER BY id").fetchall()]


def _database_entries(rows: Iterable[tuple[Any, ...]]) -> Iterator[Entry]:
    for (sequence, link, notification_id, linked_id, linked_version, originator_id, version,
         topic, state) in rows:
        event = None if originator_id is None else (
            originator_id, version, topic, None if state is None else bytes(state))
        yield Entry(sequence, bytes(link), notification_id, linked_id, linked_version, event)


# --- export -------------------------------------------------------------------------------


def export(conn: Any, out: IO[str], initiative: uuid.UUID | None = None) -> int:
    """Write the chain as NDJSON: a header, one line per link (the whole event, or only its
    digest when it belongs to another initiative), the anchors and a closing line.
    Returns how many events were written in full."""
    present = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (CHAIN,)).fetchone()
    if not present[0]:
        raise AuditError("this database has no audit chain yet")
    _line(out, {"kind": "header", "format": EXPORT_FORMAT,
                "initiative": str(initiative) if initiative else None,
                "hash_layout": "see service/audit.py: link = sha256(previous ‖ int64 sequence ‖ "
                               "event digest)"})
    full = 0
    last = (0, GENESIS)
    with _snapshot(conn), conn.cursor(name="cqi_audit_export") as cursor:
        cursor.itersize = 2000
        cursor.execute(
            f"SELECT c.sequence, c.link, c.notification_id, c.originator_id, "
            f"c.originator_version, e.originator_id, e.originator_version, e.topic, e.state "
            f"FROM {CHAIN} c LEFT JOIN {EVENTS} e ON e.notification_id = c.notification_id "
            "ORDER BY c.sequence")
        for (sequence, link, notification_id, linked_id, linked_version, originator_id,
             version, topic, state) in cursor:
            line: dict[str, Any] = {"sequence": sequence, "link": bytes(link).hex(),
                                    "notification_id": notification_id}
            if originator_id is None:
                line.update(kind="missing", originator_id=str(linked_id),
                            originator_version=linked_version)
            elif initiative is None or originator_id == initiative:
                line.update(kind="event", originator_id=str(originator_id),
                            originator_version=version, topic=topic,
                            **_state_fields(None if state is None else bytes(state)))
                full += 1
            else:
                line.update(kind="digest", digest=event_digest(
                    originator_id, version, topic,
                    None if state is None else bytes(state)).hex())
            _line(out, line)
            last = (sequence, bytes(link))
        anchors = _anchors(conn)
    for anchor in anchors:
        _line(out, anchor.as_json())
    _line(out, {"kind": "end", "sequence": last[0], "head": last[1].hex()})
    return full


def _state_fields(state: bytes | None) -> dict[str, Any]:
    if state is None:
        return {"state": None}
    try:
        return {"state": state.decode("utf-8")}  # readable; re-encodes to the same bytes
    except UnicodeDecodeError:
        return {"state_base64": base64.b64encode(state).decode("ascii")}


def _line(out: IO[str], record: dict[str, Any]) -> None:
    out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")


def verify_file(path: Path, trusted_key: bytes | None = None) -> Report:
    """Check an export without the database."""
    anchors: list[Anchor] = []
    entries: list[Entry] = []
    ended: dict[str, Any] | None = None
    problems: list[Problem] = []
    try:
        # Lines end with "\n" only: stored text may hold U+2028 and the like, which
        # str.splitlines() would also break on.
        lines = path.read_text(encoding="utf-8").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
    except (OSError, UnicodeDecodeError) as error:
        raise AuditError(f"cannot read {path}: {error}") from None
    if not lines:
        raise AuditError(f"{path} is empty")
    for number, text in enumerate(lines, start=1):
        record: Any = None
        try:
            record = json.loads(text)
            kind = record["kind"]
            if number == 1:
                if kind != "header" or record.get("format") != EXPORT_FORMAT:
                    raise AuditError(f"{path} is not a CQI audit export ({EXPORT_FORMAT})")
                continue
            if ended is not None:
                problems.append(Problem(None, f"line {number} follows the closing line"))
                break
            if kind == "anchor":
                anchors.append(Anchor(int(record["id"]), int(record["sequence"]),
                                      bytes.fromhex(record["head"]),
                                      bytes.fromhex(record["signature"]),
                                      bytes.fromhex(record["public_key"]),
                                      record.get("anchored_at")))
            elif kind == "end":
                ended = record
            else:
                entries.append(_file_entry(record))
        except AuditError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            sequence = record.get("sequence") if isinstance(record, dict) else None
            problems.append(Problem(sequence if isinstance(sequence, int) else None,
                                    f"line {number} cannot be read: {error!r}"))
            break
    report = check_chain(entries, anchors, trusted_key)
    report.problems.extend(problems)
    if ended is None:
        report.problems.append(Problem(report.head_sequence + 1,
                                       "the file ends without its closing line: truncated"))
    elif (ended.get("sequence"), ended.get("head")) != (report.head_sequence,
                                                         report.head.hex()):
        report.problems.append(Problem(report.head_sequence + 1, (
            f"the closing line names sequence {ended.get('sequence')}, but the links end at "
            f"{report.head_sequence}: lines are missing")))
    return report


def _file_entry(record: dict[str, Any]) -> Entry:
    sequence, link = int(record["sequence"]), bytes.fromhex(record["link"])
    notification_id = record.get("notification_id")
    kind = record["kind"]
    if kind == "digest":
        return Entry(sequence, link, notification_id, digest=bytes.fromhex(record["digest"]))
    if kind == "missing":
        return Entry(sequence, link, notification_id, uuid.UUID(record["originator_id"]),
                     int(record["originator_version"]))
    if kind != "event":
        raise ValueError(f"unknown kind {kind!r}")
    originator_id = uuid.UUID(record["originator_id"])
    version = int(record["originator_version"])
    if "state_base64" in record:
        state: bytes | None = base64.b64decode(record["state_base64"], validate=True)
    else:
        state = None if record["state"] is None else str(record["state"]).encode("utf-8")
    topic = record["topic"]
    return Entry(sequence, link, notification_id, originator_id, version,
                 (originator_id, version, None if topic is None else str(topic), state))


@contextlib.contextmanager
def connected(database_url: str) -> Iterator[Any]:
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn
