"""Sign-in throttling: failed sign-ins are counted per login name and per client address in
PostgreSQL; too many answer 429 with Retry-After and a plain message, the same whether or not
the account exists; a right password resets the login's count."""

import datetime
import logging

from service.hardening import SignInThrottle, ThrottlePolicy
from tests.integration.pages_support import Browser, form_posting_to

WRONG = "not the password at all"


async def attempt(client, login: str, password: str):
    browser = Browser(client)
    await browser.get("/sign-in")
    return await browser.send(form_posting_to(browser.html, "/sign-in"),
                              {"login": login, "password": password})


async def test_a_login_is_locked_after_five_failures_even_for_the_right_password(
    client, accounts, clock
):
    clock.set(datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC))
    await accounts.add("maria", "member")
    for _ in range(5):
        assert (await attempt(client, "maria", WRONG)).status_code == 400
    refused = await attempt(client, "maria", accounts.PASSWORD)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == str(15 * 60)
    assert "Too many failed sign-ins. Try again in 15 minutes." in refused.text
    clock.set(datetime.datetime(2026, 3, 2, 9, 16, tzinfo=datetime.UTC))
    assert (await attempt(client, "maria", accounts.PASSWORD)).status_code == 303


async def test_an_unknown_login_is_throttled_exactly_like_a_real_one(client, accounts, clock):
    clock.set(datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC))
    await accounts.add("maria", "member")
    answers = {}
    for login in ("maria", "nobody-here"):
        for _ in range(5):
            await attempt(client, login, WRONG)
        refused = await attempt(client, login, WRONG)
        answers[login] = (refused.status_code, refused.headers.get("retry-after"),
                          refused.text.replace(login, "LOGIN"))
    assert answers["maria"][0] == 429
    assert answers["maria"] == answers["nobody-here"]


async def test_a_right_password_resets_the_count_of_its_login(client, accounts, clock):
    clock.set(datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC))
    await accounts.add("maria", "member")
    for _ in range(4):
        await attempt(client, "maria", WRONG)
    assert (await attempt(client, "maria", accounts.PASSWORD)).status_code == 303
    for _ in range(4):
        assert (await attempt(client, "maria", WRONG)).status_code == 400
    assert (await attempt(client, "maria", accounts.PASSWORD)).status_code == 303


async def test_failures_spread_over_more_than_the_window_do_not_lock(client, accounts, clock):
    start = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)
    await accounts.add("maria", "member")
    for minutes in (0, 5, 10, 14, 16):  # the first failure is out of the window at 9:16
        clock.set(start + datetime.timedelta(minutes=minutes))
        assert (await attempt(client, "maria", WRONG)).status_code == 400
    assert (await attempt(client, "maria", accounts.PASSWORD)).status_code == 303


async def test_one_address_guessing_at_many_logins_is_locked_out_of_all(services, clock):
    now = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)
    throttle = SignInThrottle(services.pool, ThrottlePolicy())
    for number in range(20):
        await throttle.failed(f"guess-{number}", "203.0.113.7", now)
    assert await throttle.retry_after("someone-else", "203.0.113.7", now) == 15 * 60
    assert await throttle.retry_after("someone-else", "198.51.100.2", now) == 0
    await throttle.succeeded("someone-else")  # a right password elsewhere frees no address
    assert await throttle.retry_after("guess-1", "203.0.113.7", now) == 15 * 60


async def test_the_counts_are_shared_through_the_database(services, clock):
    """Another app process (its own pool, the same database) sees the same lock."""
    import asyncpg

    now = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)
    for _ in range(5):
        await SignInThrottle(services.pool).failed("maria", "192.0.2.1", now)
    other = await asyncpg.create_pool(services.settings.database_url, min_size=1, max_size=1)
    try:
        assert await SignInThrottle(other).retry_after("maria", "192.0.2.99", now) == 15 * 60
    finally:
        await other.close()


async def test_failed_and_throttled_sign_ins_are_security_events_without_the_password(
    client, accounts, clock, caplog
):
    clock.set(datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC))
    await accounts.add("maria", "member")
    with caplog.at_level(logging.INFO, logger="cqi.security"):
        for _ in range(6):
            await attempt(client, "maria", WRONG)
    lines = [r.getMessage() for r in caplog.records if r.name == "cqi.security"]
    assert sum(line.startswith("event=sign_in_failed login=maria address=") for line in lines) == 5
    assert any(line.startswith("event=sign_in_throttled login=maria") for line in lines)
    assert not any(WRONG in line for line in lines)
