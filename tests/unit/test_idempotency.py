"""Idempotency keys: which keys are usable, what a repeat must match, and how a receipt is kept."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from eventsourcing.persistence import StoredEvent
from litestar.exceptions import ValidationException

from service.app import create_app
from service.idempotency import (
    HEADER,
    RequestKey,
    checked_key,
    fingerprint,
    key_problem,
    new_key,
    receipt_fields,
    receipt_kwargs,
)
from service.settings import Settings


@pytest.mark.parametrize("key", ["a", "x" * 200, "7f9c1e2a-0b1d-4c57-9e8a-2f1b3c4d5e6f",
                                 "order 12 / retry ~!@#$%^&*()"])
def test_keys_of_1_to_200_printable_ascii_characters_are_usable(key):
    assert key_problem(key) is None
    assert checked_key(key) == key


@pytest.mark.parametrize(("key", "why"), [
    ("", "must not be empty"),
    ("x" * 201, "at most 200 characters (it has 201)"),
    ("caf\u00e9", "printable ASCII"),
    ("tab\there", "printable ASCII"),
    ("line\nbreak", "printable ASCII"),
])
def test_other_keys_are_refused_with_a_message_naming_the_header(key, why):
    assert why in (key_problem(key) or "")
    with pytest.raises(ValidationException) as refused:
        checked_key(key)
    assert HEADER in refused.value.detail
    assert HEADER in refused.value.extra


def test_the_fingerprint_changes_with_the_method_the_path_or_the_body():
    base = fingerprint("POST", "/api/v1/initiatives", b'{"title": "A"}')
    assert base == fingerprint("post", "/api/v1/initiatives", b'{"title": "A"}')
    assert base != fingerprint("PUT", "/api/v1/initiatives", b'{"title": "A"}')
    assert base != fingerprint("POST", "/api/v1/revisits", b'{"title": "A"}')
    assert base != fingerprint("POST", "/api/v1/initiatives", b'{"title": "B"}')


def test_the_fingerprint_cannot_be_matched_by_moving_bytes_between_path_and_body():
    assert fingerprint("POST", "/a", b"b/c") != fingerprint("POST", "/ab", b"/c")


def test_a_body_read_in_chunks_has_the_fingerprint_of_the_whole_body():
    request = RequestKey("POST", "/api/v1/initiatives", scope={})
    for chunk in (b'{"title": ', b'"Families', b' at the table"}'):
        request.take_body(chunk)
    assert request.fingerprint() == fingerprint(
        "POST", "/api/v1/initiatives", b'{"title": "Families at the table"}')


def test_a_request_key_belongs_to_the_signed_in_account_or_to_nobody():
    class Someone:
        account_id = "acct-1"

    assert RequestKey("POST", "/", scope={"user": Someone()}).principal() == "acct-1"
    assert RequestKey("POST", "/", scope={"user": None}).principal() == ""


def test_each_new_form_key_is_fresh_and_usable():
    keys = {new_key() for _ in range(50)}
    assert len(keys) == 50
    assert all(key_problem(key) is None for key in keys)


def stored(originator: uuid.UUID, version: int, topic: str) -> StoredEvent:
    return StoredEvent(originator_id=originator, originator_version=version, topic=topic,
                       state=b"{}")


def test_a_receipt_is_rebuilt_from_the_stored_events_and_the_commands_detail():
    revisit, next_revisit = uuid.uuid4(), uuid.uuid4()
    detail = {"next_due": date(2027, 3, 1), "at": datetime(2026, 3, 1, 9, tzinfo=UTC),
              "id": next_revisit, "amount": Decimal("1.50"), "list": [1, "two", None]}
    fields = receipt_fields(
        [stored(revisit, 4, "domain.revisit:Revisit.Completed"),
         stored(next_revisit, 1, "domain.revisit:Revisit.Scheduled")],
        [41, 42], detail)
    assert receipt_kwargs(fields) == {
        "id": revisit, "version": 4, "notification_id": 42,
        "topics": ("domain.revisit:Revisit.Completed", "domain.revisit:Revisit.Scheduled"),
        "detail": detail, "also_saved": (next_revisit,),
    }


def test_a_detail_the_key_cannot_keep_is_refused_rather_than_kept_wrong():
    with pytest.raises(TypeError):
        receipt_fields([stored(uuid.uuid4(), 1, "t")], [1], object())


def test_the_openapi_document_offers_the_key_on_every_api_write_and_on_no_read():
    app = create_app(Settings(database_url="postgresql://nobody@localhost/none",
                              secret_key="a-secret-key-for-this-test"))
    paths = app.openapi_schema.to_schema()["paths"]
    writes = reads = 0
    for operations in paths.values():
        for method, operation in operations.items():
            named = [p["name"] for p in operation.get("parameters", [])]
            if method in ("post", "put", "patch", "delete"):
                writes += 1
                assert HEADER in named and "422" in operation["responses"], operation
            elif method == "get":
                reads += 1
                assert HEADER not in named, operation
    assert writes and reads


def test_a_write_with_its_own_operation_class_keeps_what_it_documents():
    app = create_app(Settings(database_url="postgresql://nobody@localhost/none",
                              secret_key="a-secret-key-for-this-test"))
    upload = app.openapi_schema.to_schema()["paths"]["/api/v1/measures/{measure_id}/import"]
    assert list(upload["post"]["requestBody"]["content"]) == ["text/csv"]
    assert HEADER in [p["name"] for p in upload["post"]["parameters"]]
