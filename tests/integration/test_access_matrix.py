"""Role x route: every route of the app's own route table, asked by every role and by nobody,
is allowed or denied exactly as the one table below says. A route the table does not name fails
the test, so a new route cannot ship without someone deciding who may use it.

Denied means 401 or 403 (or, for a page, a 303 to the sign-in page that comes back); anything
else (200, another 303, 400 for the empty form sent, 404, 409...) means the guards let the
request through.
Pages are asked with a signed-in browser session (and a valid CSRF token), the API with bearer
tokens. Litestar's automatic OPTIONS answers are not routes of ours and are left out.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from service.app import create_app
from service.security import csrf_token
from tests.integration.pages_support import Browser, agency_values, an_initiative

ANONYMOUS = "anonymous"
ROLES = (ANONYMOUS, "viewer", "auditor", "member", "leader")

ANYONE = frozenset(ROLES)
VIEWER = frozenset(("viewer", "auditor", "member", "leader"))
AUDITOR = frozenset(("auditor", "member", "leader"))
MEMBER = frozenset(("member", "leader"))
LEADER = frozenset(("leader",))
LEADER_OR_AUDITOR = frozenset(("leader", "auditor"))

EXPECTED: dict[str, frozenset[str]] = {
    # sign-in and the public face
    "GET /": ANYONE,
    "GET /sign-in": ANYONE,
    "POST /sign-in": ANYONE,
    "POST /sign-out": ANYONE,
    "GET /public": ANYONE,
    "GET /public/initiatives/{initiative_id:str}": ANYONE,
    "GET /public/measures/{measure_id:str}": ANYONE,
    "GET /public/measures/{measure_id:str}/chart.svg": ANYONE,
    "GET /static/{file_path:path}": ANYONE,
    "HEAD /static/{file_path:path}": ANYONE,
    "GET /static/htmx/{file_path:path}": ANYONE,
    "HEAD /static/htmx/{file_path:path}": ANYONE,
    "GET /schema": ANYONE,
    "GET /schema/openapi.json": ANYONE,
    "GET /schema/{path:str}": ANYONE,
    "GET /api/v1/health": ANYONE,
    # reading: everyone signed in
    "GET /board": VIEWER,
    "GET /dashboard": VIEWER,
    "GET /alignment": VIEWER,
    "GET /initiatives": VIEWER,
    "GET /initiatives/{initiative_id:uuid}": VIEWER,
    "GET /mission": VIEWER,
    "GET /revisits": VIEWER,
    "GET /measures": VIEWER,
    "GET /measures/{measure_id:uuid}": VIEWER,
    "GET /measures/{measure_id:uuid}/chart.svg": VIEWER,
    "GET /measures/{measure_id:uuid}/export.csv": VIEWER,
    "GET /api/v1/alignment": VIEWER,
    "GET /api/v1/board": VIEWER,
    "GET /api/v1/dashboard": VIEWER,
    "GET /api/v1/initiatives": VIEWER,
    "GET /api/v1/initiatives/{initiative_id:uuid}": VIEWER,
    "GET /api/v1/measures": VIEWER,
    "GET /api/v1/measures/{measure_id:uuid}": VIEWER,
    "GET /api/v1/measures/{measure_id:uuid}/chart": VIEWER,
    "GET /api/v1/measures/{measure_id:uuid}/data": VIEWER,
    "GET /api/v1/measures/{measure_id:uuid}/data/{period:str}": VIEWER,
    "GET /api/v1/measures/{measure_id:uuid}/export.csv": VIEWER,
    "GET /api/v1/mission": VIEWER,
    "GET /api/v1/revisits": VIEWER,
    "GET /api/v1/values": VIEWER,
    # history: auditors and up
    "GET /initiatives/{initiative_id:uuid}/history": AUDITOR,
    "GET /initiatives/{initiative_id:uuid}/compare": AUDITOR,
    "GET /api/v1/initiatives/{initiative_id:uuid}/history": AUDITOR,
    "GET /api/v1/measures/{measure_id:uuid}/history": AUDITOR,
    # the audit trail: leaders publish anchors, auditors check them
    "GET /audit": LEADER_OR_AUDITOR,
    # initiatives, cycles and measure data: CQI team members and leaders
    "GET /initiatives/new": MEMBER,
    "GET /initiatives/new/team-row": MEMBER,
    "POST /initiatives": MEMBER,
    "POST /initiatives/{initiative_id:uuid}/conclude": MEMBER,
    "POST /initiatives/{initiative_id:uuid}/cycles": MEMBER,
    "POST /initiatives/{initiative_id:uuid}/cycles/{number:int}/plan": MEMBER,
    "POST /initiatives/{initiative_id:uuid}/cycles/{number:int}/do": MEMBER,
    "POST /initiatives/{initiative_id:uuid}/cycles/{number:int}/study": MEMBER,
    "POST /initiatives/{initiative_id:uuid}/cycles/{number:int}/act": MEMBER,
    "POST /initiatives/{initiative_id:uuid}/team": MEMBER,
    "POST /measures/{measure_id:uuid}/annotations": MEMBER,
    "POST /measures/{measure_id:uuid}/annotations/{on:str}/remove": MEMBER,
    "POST /measures/{measure_id:uuid}/astronomical": MEMBER,
    "POST /measures/{measure_id:uuid}/astronomical/{period:str}/unflag": MEMBER,
    "POST /measures/{measure_id:uuid}/baseline": MEMBER,
    "POST /measures/{measure_id:uuid}/baseline/unfreeze": MEMBER,
    "POST /measures/{measure_id:uuid}/correct": MEMBER,
    "POST /measures/{measure_id:uuid}/data": MEMBER,
    "POST /measures/{measure_id:uuid}/exclusions": MEMBER,
    "POST /measures/{measure_id:uuid}/exclusions/{period:str}/include": MEMBER,
    "POST /measures/{measure_id:uuid}/import": MEMBER,
    "POST /measures/{measure_id:uuid}/phases": MEMBER,
    "POST /measures/{measure_id:uuid}/phases/{period:str}/remove": MEMBER,
    "POST /api/v1/initiatives": MEMBER,
    "PUT /api/v1/initiatives/{initiative_id:uuid}": MEMBER,
    "POST /api/v1/initiatives/{initiative_id:uuid}/conclude": MEMBER,
    "POST /api/v1/initiatives/{initiative_id:uuid}/cycles": MEMBER,
    "PUT /api/v1/initiatives/{initiative_id:uuid}/cycles/{number:int}/plan": MEMBER,
    "POST /api/v1/initiatives/{initiative_id:uuid}/cycles/{number:int}/do": MEMBER,
    "POST /api/v1/initiatives/{initiative_id:uuid}/cycles/{number:int}/study": MEMBER,
    "POST /api/v1/initiatives/{initiative_id:uuid}/cycles/{number:int}/act": MEMBER,
    "POST /api/v1/initiatives/{initiative_id:uuid}/team": MEMBER,
    "POST /api/v1/measures/{measure_id:uuid}/annotations": MEMBER,
    "DELETE /api/v1/measures/{measure_id:uuid}/annotations/{on:str}": MEMBER,
    "PUT /api/v1/measures/{measure_id:uuid}/baseline": MEMBER,
    "DELETE /api/v1/measures/{measure_id:uuid}/baseline": MEMBER,
    "POST /api/v1/measures/{measure_id:uuid}/data": MEMBER,
    "POST /api/v1/measures/{measure_id:uuid}/data/{period:str}/astronomical": MEMBER,
    "DELETE /api/v1/measures/{measure_id:uuid}/data/{period:str}/astronomical": MEMBER,
    "POST /api/v1/measures/{measure_id:uuid}/data/{period:str}/correct": MEMBER,
    "POST /api/v1/measures/{measure_id:uuid}/data/{period:str}/exclude": MEMBER,
    "POST /api/v1/measures/{measure_id:uuid}/data/{period:str}/include": MEMBER,
    "POST /api/v1/measures/{measure_id:uuid}/import": MEMBER,
    "POST /api/v1/measures/{measure_id:uuid}/phases": MEMBER,
    "DELETE /api/v1/measures/{measure_id:uuid}/phases/{period:str}": MEMBER,
    # mission, values, measure definitions, revisits, publishing and accounts: leaders
    "POST /measures": LEADER,
    "POST /measures/{measure_id:uuid}/revise": LEADER,
    "POST /api/v1/measures": LEADER,
    "PUT /api/v1/measures/{measure_id:uuid}": LEADER,
    "POST /mission": LEADER,
    "POST /mission/values": LEADER,
    "POST /mission/values/{value_id:str}": LEADER,
    "POST /mission/values/{value_id:str}/standards": LEADER,
    "POST /mission/values/{value_id:str}/standards/{standard_id:str}/retire": LEADER,
    "POST /revisits": LEADER,
    "POST /revisits/{revisit_id:uuid}/complete": LEADER,
    "POST /revisits/{revisit_id:uuid}/reschedule": LEADER,
    "GET /publishing": LEADER,
    "POST /publishing/open": LEADER,
    "POST /publishing/close": LEADER,
    "POST /publishing/initiatives/{initiative_id:uuid}/publish": LEADER,
    "POST /publishing/initiatives/{initiative_id:uuid}/withdraw": LEADER,
    "POST /publishing/measures/{measure_id:uuid}/publish": LEADER,
    "POST /publishing/measures/{measure_id:uuid}/withdraw": LEADER,
    "GET /accounts": LEADER,
    "POST /accounts": LEADER,
    "POST /accounts/{account_id:uuid}/role": LEADER,
    "POST /accounts/{account_id:uuid}/deactivate": LEADER,
    "PUT /api/v1/mission": LEADER,
    "POST /api/v1/values": LEADER,
    "PUT /api/v1/values/{value_id:str}": LEADER,
    "POST /api/v1/values/{value_id:str}/standards": LEADER,
    "POST /api/v1/revisits": LEADER,
    "POST /api/v1/revisits/{revisit_id:uuid}/complete": LEADER,
    "POST /api/v1/revisits/{revisit_id:uuid}/reschedule": LEADER,
    "GET /api/v1/publication": LEADER,
    "POST /api/v1/publication/open": LEADER,
    "POST /api/v1/publication/close": LEADER,
    "POST /api/v1/publication/initiatives/{initiative_id:uuid}/publish": LEADER,
    "POST /api/v1/publication/initiatives/{initiative_id:uuid}/withdraw": LEADER,
    "POST /api/v1/publication/measures/{measure_id:uuid}/publish": LEADER,
    "POST /api/v1/publication/measures/{measure_id:uuid}/withdraw": LEADER,
}

LAST = ("POST /sign-out",)  # it ends the session the other requests ride on


def route_table(app: Any) -> list[str]:
    """Every (method, path) the app routes, as "METHOD /path", from its own route table."""
    found = set()
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            for method in getattr(handler, "http_methods", ()) or ("ASGI",):
                if method != "OPTIONS":
                    found.add(f"{method} {route.path}")
    return sorted(found, key=lambda key: (key in LAST, key))


def concrete(path: str, ids: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in ids, f"no test value for the path parameter {name!r} in {path}"
        return ids[name]

    return re.sub(r"\{(\w+)(?::\w+)?\}", value, path)


def denied(response: httpx.Response) -> bool:
    if response.status_code in (401, 403):
        return True
    return response.status_code in (302, 303) and response.headers.get(
        "location", "").startswith("/sign-in?next=")


async def test_every_route_allows_and_denies_each_role_as_the_table_says(services, accounts):
    app = create_app(services.settings, services=services)
    app.state.services = services
    routes = route_table(app)
    assert not [key for key in routes if key not in EXPECTED], \
        "routes missing from the access table: add them with the roles that may use them"
    assert not [key for key in EXPECTED if key not in routes], "the table names gone routes"

    [value_id] = await agency_values(services, "Family engagement")
    initiative_id = await an_initiative(services, value_id)
    measure = await services.command(
        services.cqi.define_measure, actor="test", name="Placement moves", type="balancing",
        definition={"numerator": "Moves of children in care", "denominator": "",
                    "data_source": "Placement records", "owner": "Dana Whitfield",
                    "frequency": "monthly"},
        unit="count", direction="down", goal=None, value_ids=[value_id])
    revisit = await services.command(
        services.cqi.schedule_revisit, actor="test", subject="mission",
        due_on=services.today(), participants=["Director"])
    target = await accounts.add("target-of-account-changes", "viewer")
    ids = {"initiative_id": str(initiative_id), "measure_id": str(measure.id),
           "revisit_id": str(revisit.id), "account_id": target, "value_id": value_id,
           "number": "1", "period": "2026-01", "on": "2026-01-15", "standard_id": "none",
           "file_path": "app.css", "path": "openapi.json"}

    observed: dict[str, set[str]] = {key: set() for key in routes}
    for role in ROLES:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="https://testserver.local") as client:
            api_headers: dict[str, str] = {}
            browser = Browser(client)
            if role != ANONYMOUS:
                login = f"matrix-{role}"
                await accounts.add(login, role)
                await browser.sign_in(login, accounts.PASSWORD)
                api_headers = await accounts.token(role)
            else:
                await browser.get("/sign-in")
            for key in routes:
                method, path = key.split(" ", 1)
                url = concrete(path, ids)
                if path.startswith("/static/htmx"):
                    url = "/static/htmx/htmx.min.js"
                headers = dict(api_headers) if path.startswith("/api/") else {}
                if method not in ("GET", "HEAD") and not headers:
                    session = client.cookies.get("__Host-cqi_session")
                    headers["x-csrf-token"] = csrf_token(
                        services.settings.secret_key, client.cookies["__Host-cqi_csrf"], session)
                response = await client.request(method, url, headers=headers)
                assert response.status_code < 500, f"{role} {key}: {response.text[:500]}"
                if not denied(response):
                    observed[key].add(role)

    wrong = {key: (sorted(EXPECTED[key]), sorted(observed[key]))
             for key in routes if observed[key] != EXPECTED[key]}
    assert not wrong, "\n".join(f"{key}: expected {want}, got {got}"
                                for key, (want, got) in wrong.items())

