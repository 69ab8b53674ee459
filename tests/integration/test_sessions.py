"""Sessions: a new id at every sign-in, secure cookie flags, sign-out ends the session on the
server, and a role changed elsewhere (CLI, API) applies to open sessions at once."""

import datetime
import uuid

from tests.integration.pages_support import Browser, form_posting_to


async def signed_in(client, accounts, role: str) -> tuple[Browser, str]:
    login = f"{role}-{uuid.uuid4().hex[:6]}"
    account_id = await accounts.add(login, role)
    browser = Browser(client)
    await browser.sign_in(login, accounts.PASSWORD)
    return browser, account_id


async def test_signing_in_issues_a_new_session_id_with_secure_flags(client, accounts):
    login = "maria"
    await accounts.add(login, "member")
    browser = Browser(client)
    client.cookies.set("__Host-cqi_session", "planted-by-an-attacker", domain="testserver.local")
    await browser.get("/sign-in")
    response = await browser.send(form_posting_to(browser.html, "/sign-in"),
                                  {"login": login, "password": accounts.PASSWORD})
    assert response.status_code == 303
    cookie = next(h for h in response.headers.get_list("set-cookie")
                  if h.startswith("__Host-cqi_session="))
    assert "planted-by-an-attacker" not in cookie
    flags = {part.strip().lower() for part in cookie.split(";")}
    assert {"httponly", "secure", "samesite=lax", "path=/"} <= flags


async def test_signing_out_ends_the_session_on_the_server(client, accounts):
    browser, _ = await signed_in(client, accounts, "viewer")
    session_id = client.cookies.get("__Host-cqi_session")
    await browser.get("/board")
    await browser.submit("/sign-out")
    client.cookies.set("__Host-cqi_session", session_id, domain="testserver.local")  # replayed
    response = await client.get("/board")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/sign-in")


async def test_a_role_changed_elsewhere_applies_to_an_open_session_at_once(
    client, accounts, services
):
    browser, account_id = await signed_in(client, accounts, "leader")
    await browser.get("/accounts")
    await services.command(services.cqi.change_role, uuid.UUID(account_id), actor="test",
                           role="viewer")
    assert (await client.get("/accounts")).status_code == 403
    assert (await client.get("/board")).status_code == 200


async def test_a_deactivated_account_loses_its_open_session(client, accounts, services):
    browser, account_id = await signed_in(client, accounts, "member")
    await browser.get("/board")
    await services.command(services.cqi.deactivate_account, uuid.UUID(account_id),
                           actor="test")
    response = await client.get("/board")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/sign-in")


async def test_a_role_change_or_deactivation_applies_at_once_while_the_views_are_stuck(
    client, accounts, services, monkeypatch
):
    """The accounts view speaks for a session only once it has seen the account's latest event:
    while the views are stuck (here a view fails on every event), the account itself decides."""
    import asyncio

    leader, leader_id = await signed_in(client, accounts, "leader")
    await leader.get("/accounts")
    board = next(p for p in services.runner.projections if p.name.startswith("cycle_board"))

    def broken(curs, events):
        raise RuntimeError("the disk under this view is full")

    monkeypatch.setattr(board, "apply", broken)
    await services.call(services.cqi.change_role, uuid.UUID(leader_id), actor="test",
                        role="viewer")
    await asyncio.sleep(0.3)  # the runner has tried (and failed) to apply it
    assert services.runner.error is not None
    assert (await client.get("/accounts")).status_code == 403  # a viewer now
    assert (await client.get("/board")).status_code == 200
    await services.call(services.cqi.deactivate_account, uuid.UUID(leader_id), actor="test")
    response = await client.get("/board")
    assert response.status_code == 303 and response.headers["location"].startswith("/sign-in")


async def test_a_session_unused_for_the_idle_time_ends_even_if_the_board_kept_refreshing(
    client, accounts, clock
):
    start = datetime.datetime.now(datetime.UTC)
    clock.set(start)
    await signed_in(client, accounts, "viewer")
    for minutes in (10, 20, 29):  # the board refreshing itself in an unattended tab
        clock.set(start + datetime.timedelta(minutes=minutes))
        refreshed = await client.get("/board", headers={"HX-Request": "true",
                                                        "X-Background-Refresh": "1"})
        assert refreshed.status_code == 200
    clock.set(start + datetime.timedelta(minutes=31))
    response = await client.get("/board")
    assert response.status_code == 303  # idle for 31 minutes: signed out
    assert response.headers["location"].startswith("/sign-in")


async def test_a_person_using_the_app_stays_signed_in(client, accounts, clock):
    start = datetime.datetime.now(datetime.UTC)
    clock.set(start)
    await signed_in(client, accounts, "viewer")
    for minutes in (20, 40, 60):
        clock.set(start + datetime.timedelta(minutes=minutes))
        assert (await client.get("/board")).status_code == 200
