"""Driving the web UI over HTTP as a browser would: sign in, read a page's forms, submit them.

Each `Browser` is one person with their own cookies. `submit` sends a form the page really
contains (its hidden fields too: the CSRF token and the version the page was rendered from),
with the fields a person would fill in.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest

from service.app import create_app
from service.services import Services


@dataclass
class Form:
    action: str
    method: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    """Fields a browser would send as the page stands: hidden ones, filled-in ones, checked
    boxes, selected options."""


class FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._textarea: tuple[str, list[str]] | None = None
        self._select: str | None = None
        self._select_first: str | None = None
        self._selected = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._form = Form(a.get("action", ""), a.get("method", "get").lower())
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self._form.fields.append((a["name"], a.get("value", "on" if kind == "checkbox"
                                                      else "")))
        elif tag == "textarea" and a.get("name"):
            self._textarea = (a["name"], [])
        elif tag == "select" and a.get("name"):
            self._select, self._select_first, self._selected = a["name"], None, False
        elif tag == "option" and self._select is not None:
            if self._select_first is None:
                self._select_first = a.get("value", "")
            if "selected" in a and not self._selected:
                self._form.fields.append((self._select, a.get("value", "")))
                self._selected = True

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea[1].append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "textarea" and self._textarea is not None and self._form is not None:
            name, parts = self._textarea
            self._form.fields.append((name, "".join(parts).removeprefix("\n")))
            self._textarea = None
        elif tag == "select" and self._select is not None and self._form is not None:
            if not self._selected:
                self._form.fields.append((self._select, self._select_first or ""))
            self._select = None


def forms_of(html: str) -> list[Form]:
    parser = FormParser()
    parser.feed(html)
    return parser.forms


def form_posting_to(html: str, action: str) -> Form:
    found = [f for f in forms_of(html) if f.action == action and f.method == "post"]
    assert found, f"no form posts to {action}; forms: {[f.action for f in forms_of(html)]}"
    return found[0]


def posting_forms(html: str) -> list[str]:
    """Actions of the forms on a page that change something (signing out aside)."""
    return [f.action for f in forms_of(html) if f.method == "post" and f.action != "/sign-out"]


def field_error(html: str, field_id: str) -> str:
    """The error message written next to the field with this id (and the field refers to it)."""
    assert re.search(rf'id="{re.escape(field_id)}"[^>]*aria-invalid="true"', html) or \
        re.search(rf'aria-invalid="true"[^>]*id="{re.escape(field_id)}"', html), \
        f"{field_id} is not marked invalid"
    match = re.search(rf'<p class="field-error" id="{re.escape(field_id)}-error">(.*?)</p>',
                      html, re.S)
    assert match, f"no error message next to {field_id}"
    assert f'{field_id}-error' in re.search(
        rf'<[^>]*id="{re.escape(field_id)}"[^>]*>', html).group(0), \
        f"{field_id} does not point at its message with aria-describedby"
    return unescape(re.sub(r"<[^>]+>", "", match.group(1))).strip()


class Browser:
    """One person's browser: cookies, the last page, and the forms on it."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.html = ""

    async def get(self, url: str, status: int = 200, **kwargs: Any) -> str:
        response = await self.client.get(url, **kwargs)
        assert response.status_code == status, (
            f"GET {url} -> {response.status_code}: {response.text[:2000]}")
        self.html = response.text
        return self.html

    async def sign_in(self, login: str, password: str) -> None:
        await self.get("/sign-in")
        response = await self.send(form_posting_to(self.html, "/sign-in"),
                                   {"login": login, "password": password})
        assert response.status_code == 303, response.text[:2000]

    async def send(self, form: Form, changes: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> httpx.Response:
        """Post `form` with `changes` typed in (a list sets every value of a name)."""
        changes = changes or {}
        sent = [(k, v) for k, v in form.fields if k not in changes]
        for key, value in changes.items():
            for item in value if isinstance(value, list) else [value]:
                sent.append((key, str(item)))
        return await self.client.post(form.action, data=dict_or_pairs(sent), headers=headers)

    async def submit(self, action: str, changes: dict[str, Any] | None = None,
                     status: int = 303, headers: dict[str, str] | None = None) -> httpx.Response:
        """Fill in and post the form of the current page that posts to `action`."""
        response = await self.send(form_posting_to(self.html, action), changes, headers)
        assert response.status_code == status, (
            f"POST {action} -> {response.status_code}: {response.text[:3000]}")
        if response.status_code != 303:
            self.html = response.text
        return response

    async def follow(self, response: httpx.Response) -> str:
        return await self.get(response.headers["location"])


def dict_or_pairs(pairs: list[tuple[str, str]]) -> Any:
    """httpx takes repeated names as a dict of lists."""
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            data[key] = [*data[key], value] if isinstance(data[key], list) else [data[key], value]
        else:
            data[key] = value
    return data


class People:
    """Opens a browser for a new account of each role asked for."""

    def __init__(self, services: Services, accounts: Any) -> None:
        self.services = services
        self.accounts = accounts
        self.clients: list[httpx.AsyncClient] = []

    async def browser(self, login: str, role: str) -> Browser:
        await self.accounts.add(login, role)
        app = create_app(self.services.settings, services=self.services)
        app.state.services = self.services  # no lifespan runs under ASGITransport
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                   base_url="https://testserver.local")
        self.clients.append(client)
        browser = Browser(client)
        await browser.sign_in(login, self.accounts.PASSWORD)
        return browser

    async def close(self) -> None:
        for client in self.clients:
            await client.aclose()


@pytest.fixture
async def people(services: Services, accounts: Any) -> Any:
    opened = People(services, accounts)
    yield opened
    await opened.close()


# --- state built through the application's commands, for tests about something else ------


async def agency_values(services: Services, *names: str) -> list[str]:
    """Add values (as a leader would); returns their ids."""
    ids = []
    for name in names:
        receipt = await services.command(services.cqi.add_value, actor="test", name=name,
                                         description=f"What {name.lower()} means here")
        ids.append(receipt.detail)
    return ids


PLAN = {
    "objective": "Find out whether family team meetings make families feel heard",
    "prediction": "Seven in ten families will say they were heard",
    "measure": "Share of families who answer 'I was heard' on the exit survey",
    "intervention": "Hold a family team meeting within 10 days of case opening",
    "training_step": "Coach the east unit's workers in facilitation",
}


async def an_initiative(services: Services, value_id: str, title: str = "Families at the table"
                        ) -> uuid.UUID:
    receipt = await services.command(
        services.cqi.open_initiative, actor="test", title=title,
        problem="Consumer feedback: families do not feel valued",
        aim="80% of families report feeling included by June", value_ids=[value_id],
        team=[{"name": "Ana Ruiz", "kind": "consumer", "role": "parent partner"}])
    return receipt.id
