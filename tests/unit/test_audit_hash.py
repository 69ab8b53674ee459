"""The chain's hashing and checks, without a database: the layout is fixed and documented, and
every kind of damage is named by the first sequence it touches."""

from __future__ import annotations

import hashlib
import struct
import uuid

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from service.audit import (
    GENESIS,
    Anchor,
    Entry,
    anchor_message,
    check_chain,
    event_digest,
    next_link,
    signature_valid,
)

ID = uuid.UUID("12345678-1234-5678-1234-567812345678")


def chain(states: list[bytes]) -> list[Entry]:
    entries, previous = [], GENESIS
    for sequence, state in enumerate(states, start=1):
        event = (ID, sequence, "domain.initiative:Initiative.Revised", state)
        link = next_link(previous, sequence, event_digest(*event))
        entries.append(Entry(sequence, link, sequence, ID, sequence, event))
        previous = link
    return entries


def changed(entry: Entry, state: bytes) -> Entry:
    assert entry.event is not None
    return Entry(entry.sequence, entry.link, entry.notification_id, entry.originator_id,
                 entry.originator_version, (*entry.event[:3], state))


def signed(sequence: int, head: bytes, key: Ed25519PrivateKey | None = None) -> Anchor:
    key = key or Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(serialization.Encoding.Raw,
                                           serialization.PublicFormat.Raw)
    return Anchor(1, sequence, head, key.sign(anchor_message(sequence, head)), public)


def test_the_event_digest_follows_the_documented_byte_layout():
    expected = hashlib.sha256(
        ID.bytes + struct.pack(">q", 7) + struct.pack(">i", 5) + b"topic"
        + struct.pack(">i", 2) + b"{}").digest()
    assert event_digest(ID, 7, "topic", b"{}") == expected


def test_a_missing_topic_or_state_is_not_the_same_as_an_empty_one():
    assert event_digest(ID, 1, None, b"") != event_digest(ID, 1, "", b"")
    assert event_digest(ID, 1, "t", None) != event_digest(ID, 1, "t", b"")


def test_moving_bytes_between_the_topic_and_the_state_changes_the_digest():
    assert event_digest(ID, 1, "ab", b"c") != event_digest(ID, 1, "a", b"bc")


def test_a_link_covers_the_previous_link_the_sequence_and_the_digest():
    digest = event_digest(ID, 1, "t", b"s")
    assert next_link(GENESIS, 1, digest) == hashlib.sha256(
        GENESIS + struct.pack(">q", 1) + digest).digest()
    assert next_link(GENESIS, 2, digest) != next_link(GENESIS, 1, digest)


def test_an_intact_chain_checks_out_to_its_head():
    entries = chain([b'{"a":1}', b'{"a":2}', b'{"a":3}'])
    report = check_chain(entries, [])
    assert report.ok
    assert (report.events, report.head_sequence, report.head) == (3, 3, entries[-1].link)


def test_a_one_byte_change_is_named_by_its_sequence():
    entries = chain([b'{"a":1}', b'{"a":2}', b'{"a":3}'])
    entries[1] = changed(entries[1], b'{"a":3}')
    report = check_chain(entries, [])
    assert report.first().sequence == 2
    assert "does not match its link" in report.first().message


def test_a_gap_in_the_sequence_is_named_by_the_first_missing_number():
    entries = chain([b"1", b"2", b"3", b"4"])
    report = check_chain([entries[0], entries[3]], [])
    assert report.first().sequence == 2
    assert "links 2..3 are missing" in report.first().message


def test_an_anchor_past_the_end_of_the_chain_reveals_a_truncated_tail():
    entries = chain([b"1", b"2", b"3", b"4"])
    report = check_chain(entries[:2], [signed(4, entries[3].link)])
    assert report.first().sequence == 3
    assert "truncated" in report.first().message


def test_an_anchor_signed_by_another_key_than_the_trusted_one_is_refused():
    entries = chain([b"1"])
    trusted = Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert check_chain(entries, [signed(1, entries[0].link)]).ok
    report = check_chain(entries, [signed(1, entries[0].link)], trusted_key=trusted)
    assert "not by the trusted key" in report.first().message


def test_a_signature_covers_both_the_sequence_and_the_head():
    anchor = signed(5, b"\x01" * 32)
    assert signature_valid(anchor.public_key, anchor.signature, 5, b"\x01" * 32)
    assert not signature_valid(anchor.public_key, anchor.signature, 6, b"\x01" * 32)
    assert not signature_valid(anchor.public_key, anchor.signature, 5, b"\x02" * 32)


def test_an_export_whose_text_holds_unicode_line_separators_still_verifies(tmp_path) -> None:
    """Event state is stored as raw UTF-8: U+2028 or U+0085 inside a title is not a line end."""
    import io
    import json
    import uuid

    from service import audit

    originator = uuid.uuid4()
    state = json.dumps({"title": "Safety\u2028plan \u0085 review"}, ensure_ascii=False).encode()
    topic = "domain.initiative:Initiative.Opened"
    link = audit.next_link(audit.GENESIS, 1, audit.event_digest(originator, 1, topic, state))
    out = io.StringIO()
    audit._line(out, {"kind": "header", "format": audit.EXPORT_FORMAT})
    audit._line(out, {"sequence": 1, "link": link.hex(), "notification_id": 1, "kind": "event",
                      "originator_id": str(originator), "originator_version": 1, "topic": topic,
                      **audit._state_fields(state)})
    audit._line(out, {"kind": "end", "sequence": 1, "head": link.hex()})
    path = tmp_path / "export.ndjson"
    path.write_text(out.getvalue(), encoding="utf-8")
    report = audit.verify_file(path)
    assert report.ok, [str(problem) for problem in report.problems]
