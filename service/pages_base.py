"""What every page handler shares: a page or its fragment, the redirect after a post, reading a
form, and the state of a form sent back with its errors."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from litestar import MediaType, Response
from litestar.response import Redirect, Template
from markupsafe import Markup, escape

from domain.errors import DomainError, NotFoundError, ValidationError
from domain.initiative import DECISIONS, PHASE_NAMES, TEAM_KINDS
from domain.revisit import OUTCOMES
from service import idempotency
from service.application import Receipt, StaleVersionError
from service.paging import plain_digits
from service.security import CSRF_FIELD, csrf_token
from service.services import Req, Services


def is_htmx(request: Req) -> bool:
    """An htmx request wants the fragment; a history restore wants the whole page."""
    headers = request.headers
    return (headers.get("hx-request") == "true"
            and headers.get("hx-history-restore-request") != "true")


def request_csrf_token(request: Req) -> str:
    services: Services = request.app.state.services
    principal = request.scope.get("user")
    return csrf_token(services.settings.secret_key, request.state.get("csrf_cookie", ""),
                      principal.session_id if principal else None)


def template_globals() -> dict[str, Any]:
    return {
        "csrf_token": request_csrf_token,
        "CSRF_FIELD": CSRF_FIELD,
        "IDEMPOTENCY_FIELD": idempotency.FORM_FIELD,
        "new_idempotency_key": idempotency.new_key,
        "PHASE_NAMES": PHASE_NAMES,
        "DECISIONS": DECISIONS,
        "TEAM_KINDS": TEAM_KINDS,
        "OUTCOMES": OUTCOMES,
        "label_of": label_of,
        "KIND_LABELS": KIND_LABELS,
    }


KIND_LABELS = {"staff": "Staff", "stakeholder": "External stakeholder",
               "consumer": "Consumer or family"}


def local_moment(moment: datetime | None, zone: ZoneInfo) -> Markup:
    """A <time> element showing `moment` in the agency's time zone."""
    if moment is None:
        return Markup("")
    local = moment.astimezone(zone)
    text = f"{local.day} {local:%b %Y, %H:%M}"
    return Markup('<time datetime="{}">{}</time>').format(local.isoformat(), text)


def local_day(day: date | None) -> Markup:
    if day is None:
        return Markup("")
    return Markup('<time datetime="{}">{}</time>').format(day.isoformat(),
                                                          f"{day.day} {day:%b %Y}")


def page(
    request: Req, name: str, fragment: str | None = None,
    status_code: int = 200, **context: Any,
) -> Template:
    """Render the page, or only its fragment (a partial the page includes) for htmx."""
    template = fragment if fragment and is_htmx(request) else name
    services: Services = request.app.state.services
    zone = services.settings.zone
    return Template(
        template,
        context={
            "user": request.scope.get("user"),
            "zone": zone,
            "at": lambda moment: local_moment(moment, zone),
            "on": local_day,
            "today": services.today(),
            **context,
        },
        status_code=status_code,
        media_type=MediaType.HTML,  # explicit: handlers typed `-> Any` would default to JSON
        headers={"Vary": "HX-Request"},  # the same URL answers with a page or a fragment
    )


