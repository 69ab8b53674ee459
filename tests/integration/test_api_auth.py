"""Who may do what: 401 without valid credentials, 403 for a role too low (and nothing stored).

Roles are cumulative: viewer < auditor < member < leader. A viewer reads the board, the
initiatives' current state, values, mission and revisits; an auditor also reads history and past
states; a member also writes initiatives and cycles; a leader also writes mission, values and
revisits.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.integration.conftest import charter_body, plan_body

RANK = {"viewer": 0, "auditor": 1, "member": 2, "leader": 3}


async def a_living_agency(agency) -> dict[str, str]:
    """A value, an initiative with cycle 1 in Do, and a scheduled revisit."""
    value_id = await agency.default_value()
    iid = await agency.initiative()
    await agency.plan(iid)
    await agency.do(iid, 1)
    rid = await agency.revisit()
    return {"value": value_id, "initiative": iid, "revisit": rid}


def reads(ids: dict[str, str]) -> list[tuple[str, str]]:
    """(path, least role that may read it)."""
    i = ids["initiative"]
    return [
        ("/api/v1/board", "viewer"),
        ("/api/v1/initiatives", "viewer"),
        (f"/api/v1/initiatives/{i}", "viewer"),
        ("/api/v1/values", "viewer"),
        ("/api/v1/mission", "viewer"),
        ("/api/v1/revisits", "viewer"),
        ("/api/v1/revisits?status=overdue", "viewer"),
        (f"/api/v1/initiatives/{i}/history", "auditor"),
        (f"/api/v1/initiatives/{i}?version=1", "auditor"),
        (f"/api/v1/initiatives/{i}?as_of=2100-01-01T00:00:00Z", "auditor"),
    ]


def writes(ids: dict[str, str]) -> list[tuple[str, str, Any, str]]:
    """(method, path, a valid body, least role that may send it), in an order in which each
    succeeds when sent by a role allowed to."""
    i, v, r = ids["initiative"], ids["value"], ids["revisit"]
    return [
        ("PUT", "/api/v1/mission", {"mission": "m", "vision": "v"}, "leader"),
        ("POST", "/api/v1/values", {"name": "Child safety", "description": ""}, "leader"),
        ("PUT", f"/api/v1/values/{v}", {"name": "Renamed", "description": ""}, "leader"),
        ("POST", f"/api/v1/values/{v}/standards", {"text": "See the child alone"}, "leader"),
        ("POST", "/api/v1/revisits",
         {"subject": "vision", "due_on": "2026-05-01", "participants": ["A"]}, "leader"),
        ("POST", f"/api/v1/revisits/{r}/complete", {"outcome": "reaffirmed"}, "leader"),
        ("POST", f"/api/v1/revisits/{r}/reschedule", {"due_on": "2026-06-01", "reason": "r"},
         "leader"),
        ("POST", "/api/v1/initiatives", charter_body([v], title="Second"), "member"),
        ("PUT", f"/api/v1/initiatives/{i}", charter_body([v], title="Renamed"), "member"),
        ("POST", f"/api/v1/initiatives/{i}/team", {"name": "Ana", "kind": "staff",
                                                    "role": "lead"}, "member"),
        ("POST", f"/api/v1/initiatives/{i}/cycles/1/study", {"result": "r", "learning": "l"},
         "member"),
        ("POST", f"/api/v1/initiatives/{i}/cycles/1/act", {"decision": "adopt",
                                                           "rationale": "r"}, "member"),
        ("POST", f"/api/v1/initiatives/{i}/cycles", plan_body(v), "member"),
        ("PUT", f"/api/v1/initiatives/{i}/cycles/2/plan", plan_body(v), "member"),
        ("POST", f"/api/v1/initiatives/{i}/cycles/2/do", {"observations": "o"}, "member"),
        ("POST", f"/api/v1/initiatives/{i}/conclude", {"outcome": "abandoned", "note": "n"},
         "member"),
    ]


async def everything(agency, ids) -> list[Any]:
    """What the views and the store hold, to show that a refused request changed nothing."""
    return [
        (await agency.client.get(path, headers=agency.leader)).json()
        for path, _ in reads(ids) if "as_of" not in path
    ]


async def test_every_route_needs_credentials(agency):
    ids = await a_living_agency(agency)
    before = await everything(agency, ids)
    requests = [("GET", path, None) for path, _ in reads(ids)]
    requests += [(method, path, body) for method, path, body, _ in writes(ids)]
    for method, path, body in requests:
        response = await agency.client.request(method, path, json=body)
        assert response.status_code == 401, f"{method} {path}: {response.status_code}"
        assert set(response.json()) == {"detail", "errors"}
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert await everything(agency, ids) == before


async def test_a_bad_token_is_401(agency):
    for authorization in ["Bearer not-a-token", "Bearer ", "Bearer a.b.c",
                          f"Bearer {uuid.uuid4().hex}.deadbeef.secret",
                          "Basic bGVhZGVyOnBhc3N3b3Jk", "leader"]:
        for method, path, body in [("GET", "/api/v1/board", None),
                                   ("PUT", "/api/v1/mission", {"mission": "m", "vision": "v"})]:
            response = await agency.client.request(method, path, json=body,
                                                   headers={"Authorization": authorization})
            assert response.status_code == 401, f"{authorization} {method} {path}"
    mission = await agency.client.get("/api/v1/mission", headers=agency.viewer)
    assert mission.json()["mission"] == ""


async def test_a_token_with_a_wrong_secret_or_of_a_deactivated_account_is_401(agency, services):
    account_hex, token_id, secret = agency.leader["Authorization"][7:].split(".", 2)
    forged = {"Authorization": f"Bearer {account_hex}.{token_id}.{secret[::-1]}"}
    assert (await agency.client.get("/api/v1/board", headers=forged)).status_code == 401
    assert (await agency.client.get("/api/v1/board", headers=agency.viewer)).status_code == 200
    receipt = await services.call(services.cqi.deactivate_account,
                                  uuid.UUID(agency.ids["viewer"]), actor=agency.ids["leader"])
    assert await services.runner.progress.wait(receipt.notification_id)
    assert (await agency.client.get("/api/v1/board", headers=agency.viewer)).status_code == 401


async def test_a_token_the_views_do_not_know_yet_is_checked_against_its_account(agency,
                                                                                 services):
    """Tokens are checked against the tokens view first; one it lacks (issued by another
    process a moment ago) still works, and a revoked one stops working."""
    import psycopg

    account_hex, token_id, _ = agency.member["Authorization"][7:].split(".", 2)
    with psycopg.connect(services.settings.database_url, autocommit=True) as conn:
        removed = conn.execute("DELETE FROM api_tokens_v1 WHERE account_id = %s AND "
                               "token_id = %s", (uuid.UUID(account_hex), token_id))
        assert removed.rowcount == 1
    assert (await agency.client.get("/api/v1/board", headers=agency.member)).status_code == 200
    receipt = await services.call(services.cqi.revoke_token, uuid.UUID(account_hex),
                                  actor=agency.ids["leader"], token_id=token_id)
    assert await services.runner.progress.wait(receipt.notification_id)
    assert (await agency.client.get("/api/v1/board", headers=agency.member)).status_code == 401
    assert (await agency.client.get("/api/v1/board", headers=agency.leader)).status_code == 200


async def test_each_role_reads_what_it_may_and_is_refused_the_rest(agency):
    ids = await a_living_agency(agency)
    for role in RANK:
        for path, least in reads(ids):
            response = await agency.client.get(path, headers=getattr(agency, role))
            expected = 200 if RANK[role] >= RANK[least] else 403
            assert response.status_code == expected, f"{role} GET {path}: {response.text}"
            if expected == 403:
                assert set(response.json()) == {"detail", "errors"}
                assert response.json()["detail"]


async def test_a_write_above_ones_role_is_403_and_stores_nothing(agency):
    ids = await a_living_agency(agency)
    before = await everything(agency, ids)
    for role in ("viewer", "auditor", "member"):
        refused = [(m, p, b) for m, p, b, least in writes(ids) if RANK[role] < RANK[least]]
        assert refused
        for method, path, body in refused:
            response = await agency.client.request(method, path, json=body,
                                                   headers=getattr(agency, role))
            assert response.status_code == 403, f"{role} {method} {path}: {response.text}"
            assert "needs" in response.json()["detail"]
    assert await everything(agency, ids) == before


@pytest.mark.parametrize("role", ["member", "leader"])
async def test_a_member_or_leader_writes_initiatives_and_cycles(agency, role):
    ids = await a_living_agency(agency)
    headers = getattr(agency, role)
    allowed = [(m, p, b) for m, p, b, least in writes(ids) if least == "member"]
    for method, path, body in allowed:
        response = await agency.client.request(method, path, json=body, headers=headers)
        assert response.status_code in (200, 201), f"{role} {method} {path}: {response.text}"
    history = await agency.history(ids["initiative"])
    assert {e["actor"] for e in history[3:]} == {agency.ids[role]}


async def test_a_leader_writes_the_mission_values_and_revisits(agency):
    ids = await a_living_agency(agency)
    allowed = [(m, p, b) for m, p, b, least in writes(ids) if least == "leader"]
    for method, path, body in allowed:
        if path.endswith("/complete"):
            continue  # completed last: a held revisit cannot be rescheduled
        response = await agency.client.request(method, path, json=body, headers=agency.leader)
        assert response.status_code in (200, 201), f"{method} {path}: {response.text}"
    complete = await agency.client.post(f"/api/v1/revisits/{ids['revisit']}/complete",
                                        json={"outcome": "reaffirmed"}, headers=agency.leader)
    assert complete.status_code == 200, complete.text


async def test_a_token_revoked_or_an_account_demoted_while_the_views_lag_is_refused_at_once(
    agency, services, monkeypatch
):
    """The tokens view speaks only once it has seen the account's latest event: while the views
    are stuck (here a view fails on every event), a revocation or a role change through another
    path takes effect at once, from the account itself."""
    import asyncio

    board = next(p for p in services.runner.projections if p.name.startswith("cycle_board"))

    def broken(curs, domain_event):
        raise RuntimeError("the disk under this view is full")

    monkeypatch.setattr(board, "apply", broken)
    member_hex, member_token, _ = agency.member["Authorization"][7:].split(".", 2)
    await services.call(services.cqi.revoke_token, uuid.UUID(member_hex),
                        actor=agency.ids["leader"], token_id=member_token)
    await services.call(services.cqi.change_role, uuid.UUID(agency.ids["auditor"]),
                        actor=agency.ids["leader"], role="viewer")
    await asyncio.sleep(0.3)  # the runner has tried (and failed) to apply them
    assert services.runner.error is not None
    assert (await agency.client.get("/api/v1/board", headers=agency.member)).status_code == 401
    history = await agency.client.get(f"/api/v1/initiatives/{uuid.uuid4()}/history",
                                      headers=agency.auditor)
    assert history.status_code == 403  # a viewer now, not an auditor


async def test_an_api_client_gets_no_csrf_cookie_and_a_browser_does(agency):
    """A bearer token is the API client's only credential: it is not handed a CSRF cookie it
    has no use for (whether its token is good or not); a request without one (a browser) is."""
    iid = await agency.initiative()
    agency.client.cookies.clear()
    for headers in (agency.viewer, {"Authorization": "Bearer not-a-token"}):
        reply = await agency.client.get(f"/api/v1/initiatives/{iid}", headers=headers)
        assert "set-cookie" not in reply.headers, reply.headers
    written = await agency.client.put(f"/api/v1/initiatives/{iid}", headers=agency.member,
                                      json=charter_body([await agency.default_value()]))
    assert written.status_code == 200, written.text
    assert "set-cookie" not in written.headers
    browser = await agency.client.get("/sign-in")
    assert "csrf" in browser.headers.get("set-cookie", "").lower()
