"""Security headers on every response (errors included), allowed hosts, `__Host-` cookies,
HSTS only over TLS, user text that cannot become markup or htmx attributes, denials logged."""

import dataclasses
import logging
from html.parser import HTMLParser

import httpx
import pytest

from service.app import create_app
from service.services import Services
from tests.integration.pages_support import (
    Browser,
    agency_values,
    an_initiative,
    form_posting_to,
)


def assert_hardened(response: httpx.Response) -> None:
    csp = response.headers.get("content-security-policy", "")
    where = f"{response.request.method} {response.request.url.path} -> {response.status_code}"
    assert "script-src 'self'" in csp, where
    assert "style-src 'self'" in csp, where
    assert "frame-ancestors 'none'" in csp, where
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, where
    assert response.headers.get("x-content-type-options") == "nosniff", where
    assert response.headers.get("referrer-policy") == "same-origin", where
    assert response.headers.get("x-frame-options") == "DENY", where


@pytest.fixture
async def viewer(client, accounts):
    await accounts.add("vera", "viewer")
    browser = Browser(client)
    await browser.sign_in("vera", accounts.PASSWORD)
    return browser


async def test_every_kind_of_response_carries_the_security_headers(client, viewer, services):
    app = create_app(services.settings, services=services)
    app.state.services = services
    stranger = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="https://testserver.local")
    responses = [
        await client.get("/board"),  # a page
        await client.get("/api/v1/health"),  # JSON
        await client.get("/static/app.css"),  # a file
        await client.get("/no/such/page"),  # 404 from the router itself
        await client.get("/accounts"),  # 403: a viewer is not a leader
        await client.post("/mission", data={"statement": "x"}),  # 403: no CSRF token
        await stranger.get("/api/v1/initiatives"),  # 401 over the API without a token
        await stranger.get("/board"),  # 303 to the sign-in page
        await client.get("/board", headers={"host": "evil.example"}),  # 400: wrong host
    ]
    await stranger.aclose()
    statuses = [r.status_code for r in responses]
    assert statuses == [200, 200, 200, 404, 403, 403, 401, 303, 400]
    for response in responses:
        assert_hardened(response)
    assert responses[0].headers["cache-control"] == "no-store"  # a signed-in page
    assert "no-store" not in responses[2].headers.get("cache-control", "")  # a public file


async def test_hsts_is_sent_over_https_only(client, services):
    assert client.base_url.scheme == "https"
    assert (await client.get("/sign-in")).headers["strict-transport-security"] \
        == "max-age=31536000"
    app = create_app(services.settings, services=services)
    app.state.services = services
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://testserver.local") as plain:
        answer = await plain.get("/sign-in")
        assert "strict-transport-security" not in answer.headers
        spoofed = await plain.get("/sign-in", headers={"x-forwarded-proto": "https"})
        assert "strict-transport-security" not in spoofed.headers  # no proxy is trusted


async def test_behind_a_trusted_proxy_its_forwarded_scheme_counts(services: Services):
    trusting = dataclasses.replace(services.settings, trust_proxy_headers=True)
    app = create_app(trusting, services=services)
    app.state.services = services
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://testserver.local") as plain:
        answer = await plain.get("/sign-in", headers={"x-forwarded-proto": "https"})
    assert answer.headers["strict-transport-security"] == "max-age=31536000"


async def test_a_host_not_allowed_is_refused_and_an_allowed_one_with_any_port_is_served(
    client,
):
    refused = await client.get("/sign-in", headers={"host": "attacker.example"})
    assert refused.status_code == 400
    assert "CQI_ALLOWED_HOSTS" in refused.text
    assert (await client.get("/sign-in", headers={"host": "testserver.local:8443"})
            ).status_code == 200
    assert (await client.get("/sign-in", headers={"host": "localhost:8000"})).status_code == 200
    assert (await client.get("/sign-in", headers={"host": "127.0.0.1"})).status_code == 200


async def test_the_session_cookie_is_host_prefixed_secure_and_path_wide(client, accounts):
    await accounts.add("maria", "member")
    browser = Browser(client)
    await browser.get("/sign-in")
    response = await browser.send(form_posting_to(browser.html, "/sign-in"),
                                  {"login": "maria", "password": accounts.PASSWORD})
    cookie = next(h for h in response.headers.get_list("set-cookie")
                  if h.startswith("__Host-cqi_session="))
    flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"secure", "httponly", "path", "samesite"} <= flags
    assert "domain" not in flags
    assert "; Path=/" in cookie or "; path=/" in cookie