def safe_next(target: str | None) -> str:
    """Only redirect to a path on this site."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/board"


def see_other(request: Req, location: str, target: str | None = None) -> Response[Any]:
    """After a successful form post: a 303 redirect.

    htmx gets 204 with HX-Location: it fetches `location`'s fragment into `target` (replacing
    it). Without a target it navigates to the whole page (HX-Redirect).
    """
    if is_htmx(request):
        if target:
            spec = {"path": location, "target": target, "swap": "outerHTML"}
            return Response(None, status_code=204, headers={"HX-Location": json.dumps(spec)})
        return Response(None, status_code=204, headers={"HX-Redirect": location})
    return Redirect(location, status_code=303)


def actor(request: Req) -> str:
    """Who does the command: the signed-in account (guards have already demanded one)."""
    return request.scope["user"].account_id


# --- reading forms ---------------------------------------------------------------------


async def read_form(request: Req) -> dict[str, Any]:
    """The posted fields: a string each, or a list when a name was sent more than once."""
    form = await request.form()
    idempotency.use_form_key(form.get(idempotency.FORM_FIELD))
    values: dict[str, Any] = {}
    for key, value in form.multi_items():
        if key in (CSRF_FIELD, idempotency.FORM_FIELD) or not isinstance(value, str):
            continue
        if key in values:
            previous = values[key]
            values[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            values[key] = value
    return values


def text(values: dict[str, Any], key: str) -> str:
    value = values.get(key, "")
    if isinstance(value, list):
        value = value[-1] if value else ""
    return str(value)


def all_of(values: dict[str, Any], key: str) -> list[str]:
    value = values.get(key)
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def form_version(values: dict[str, Any]) -> int | None:
    """The version of the aggregate the form was rendered from (hidden field `version`)."""
    raw = text(values, "version").strip()
    return int(raw) if plain_digits(raw) else None


def whole_number(raw: str) -> object:
    """'' is None, '12' is 12; anything else goes on as typed, for the domain to refuse."""
    raw = raw.strip()
    if not raw:
        return None
    return int(raw) if plain_digits(raw) else raw


def calendar_day(raw: str) -> object:
    """'2026-03-01' is a date; anything else goes on as typed, for the domain to refuse."""
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        return raw


# --- forms sent back -------------------------------------------------------------------

_LABELS = {
    "value_ids": "Values served", "value_id": "Mission value", "training_step": "Training step",
    "data_collected": "Data collected", "due_on": "Due date", "held_on": "Held on",
    "every_months": "Cadence", "revisit_every_months": "Revisit cadence",
    "display_name": "Display name", "problem": "Problem statement",
    "intervention": "Change idea", "logistics": "Who, where, when",
    "observations": "What happened", "learning": "What was learned",
}


def label_of(key: str) -> str:
    """A field's name as people say it: 'training_step' → 'Training step',
    'team[1].role' → 'Team member 2: role'."""
    if key in _LABELS:
        return _LABELS[key]
    if match := re.fullmatch(r"team\[(\d+)\]\.(\w+)", key):
        return f"Team member {int(match.group(1)) + 1}: {match.group(2)}"
    if match := re.fullmatch(r"(\w+)\[(\d+)\]", key):
        return f"{label_of(match.group(1))} {int(match.group(2)) + 1}"
    return key.replace("_", " ").capitalize()


@dataclass
class FormState:
    """A form as it is shown: the values in its fields and, after a refused post, why."""

    name: str
    """Names the form on its page; prefixes the ids of its fields."""
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    alert: str = ""
    """A domain refusal, in the domain's words."""
    stale: bool = False
    """The page was rendered from a version that is no longer current."""
    status: int = 200

    @property
    def failed(self) -> bool:
        return bool(self.errors or self.alert or self.stale)

    def value(self, key: str, default: Any = "") -> Any:
        value = self.values.get(key)
        if isinstance(value, list):
            value = value[-1] if value else None
        return default if value is None else value

    def chosen(self, key: str) -> list[str]:
        return all_of(self.values, key)

    def typed(self, names: dict[str, str] | None = None) -> list[tuple[str, str]]:
        """What the person typed, as (label, text), for a form that can no longer be shown;
        `names` shows ids (of a value, say) by their names."""
        names = names or {}
        return [(label_of(key), ", ".join(names.get(v, v) for v in all_of(self.values, key)))
                for key in self.values if key != "version" and any(all_of(self.values, key))]

    def id(self, key: str) -> str:
        return f"{self.name}-" + re.sub(r"[^A-Za-z0-9]+", "-", key).strip("-")

    @classmethod
    def refused(cls, name: str, values: dict[str, Any], exc: DomainError,
                rename: Callable[[str], str] | None = None) -> FormState:
        """The form sent back after the domain refused it; unknown ids stay a 404.
        `rename` maps the domain's field names to the form's, where they differ."""
        if isinstance(exc, NotFoundError):
            raise exc
        if isinstance(exc, ValidationError):
            errors: dict[str, str] = {}
            for key, message in exc.errors.items():
                errors.setdefault(rename(key) if rename else key, message)
            return cls(name, values, errors, status=400)
        if isinstance(exc, StaleVersionError):
            return cls(name, values, stale=True, status=409)
        return cls(name, values, alert=exc.reason, status=409)


class Forms:
    """In templates, `form('plan', objective=...)`: the refused form if it is the one named,
    else a fresh one holding the defaults.

    It remembers which forms the page showed: a refused form that the page, as it is now, no
    longer shows (someone else moved the cycle on) is the `orphan`, shown on its own with
    what was typed in it. Fragments render their body first, then put the orphan above it.
    """

    def __init__(self, refused: FormState | None = None) -> None:
        self.refused = refused
        self.shown: set[str] = set()

    def __call__(self, form_name: str, /, **defaults: Any) -> FormState:
        self.shown.add(form_name)
        if self.refused is not None and self.refused.name == form_name:
            return self.refused
        return FormState(form_name, defaults)

    @property
    def orphan(self) -> FormState | None:
        if self.refused is not None and self.refused.name not in self.shown:
            return self.refused
        return None

    @property
    def status(self) -> int:
        return self.refused.status if self.refused else 200


async def attempt(
    services: Services, form: str, values: dict[str, Any], fn: Any, *args: Any,
    rename: Callable[[str], str] | None = None, **kwargs: Any,
) -> tuple[Receipt | None, FormState | None]:
    """Run one command (waiting for the views); a refusal becomes the form to send back."""
    try:
        return await services.command(fn, *args, **kwargs), None
    except DomainError as exc:
        return None, FormState.refused(form, values, exc, rename)


def lines(raw: str) -> list[str]:
    """One entry a line, blank lines dropped."""
    return [line.strip() for line in raw.splitlines() if line.strip()]


def paragraphs(value: str) -> Markup:
    """Text typed in a textarea, its line breaks kept."""
    return Markup("<br>").join(escape(line) for line in value.splitlines())
