"""The read cache (service/read_cache.py) behind the board page and bearer tokens: it is used,
and it never answers with what an acknowledged write has changed — a revoked token, a changed
role, a new initiative — whichever process wrote it; nor across a change of day, a rebuild of
the views, or while where the database stands cannot be read."""

from __future__ import annotations

import asyncio
import datetime
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import psycopg
import pytest
from litestar import Litestar

from service import read_cache
from service.app import create_app
from service.projection_runner import ProjectionRunner
from service.read_cache import ReadCache
from service.services import Services
from service.settings import Settings


@pytest.fixture
def app(services: Services) -> Litestar:
    built = create_app(services.settings, services=services)
    built.state.services = services
    return built


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """As the shared fixture, with the app at hand (its read cache)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver.local") as c:
        yield c


@pytest.fixture
def cache(app: Litestar) -> ReadCache:
    return app.state.read_cache


@pytest.fixture
async def elsewhere(settings: Settings, clock) -> AsyncIterator[Services]:
    """Another process's services on the same database: its own application, pools and
    projection runner (which follows the first one's)."""
    other = await Services.start(settings, clock)
    yield other
    await other.stop()


async def board(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    response = await client.get("/board", headers=headers)
    assert response.status_code == 200, response.text
    return response.text


async def warm(client: httpx.AsyncClient, cache: ReadCache, headers: dict[str, str]) -> None:
    """Until a board request is answered from the cache alone (the token and the page): the
    views may still be taking in the agency's last events when a test starts."""
    for _ in range(50):
        hits = cache.hits
        await board(client, headers)
        if cache.hits == hits + 2:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the board never came from the cache")


def token_id(headers: dict[str, str]) -> tuple[uuid.UUID, str]:
    account_hex, token, _ = headers["Authorization"][7:].split(".", 2)
    return uuid.UUID(account_hex), token


async def test_the_board_and_the_token_come_from_the_cache_while_nothing_changes(
        agency, client, cache):
    await agency.initiative(title="Kinship placements first")
    first = await board(client, agency.member)
    hits = cache.hits
    again = await board(client, agency.member)
    assert cache.hits == hits + 2  # who holds the token, and the board's body
    assert again == first.replace(csrf(first), csrf(again))
    assert "Kinship placements first" in again


def csrf(page: str) -> str:
    return page.split('"X-CSRF-Token": "', 1)[1].split('"', 1)[0]


async def test_two_roles_share_the_board_body_but_not_the_layout(agency, client, cache):
    await agency.initiative(title="Family time within a week")
    member = await board(client, agency.member)
    hits = cache.hits
    viewer = await board(client, agency.viewer)
    assert cache.hits == hits + 1  # the body; the viewer's token was not cached yet
    for page, name, role in ((member, "Member", "member"), (viewer, "Viewer", "viewer")):
        assert "Family time within a week" in page
        assert f'<span title="role: {role}">{name} <span class="role">{role}</span>' in page
    assert "Open an initiative" in member and "Open an initiative" not in viewer
    fragment = await client.get("/board", headers={**agency.viewer, "HX-Request": "true"})
    assert fragment.status_code == 200 and fragment.headers["vary"] == "HX-Request"
    assert "Family time within a week" in fragment.text and "<html" not in fragment.text


async def test_a_page_from_the_cache_carries_its_own_requests_csrf_token(
        agency, client, services, cache):
    from service.security import CSRF_COOKIE, cookie_name, csrf_token

    name = cookie_name(CSRF_COOKIE, services.settings.secure_cookies)
    await warm(client, cache, agency.viewer)
    for browser in ("first-browsers-cookie", "second-browsers-cookie"):
        client.cookies.clear()
        hits = cache.hits
        page = await board(client, {**agency.viewer, "Cookie": f"{name}={browser}"})
        assert cache.hits == hits + 2
        token = csrf_token(services.settings.secret_key, browser, None)
        assert csrf(page) == token and page.count(token) == 2  # htmx header, sign-out form


async def test_a_revoked_token_is_refused_at_once_in_the_same_process(agency, client, services):
    await board(client, agency.member)
    await board(client, agency.member)  # now cached
    account, token = token_id(agency.member)
    await services.command(services.cqi.revoke_token, account, actor=agency.ids["leader"],
                           token_id=token)
    assert (await client.get("/api/v1/board", headers=agency.member)).status_code == 401
    refused = await client.get("/board", headers=agency.member)
    assert refused.status_code == 303 and refused.headers["location"].startswith("/sign-in")


async def test_a_token_revoked_by_another_process_is_refused_as_soon_as_it_acknowledges(
        agency, client, elsewhere):
    await board(client, agency.member)
    await board(client, agency.member)
    account, token = token_id(agency.member)
    # Acknowledged there (committed, its views caught up); nothing told this process.
    await elsewhere.command(elsewhere.cqi.revoke_token, account, actor=agency.ids["leader"],
                            token_id=token)
    assert (await client.get("/api/v1/board", headers=agency.member)).status_code == 401


async def test_a_role_changed_by_another_process_counts_at_once(agency, client, elsewhere):
    assert (await client.get("/accounts", headers=agency.leader)).status_code == 200
    assert (await client.get("/accounts", headers=agency.leader)).status_code == 200
    await elsewhere.command(elsewhere.cqi.change_role, uuid.UUID(agency.ids["leader"]),
                            actor=agency.ids["leader"], role="member")
    assert (await client.get("/accounts", headers=agency.leader)).status_code == 403
    page = await board(client, agency.leader)
    assert '<span class="role">member</span>' in page and 'href="/accounts"' not in page


async def test_an_initiative_opened_by_another_process_is_on_the_next_board(
        agency, client, elsewhere, cache):
    value = await agency.default_value()
    await board(client, agency.viewer)
    await board(client, agency.viewer)
    await elsewhere.command(elsewhere.cqi.open_initiative, actor=agency.ids["member"],
                            title="Opened elsewhere", problem="p", aim="a", value_ids=[value])
    assert "Opened elsewhere" in await board(client, agency.viewer)
    hits = cache.hits
    assert "Opened elsewhere" in await board(client, agency.viewer)
    assert cache.hits == hits + 2


async def test_overdue_is_decided_against_today_even_with_nothing_written(
        agency, client, clock, cache):
    await agency.revisit(subject="vision", due_on="2026-03-01")
    clock.set(datetime.datetime(2026, 2, 28, 12, tzinfo=datetime.UTC))
    await board(client, agency.viewer)
    assert "every scheduled revisit" in await board(client, agency.viewer)
    clock.set(datetime.datetime(2026, 3, 3, 12, tzinfo=datetime.UTC))
    page = await board(client, agency.viewer)
    assert "2 days overdue" in page and "every scheduled revisit" not in page


async def test_nothing_is_served_from_the_cache_while_the_standing_cannot_be_read(
        agency, client, elsewhere, cache, monkeypatch):
    value = await agency.default_value()
    await board(client, agency.viewer)
    await board(client, agency.viewer)
    # The fence's query fails (as it does with the database away or a view's table missing).
    real = read_cache.standing_query
    monkeypatch.setattr(read_cache, "standing_query",
                        lambda *args: ("SELECT * FROM no_such_table", ()))
    hits, failures = cache.hits, cache.fence_failures
    await elsewhere.command(elsewhere.cqi.open_initiative, actor=agency.ids["member"],
                            title="Written while the cache was off", problem="p", aim="a",
                            value_ids=[value])
    assert "Written while the cache was off" in await board(client, agency.viewer)
    assert (cache.hits, cache.fence_failures) == (hits, failures + 1)
    monkeypatch.setattr(read_cache, "standing_query", real)
    await board(client, agency.viewer)
    hits = cache.hits
    assert "Written while the cache was off" in await board(client, agency.viewer)
    assert cache.hits == hits + 2  # back


async def test_connections_cut_under_the_cache_never_give_a_stale_board(
        agency, client, services, elsewhere, cache):
    value = await agency.default_value()
    await board(client, agency.viewer)
    await board(client, agency.viewer)
    async with services.pool.acquire() as conn:
        own = conn.get_server_pid()
    with psycopg.connect(services.settings.database_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                      " WHERE datname = current_database() AND pid <> pg_backend_pid()")
        for _ in range(100):  # the backends end a moment after they are told to
            if own not in [row[0] for row in admin.execute("SELECT pid FROM pg_stat_activity")]:
                break
            time.sleep(0.02)
        else:
            raise AssertionError("the app's connection outlived pg_terminate_backend")
    await elsewhere.command(elsewhere.cqi.open_initiative, actor=agency.ids["member"],
                            title="Written after the cut", problem="p", aim="a",
                            value_ids=[value])
    for _ in range(10):  # a request on a cut connection answers 503; none answers stale
        response = await client.get("/board", headers=agency.viewer)
        if response.status_code == 200:
            break
        assert response.status_code == 503, response.text
    assert response.status_code == 200 and "Written after the cut" in response.text
    await board(client, agency.viewer)
    hits = cache.hits
    assert "Written after the cut" in await board(client, agency.viewer)
    assert cache.hits == hits + 2


async def test_rebuilt_views_are_read_not_the_body_cached_from_the_dropped_ones(
        agency, client, services, settings):
    await agency.initiative(title="Before the rebuild")
    await board(client, agency.viewer)
    assert "Before the rebuild" in await board(client, agency.viewer)
    await services.call(services.runner.stop)
    rebuild = ProjectionRunner(services.cqi)
    await services.call(rebuild.drop_tables)
    await services.call(rebuild.create_tables)
    await services.call(rebuild.catch_up)
    # Rebuilt to the same position; a new release's projection may well write other rows.
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute("UPDATE cycle_board_v1 SET title = 'As the new release shows it'")
    page = await board(client, agency.viewer)
    assert "As the new release shows it" in page and "Before the rebuild" not in page


async def test_one_fence_query_serves_every_request_that_arrived_before_it_was_sent(
        services):
    cache = ReadCache()
    app, dsn = services.cqi, services.settings.database_url
    standings = await asyncio.gather(*(
        cache.standing(dsn, f"{app.name}_events", app.name) for _ in range(20)))
    assert cache.fences == 1 and len(set(standings)) == 1
    assert standings[0].events == (app.recorder.max_notification_id() or 0)
    assert standings[0].views is not None
    # A request arriving while a fence query is out waits for the next one.
    first = asyncio.ensure_future(cache.standing(dsn, f"{app.name}_events", app.name))
    await asyncio.sleep(0)
    while cache._next is not None:  # until its round's query is on its way
        await asyncio.sleep(0)
    second = asyncio.ensure_future(cache.standing(dsn, f"{app.name}_events", app.name))
    await asyncio.gather(first, second)
    assert cache.fences == 3
    await cache.close()


def test_role_guards_run_on_the_event_loop_and_templates_are_not_restated(app):
    """Litestar runs a plain-function guard in a worker thread (a hop for every request);
    templates change only with a release, so no stat() of their files at every render."""
    import inspect

    from service.auth import requires

    assert inspect.iscoroutinefunction(requires("viewer"))
    assert app.template_engine.engine.auto_reload is False


async def test_writes_take_no_fence(agency, client, cache):
    """Under writes the store's head moves with every command: a write's token is checked
    without the cache (no fence round trip that would seldom pay off)."""
    await agency.default_value()
    fences = cache.fences
    await agency.initiative(title="Written without a fence")
    assert cache.fences == fences


async def test_a_started_app_puts_what_it_built_out_of_the_collectors_sight(settings):
    import gc

    app = create_app(settings)
    before = gc.get_freeze_count()
    async with app.lifespan():
        assert gc.get_freeze_count() > before
    gc.unfreeze()
