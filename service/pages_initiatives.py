"""Initiative pages: the list, opening one, one initiative with its PDSA cycles, its history."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Template

from domain.errors import ValidationError
from domain.initiative import (
    ABANDONED,
    ACTIVE,
    ADAPT,
    CLOSED,
    CONCLUSIONS,
    PHASES,
    PLAN_FIELDS,
    PROPOSED,
    SUSTAINED,
    Initiative,
)
from projections import cycle_board, measure_data
from projections.accounts import actor_names
from projections.value_names import value_names
from service.api import history_entries
from service.auth import demand, requires
from service.cycle_data import CycleWindow, cycle_window
from service.history_diff import changes, facts
from service.pages_base import (
    Forms,
    FormState,
    actor,
    all_of,
    attempt,
    calendar_day,
    form_version,
    label_of,
    page,
    read_form,
    see_other,
    text,
)
from service.pages_measures import figure
from service.paging import PAGE_SIZE, Page, offset_of, page_number, plain_digits
from service.services import Req, Services, Svc

EMPTY_TEAM_ROWS = 3
MAX_TEAM_ROWS = 30
TARGET = "#initiative"
STATUSES = (PROPOSED, ACTIVE, SUSTAINED, CLOSED, ABANDONED)

NOTICES = {
    "opened": "The initiative is open. Next: plan its first PDSA cycle below.",
    "planned": "The cycle is planned. When the change has been tried, record what happened (Do).",
    "revised": "The plan is revised.",
    "do": "Do is recorded. Next: study the result against the prediction.",
    "study": "Study is recorded. Next: decide what to do with the change (Act).",
    "act": "The decision is recorded and the cycle is closed.",
    "adapt": "The team decided to adapt: the next cycle has started with the same plan. "
             "Revise its plan to say what changes, then record what happened.",
    "team": "The team member is added.",
    "concluded": "The initiative is concluded; it takes no more changes.",
}


HIDDEN_EVENT_FIELDS = {"originator_topic"}
"""Library bookkeeping that says nothing to a person reading the history."""
EVENT_LABELS = {"value_id": "Mission value", "value_ids": "Values served",
                "number": "Cycle", "adapted_from": "Adapted from cycle",
                "measure_id": "Linked measure", "started_on": "Test began",
                "studied_on": "Studied on"}


def event_label(event_type: str) -> str:
    """'CyclePlanRevised' → 'Cycle plan revised'; 'Opened' → 'Initiative opened'."""
    if event_type == "Opened":
        return "Initiative opened"
    words = re.findall(r"[A-Z][a-z]*", event_type) or [event_type]
    return " ".join([words[0], *(w.lower() for w in words[1:])])


def event_items(data: dict[str, Any], names: dict[str, str]) -> list[tuple[str, str]]:
    """What an event said, as (label, text) pairs a person can read."""
    items = []
    for key, value in data.items():
        if key in HIDDEN_EVENT_FIELDS or value is None:
            continue
        if key in ("value_id", "measure_id"):  # a measure's id and a value's never collide
            shown = names.get(value, value) if value != "" else "—"
        elif key == "value_ids":
            shown = ", ".join(names.get(v, v) for v in value)
        elif key == "team":
            shown = "; ".join(f"{m['name']} ({m['kind']}, {m['role']})" for m in value) or "—"
        elif isinstance(value, list):
            shown = ", ".join(str(v) for v in value) or "—"
        else:
            shown = str(value) if value != "" else "—"
        items.append((EVENT_LABELS.get(key) or label_of(key), shown))
    return items


def plan_of(values: dict[str, Any]) -> dict[str, object]:
    return {name: text(values, name) for name in PLAN_FIELDS}


def optional_day(values: dict[str, Any], key: str) -> object:
    """A blank date field is None (the command then takes today)."""
    raw = text(values, key)
    return calendar_day(raw) if raw else None


TEAM_FIELD = re.compile(r"team\[(\d+)\]\.")


def team_rows(values: dict[str, Any]) -> int:
    """How many team rows the form had (htmx may have added some to the first three)."""
    indexes = [int(m.group(1)) for key in values if (m := TEAM_FIELD.match(key))]
    return min(max(EMPTY_TEAM_ROWS, max(indexes, default=0) + 1), MAX_TEAM_ROWS)


def team_of(values: dict[str, Any]) -> tuple[list[dict[str, object]], dict[str, str]]:
    """The team rows someone filled in, and how the domain's row numbers map back to the form's
    (blank rows are skipped, so "team[1]" may be the form's third row)."""
    team: list[dict[str, object]] = []
    rename: dict[str, str] = {}
    for row in range(team_rows(values)):
        member = {key: text(values, f"team[{row}].{key}") for key in ("name", "kind", "role")}
        if not (member["name"].strip() or member["role"].strip()):
            continue
        for key in member:
            rename[f"team[{len(team)}].{key}"] = f"team[{row}].{key}"
        team.append(member)
    return team, rename


async def mission_values(services: Services) -> tuple[dict[str, Any], list[Any]]:
    """All values by id (names of retired ones too), and the active ones."""
    mission = await services.call(services.cqi.mission)
    if mission is None:
        return {}, []
    return dict(mission.values), mission.active_values()


async def render_initiative(
    request: Req, services: Services, initiative_id: uuid.UUID, forms: Forms | None = None,
    *, version: int | None = None, notice: str = "",
) -> Template:
    """The initiative now, or (for auditors) as it was at `version`."""
    forms = forms or Forms()
    latest: Initiative = await services.call(services.cqi.load, Initiative, initiative_id)
    shown = latest
    if version is not None and version != latest.version:
        shown = await services.call(services.cqi.replay, Initiative, initiative_id, version)
    values, active = await mission_values(services)
    user = request.scope["user"]
    readonly = version is not None
    measures = {str(row["measure_id"]): row for row in await services.read(measure_data.measures)}
    return page(
        request, "initiative.html", "_initiative.html", status_code=forms.status,
        initiative=shown, latest_version=latest.version, readonly=readonly,
        can_write=user.has("member") and not readonly and not shown.is_concluded,
        values=values, active_values=active, form=forms, notice=notice,
        phases=PHASES, adapt=ADAPT, conclusions=CONCLUSIONS, measures=measures,
        windows=await cycle_windows(services, shown, measures), figure=figure,
    )


async def cycle_windows(
    services: Services, initiative: Initiative, measures: dict[str, Any]
) -> dict[int, CycleWindow]:
    """For each cycle that links a measure and has begun its test: the measure's data then."""
    windows: dict[int, CycleWindow] = {}
    points: dict[str, list[Any]] = {}
    for cycle in initiative.cycles:
        row = measures.get(cycle.measure_id)
        if row is None or cycle.started_on is None:
            continue
        if cycle.measure_id not in points:
            points[cycle.measure_id] = await services.read(measure_data.points, row["measure_id"])
        window = cycle_window(points[cycle.measure_id], row["frequency"], cycle.started_on,
                              cycle.studied_on, services.today())
        if window is not None:
            windows[cycle.number] = window
    return windows


async def render_history(
    request: Req, services: Services, initiative_id: uuid.UUID, forms: Forms | None = None
) -> Template:
    forms = forms or Forms()
    initiative: Initiative = await services.call(services.cqi.load, Initiative, initiative_id)
    entries = await history_entries(services, initiative_id)
    names = await services.read(value_names)
    names.update({str(row["measure_id"]): row["name"]
                  for row in await services.read(measure_data.measures)})
    return page(request, "history.html", "_history.html", status_code=forms.status,
                initiative=initiative, entries=entries, value_names=names, form=forms,
                event_label=event_label, event_items=event_items)


class InitiativePages(Controller):
    path = "/initiatives"
    guards = [requires("viewer")]
    include_in_schema = False

    # --- the list and opening one -------------------------------------------------------

    @get("/")
    async def index(self, request: Req, services: Svc, status: FromQuery[str | None] = None,
                    value: FromQuery[str | None] = None,
                    page_: Annotated[str | None, QueryParameter(name="page")] = None) -> Template:
        """One page of the initiatives (most recently active first), optionally one status
        or those serving one value; an unknown status or value shows them all, a bad page
        number the first page with the reason."""
        chosen = status if status in STATUSES else None
        names = await services.read(value_names)
        value_id = value if value in names else None
        form = FormState("paging", {"page": page_ or ""})
        try:
            number = page_number(page_)
        except ValidationError as exc:
            form.errors, form.status, number = dict(exc.errors), 400, 1
        # the count and the rows from one snapshot: they agree while others write
        async with services.pool.acquire() as conn, conn.transaction(
                isolation="repeatable_read", readonly=True):
            total = await cycle_board.initiatives_count(conn, chosen, value_id)
            number, offset = offset_of(number, total, PAGE_SIZE)
            rows = await cycle_board.initiatives_page(conn, chosen, value_id, PAGE_SIZE, offset)
        listed = Page(number, total, rows, "/initiatives",
                      {"status": chosen or "", "value": value_id or ""}, PAGE_SIZE)
        return page(request, "initiatives.html", "_initiatives.html", status_code=form.status,
                    rows=rows, listed=listed, form=form, status=chosen, value=value_id,
                    statuses=STATUSES, value_names=names,
                    actor_names=await services.read(actor_names))

    async def render_new(self, request: Req, services: Services, forms: Forms,
                         rows: int = EMPTY_TEAM_ROWS) -> Template:
        _, active = await mission_values(services)
        return page(request, "initiative_new.html", "_initiative_form.html",
                    status_code=forms.status, form=forms, active_values=active, rows=rows)

    @get("/new", guards=[requires("member")])
    async def new(self, request: Req, services: Svc) -> Template:
        return await self.render_new(request, services, Forms())

    @get("/new/team-row", guards=[requires("member")])
    async def team_row(self, request: Req, index: FromQuery[int] = EMPTY_TEAM_ROWS
                       ) -> Template:
        """One more empty team row for the form (htmx), and the button for the row after."""
        index = min(max(index, 0), MAX_TEAM_ROWS - 1)
        return page(request, "_team_row_added.html", f=FormState("open"), i=index,
                    rows=index + 1, focus_row=index)

    @post("/", guards=[requires("member")])
    async def open_initiative(self, request: Req, services: Svc) -> Any:
        values = await read_form(request)
        rows = team_rows(values)
        team, rename = team_of(values)
        receipt, refused = await attempt(
            services, "open", values, services.cqi.open_initiative, actor=actor(request),
            title=text(values, "title"), problem=text(values, "problem"),
            aim=text(values, "aim"), value_ids=all_of(values, "value_ids"), team=team,
            rename=lambda key: rename.get(key, key),
        )
        if refused:
            return await self.render_new(request, services, Forms(refused), rows)
        assert receipt is not None
        return see_other(request, f"/initiatives/{receipt.id}?done=opened")

    # --- one initiative -----------------------------------------------------------------

    @get("/{initiative_id:uuid}")
    async def show(
        self, request: Req, services: Svc, initiative_id: FromPath[uuid.UUID],
        version: FromQuery[str | None] = None, as_of: FromQuery[str | None] = None,
        done: FromQuery[str | None] = None,
    ) -> Template:
        if not (version or as_of):
            return await render_initiative(request, services, initiative_id,
                                           notice=NOTICES.get(done or "", ""))
        demand(request, "auditor")  # past states are for auditors
        return await self.as_it_was(request, services, initiative_id, version, as_of)

    async def as_it_was(self, request: Req, services: Services, initiative_id: uuid.UUID,
                        version: str | None, as_of: str | None) -> Template:
        latest: Initiative = await services.call(services.cqi.load, Initiative, initiative_id)
        if as_of:
            values, name, key = {"as_of": as_of}, "at-moment", "as_of"
            moment = services.moment(as_of)
            found = None
            if moment is None:
                error = "give a date and time, e.g. 2026-03-01T09:30"
            else:
                found = await services.call(services.cqi.version_at, initiative_id, moment)
                error = "" if found else "the initiative did not exist yet at that time"
        else:
            values, name, key = {"version": version}, "at-version", "version"
            found = int(version) if version and plain_digits(version) else None
            error = "" if found and found >= 1 else "give a whole number from 1"
            if found and found > latest.version:
                error, found = f"the latest version is {latest.version}", None
        if error or found is None:
            refused = FormState(name, values, {key: error}, status=400)
            return await render_history(request, services, initiative_id, Forms(refused))
        return await render_initiative(request, services, initiative_id, version=found)

    @get("/{initiative_id:uuid}/history", guards=[requires("auditor")])
    async def history(self, request: Req, services: Svc,
                      initiative_id: FromPath[uuid.UUID]) -> Template:
        return await render_history(request, services, initiative_id)

    @get("/{initiative_id:uuid}/compare", guards=[requires("auditor")])
    async def compare(self, request: Req, services: Svc, initiative_id: FromPath[uuid.UUID],
                      before: FromQuery[str | None] = None,
                      after: FromQuery[str | None] = None) -> Template:
        """What changed between two versions, fact by fact (auditors and up)."""
        latest: Initiative = await services.call(services.cqi.load, Initiative, initiative_id)
        values = {"before": before or "", "after": after or ""}
        errors = {}
        numbers: dict[str, int] = {}
        for key, raw in values.items():
            text_value = raw.strip()
            if not (text_value.isascii() and text_value.isdigit()):
                errors[key] = "give a whole number from 1"
            elif not 1 <= int(text_value) <= latest.version:
                errors[key] = f"give a version from 1 to {latest.version}"
            else:
                numbers[key] = int(text_value)
        if errors:
            refused = FormState("compare", values, errors, status=400)
            return await render_history(request, services, initiative_id, Forms(refused))
        names = await services.read(value_names)
        names.update({str(row["measure_id"]): row["name"]
                      for row in await services.read(measure_data.measures)})
        states = {key: await services.call(services.cqi.replay, Initiative, initiative_id, number)
                  for key, number in numbers.items()}
        return page(
            request, "compare.html", initiative=latest, before=numbers["before"],
            after=numbers["after"],
            changes=changes(facts(states["before"], names), facts(states["after"], names)),
        )

    # --- changing it: each form posts here; a refusal shows the page again, with why -----

    async def done(self, request: Req, initiative_id: uuid.UUID, notice: str,
                   anchor: str = "") -> Any:
        return see_other(request, f"/initiatives/{initiative_id}?done={notice}{anchor}",
                         target=TARGET)

    async def refused(self, request: Req, services: Services, initiative_id: uuid.UUID,
                      refused: FormState) -> Template:
        return await render_initiative(request, services, initiative_id, Forms(refused))

    @post("/{initiative_id:uuid}/team", guards=[requires("member")])
    async def add_team_member(self, request: Req, services: Svc,
                              initiative_id: FromPath[uuid.UUID]) -> Any:
        values = await read_form(request)
        _, refused = await attempt(
            services, "team", values, services.cqi.add_team_member, initiative_id,
            actor=actor(request), name=text(values, "name"), kind=text(values, "kind"),
            role=text(values, "role"), expected_version=form_version(values),
        )
        if refused:
            return await self.refused(request, services, initiative_id, refused)
        return await self.done(request, initiative_id, "team", "#team")

    @post("/{initiative_id:uuid}/cycles", guards=[requires("member")])
    async def plan_cycle(self, request: Req, services: Svc,
                         initiative_id: FromPath[uuid.UUID]) -> Any:
        values = await read_form(request)
        receipt, refused = await attempt(
            services, "plan", values, services.cqi.plan_cycle, initiative_id,
            actor=actor(request), plan=plan_of(values), expected_version=form_version(values),
        )
        if refused:
            return await self.refused(request, services, initiative_id, refused)
        assert receipt is not None
        return await self.done(request, initiative_id, "planned", f"#cycle-{receipt.detail}")

    @post("/{initiative_id:uuid}/cycles/{number:int}/plan", guards=[requires("member")])
    async def revise_plan(self, request: Req, services: Svc,
                          initiative_id: FromPath[uuid.UUID], number: FromPath[int]) -> Any:
        values = await read_form(request)
        _, refused = await attempt(
            services, "revise", values, services.cqi.revise_plan, initiative_id, number,
            actor=actor(request), plan=plan_of(values), expected_version=form_version(values),
        )
        if refused:
            return await self.refused(request, services, initiative_id, refused)
        return await self.done(request, initiative_id, "revised", f"#cycle-{number}")

    @post("/{initiative_id:uuid}/cycles/{number:int}/do", guards=[requires("member")])
    async def record_do(self, request: Req, services: Svc,
                        initiative_id: FromPath[uuid.UUID], number: FromPath[int]) -> Any:
        values = await read_form(request)
        _, refused = await attempt(
            services, "do", values, services.cqi.record_do, initiative_id, number,
            actor=actor(request), observations=text(values, "observations"),
            data_collected=text(values, "data_collected"),
            started_on=optional_day(values, "started_on"), today=services.today(),
            expected_version=form_version(values),
        )
        if refused:
            return await self.refused(request, services, initiative_id, refused)
        return await self.done(request, initiative_id, "do", f"#cycle-{number}")

    @post("/{initiative_id:uuid}/cycles/{number:int}/study", guards=[requires("member")])
    async def record_study(self, request: Req, services: Svc,
                           initiative_id: FromPath[uuid.UUID], number: FromPath[int]) -> Any:
        values = await read_form(request)
        _, refused = await attempt(
            services, "study", values, services.cqi.record_study, initiative_id, number,
            actor=actor(request), result=text(values, "result"),
            learning=text(values, "learning"), studied_on=optional_day(values, "studied_on"),
            today=services.today(), expected_version=form_version(values),
        )
        if refused:
            return await self.refused(request, services, initiative_id, refused)
        return await self.done(request, initiative_id, "study", f"#cycle-{number}")

    @post("/{initiative_id:uuid}/cycles/{number:int}/act", guards=[requires("member")])
    async def decide_act(self, request: Req, services: Svc,
                         initiative_id: FromPath[uuid.UUID], number: FromPath[int]) -> Any:
        values = await read_form(request)
        receipt, refused = await attempt(
            services, "act", values, services.cqi.decide_act, initiative_id, number,
            actor=actor(request), decision=text(values, "decision"),
            rationale=text(values, "rationale"), expected_version=form_version(values),
        )
        if refused:
            return await self.refused(request, services, initiative_id, refused)
        assert receipt is not None
        if receipt.detail:  # adapt: the next cycle started, pre-filled
            return await self.done(request, initiative_id, "adapt", f"#cycle-{receipt.detail}")
        return await self.done(request, initiative_id, "act", f"#cycle-{number}")

    @post("/{initiative_id:uuid}/conclude", guards=[requires("member")])
    async def conclude(self, request: Req, services: Svc,
                       initiative_id: FromPath[uuid.UUID]) -> Any:
        values = await read_form(request)
        _, refused = await attempt(
            services, "conclude", values, services.cqi.conclude_initiative, initiative_id,
            actor=actor(request), outcome=text(values, "outcome"), note=text(values, "note"),
            expected_version=form_version(values),
        )
        if refused:
            return await self.refused(request, services, initiative_id, refused)
        return await self.done(request, initiative_id, "concluded")
