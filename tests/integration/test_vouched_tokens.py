"""API writes on a remembered token holder (service/vouch.py): no token query of their own, and
never stored or answered on a token the database no longer honours."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from service import auth
from tests.integration.conftest import charter_body


@pytest.fixture
def token_queries(monkeypatch) -> list[Any]:
    """Every read of the tokens view, by account id."""
    seen: list[Any] = []
    real = auth.token_holder

    async def counted(conn, account_id, *args):
        seen.append(account_id)
        return await real(conn, account_id, *args)

    monkeypatch.setattr(auth, "token_holder", counted)
    return seen


def token_parts(headers: dict[str, str]) -> tuple[uuid.UUID, str]:
    account_hex, token_id, _ = headers["Authorization"][7:].split(".", 2)
    return uuid.UUID(account_hex), token_id


async def revise(agency, iid: str, headers: dict[str, str], title: str):
    return await agency.client.put(f"/api/v1/initiatives/{iid}", headers=headers,
                                   json=charter_body([await agency.default_value()], title=title))


async def test_a_remembered_token_writes_without_a_token_query(agency, token_queries):
    iid = await agency.initiative()
    token_queries.clear()
    for k in range(3):
        assert (await revise(agency, iid, agency.member, f"Revision {k}")).status_code == 200
    member = token_parts(agency.member)[0]
    assert token_queries.count(member) == 0, "the token was remembered from the first write"
    titles = [e["data"].get("title") for e in await agency.history(iid)]
    assert titles[-3:] == ["Revision 0", "Revision 1", "Revision 2"]


async def test_a_token_revoked_since_it_was_remembered_stores_nothing(agency, services):
    iid = await agency.initiative()
    assert (await revise(agency, iid, agency.member, "Remembered")).status_code == 200
    before = await agency.history(iid)
    account, token_id = token_parts(agency.member)
    await services.call(services.cqi.revoke_token, account, actor=agency.ids["leader"],
                        token_id=token_id)
    refused = await revise(agency, iid, agency.member, "After the revocation")
    assert refused.status_code == 401, refused.text
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert await agency.history(iid) == before
    again = await revise(agency, iid, agency.member, "And again")
    assert again.status_code == 401  # forgotten: read, and refused, as any unknown token


async def test_a_refusal_on_a_revoked_remembered_token_is_401_not_the_refusal(agency, services):
    """A request that stores nothing proves nothing: its answer waits for a fresh check, so a
    revoked token does not learn what exists (here: 404 for an unknown initiative)."""
    iid = await agency.initiative()
    assert (await revise(agency, iid, agency.member, "Remembered")).status_code == 200
    unknown = await revise(agency, str(uuid.uuid4()), agency.member, "No such initiative")
    assert unknown.status_code == 404
    account, token_id = token_parts(agency.member)
    await services.call(services.cqi.revoke_token, account, actor=agency.ids["leader"],
                        token_id=token_id)
    refused = await revise(agency, str(uuid.uuid4()), agency.member, "No such initiative")
    assert refused.status_code == 401, refused.text
    assert refused.json() == {"detail": "This token is no longer valid.", "errors": {}}


async def test_a_holder_demoted_since_is_told_nothing_was_saved_then_refused(agency, services):
    iid = await agency.initiative()
    assert (await revise(agency, iid, agency.member, "Remembered")).status_code == 200
    before = await agency.history(iid)
    await services.call(services.cqi.change_role, uuid.UUID(agency.ids["member"]),
                        actor=agency.ids["leader"], role="viewer")
    changed = await revise(agency, iid, agency.member, "As a member still?")
    assert changed.status_code == 409, changed.text
    assert "nothing was saved" in changed.json()["detail"]
    again = await revise(agency, iid, agency.member, "As a viewer")
    assert again.status_code == 403, again.text
    assert await agency.history(iid) == before


async def test_an_account_moved_on_for_another_reason_still_writes_and_is_remembered_anew(
    agency, services, token_queries
):
    """A second token issued to the same account moves the account on but leaves the first
    token's holder as it was: the write is stored, once, and the next needs no query."""
    iid = await agency.initiative()
    assert (await revise(agency, iid, agency.member, "Remembered")).status_code == 200
    account, _ = token_parts(agency.member)
    await services.call(services.cqi.issue_token, account, actor=agency.ids["leader"],
                        label="second")
    token_queries.clear()
    for title in ("After the second token", "And once more"):
        assert (await revise(agency, iid, agency.member, title)).status_code == 200
    assert token_queries.count(account) == 0
    titles = [e["data"].get("title") for e in await agency.history(iid)]
    assert titles[-3:] == ["Remembered", "After the second token", "And once more"]