async def test_the_csrf_cookie_is_host_prefixed_too(services):
    app = create_app(services.settings, services=services)
    app.state.services = services
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="https://testserver.local") as fresh:
        cookie = (await fresh.get("/sign-in")).headers["set-cookie"]
    assert cookie.startswith("__Host-cqi_csrf=") and "Secure" in cookie and "Path=/" in cookie


async def test_without_secure_cookies_plain_http_on_localhost_still_signs_in(
    services, accounts
):
    """CQI_SECURE_COOKIES=false: no `__Host-` prefix (browsers would drop it without Secure)."""
    await accounts.add("maria", "member")
    plain_settings = dataclasses.replace(services.settings, secure_cookies=False)
    original = services.settings
    services.settings = plain_settings
    try:
        app = create_app(plain_settings, services=services)
        app.state.services = services
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://localhost:8000") as plain:
            browser = Browser(plain)
            await browser.sign_in("maria", accounts.PASSWORD)
            assert "cqi_session" in plain.cookies and "__Host-cqi_session" not in plain.cookies
            await browser.get("/board")
    finally:
        services.settings = original


class Attributes(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, str, str | None]] = []

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        self.seen.extend((tag, name, value) for name, value in attrs)


INJECTED = '" hx-get="/x" hx-trigger="load" onmouseover="alert(1)'


async def test_user_text_cannot_become_markup_or_htmx_attributes(client, viewer, services):
    [value_id] = await agency_values(services, f"Voice {INJECTED}")
    initiative_id = await an_initiative(services, value_id,
                                        title=f"Families {INJECTED} <script>alert(2)</script>")
    for path in (f"/initiatives/{initiative_id}", "/initiatives", "/board", "/mission"):
        html = await viewer.get(path)
        parser = Attributes()
        parser.feed(html)
        assert not [a for a in parser.seen if a[2] == "/x" or a[1] == "onmouseover"], path
        assert "<script>alert(2)" not in html, path
        if path != "/mission":
            assert "Families &#34; hx-get=&#34;/x&#34;" in html or \
                "Families &quot; hx-get=&quot;/x&quot;" in html, path


async def test_denied_requests_are_security_events(client, viewer, caplog):
    with caplog.at_level(logging.INFO, logger="cqi.security"):
        await client.get("/accounts")
    lines = [r.getMessage() for r in caplog.records if r.name == "cqi.security"]
    assert any(line.startswith("event=access_denied status=403 method=GET path=/accounts "
                               "login=vera") for line in lines), lines


async def test_a_crash_page_shows_no_secret(client, viewer, services, monkeypatch):
    async def broken(*_args, **_kwargs):
        raise RuntimeError(f"could not reach {services.settings.database_url}")

    monkeypatch.setattr(services, "read", broken)
    response = await client.get("/board")
    assert response.status_code == 500
    assert services.settings.database_url not in response.text
    assert "RuntimeError" not in response.text and "Traceback" not in response.text
    assert_hardened(response)


async def test_account_changes_are_security_events_without_secrets(services, accounts, caplog):
    import uuid

    with caplog.at_level(logging.INFO, logger="cqi.security"):
        account_id = await accounts.add("dana", "member")
        await services.command(services.cqi.change_role, uuid.UUID(account_id), actor="lee",
                               role="leader")
        token = await services.call(services.cqi.issue_token, uuid.UUID(account_id),
                                    actor="lee", label="reports")
        await services.command(services.cqi.deactivate_account, uuid.UUID(account_id),
                               actor="lee")
    lines = [r.getMessage() for r in caplog.records if r.name == "cqi.security"]
    assert lines == [
        f"event=account_registered actor=test account={account_id} login=dana role=member",
        f"event=role_changed actor=lee account={account_id} role=leader",
        f"event=token_issued actor=lee account={account_id} label=reports",
        f"event=account_deactivated actor=lee account={account_id}",
    ]
    assert not any(token.detail in line or "argon2" in line for line in lines)
