"""Accounts: leaders create them, change roles and deactivate them."""

from __future__ import annotations

import re

from tests.integration.pages_support import Browser, field_error, people

__all__ = ["people"]  # the fixture


async def test_a_leader_creates_an_account_that_can_sign_in(people, client):
    leader = await people.browser("lee", "leader")
    html = await leader.get("/accounts")
    assert "lee" in html and "(you)" in html
    response = await leader.submit("/accounts", {"login": "maria.delgado",
                                                 "display_name": "Maria Delgado",
                                                 "role": "member",
                                                 "password": "a long enough one"})
    html = await leader.follow(response)
    assert "The account is created" in html and "Maria Delgado" in html
    maria = Browser(client)
    await maria.sign_in("maria.delgado", "a long enough one")
    assert "Open an initiative" in await maria.get("/initiatives")


async def test_a_short_password_is_refused_with_the_other_problems_and_nothing_stored(people):
    leader = await people.browser("lee", "leader")
    await leader.get("/accounts")
    await leader.submit("/accounts", {"login": "Maria Delgado", "display_name": "Maria",
                                      "password": "short"}, status=400)
    assert field_error(leader.html, "create-password") == (
        "Error: use at least 10 characters")
    assert field_error(leader.html, "create-login").startswith("Error: use 2 to 40 lower-case")
    assert 'value="Maria Delgado"' in leader.html
    assert 'value="short"' not in leader.html  # a password is never sent back
    assert "Maria Delgado" not in await leader.get("/accounts")


async def test_a_login_already_taken_is_sent_back(people, accounts):
    await accounts.add("maria", "member")
    leader = await people.browser("lee", "leader")
    await leader.get("/accounts")
    await leader.submit("/accounts", {"login": "maria", "password": "a long enough one"},
                        status=400)
    assert field_error(leader.html, "create-login") == "Error: maria is already taken"


async def test_a_changed_role_applies_from_the_next_sign_in(people, services):
    leader = await people.browser("lee", "leader")
    maria = await people.browser("maria", "member")
    maria_id = str((await services.call(services.cqi.find_account, "maria")).id)
    await leader.get("/accounts")
    html = await leader.follow(await leader.submit(f"/accounts/{maria_id}/role",
                                                   {"role": "viewer"}))
    assert "The role is changed" in html
    row = re.search(rf'<tr id="a-{maria_id}">.*?</tr>', html, re.S).group(0)
    assert '<option value="viewer" selected>' in row
    response = await maria.client.get("/initiatives")
    assert response.status_code == 303  # signed out: her session held the old role


async def test_a_deactivated_account_is_signed_out_and_cannot_sign_in(people, services):
    leader = await people.browser("lee", "leader")
    maria = await people.browser("maria", "member")
    maria_id = str((await services.call(services.cqi.find_account, "maria")).id)
    await leader.get("/accounts")
    html = await leader.follow(await leader.submit(f"/accounts/{maria_id}/deactivate"))
    assert "deactivated" in html
    assert f"/accounts/{maria_id}/deactivate" not in html
    assert (await maria.client.get("/board")).status_code == 303
    await maria.get("/sign-in")
    await maria.submit("/sign-in", {"login": "maria", "password": people.accounts.PASSWORD},
                       status=400)
    assert "This account is deactivated" in maria.html


async def test_leaders_cannot_lock_themselves_out(people, services):
    leader = await people.browser("lee", "leader")
    html = await leader.get("/accounts")
    lee_id = str((await services.call(services.cqi.find_account, "lee")).id)
    assert f"/accounts/{lee_id}/deactivate" not in html
    token = re.search(r'name="_csrf" value="([^"]+)"', html).group(1)
    response = await leader.client.post(f"/accounts/{lee_id}/deactivate",
                                        data={"_csrf": token})
    assert response.status_code == 409
    assert "You cannot deactivate your own account" in response.text


async def test_only_leaders_see_accounts(people):
    member = await people.browser("maria", "member")
    html = await member.get("/board")
    assert 'href="/accounts"' not in html
    await member.get("/accounts", status=403)
    token = re.search(r'name="_csrf" value="([^"]+)"', html).group(1)
    response = await member.client.post("/accounts", data={
        "_csrf": token, "login": "sneaky", "role": "leader", "password": "a long enough one"})
    assert response.status_code == 403
