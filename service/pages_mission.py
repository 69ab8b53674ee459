"""The mission, vision and values page: everyone reads it; leaders keep it alive."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from projections import overdue_revisits
from service.auth import requires
from service.pages_base import (
    Forms,
    actor,
    attempt,
    form_version,
    page,
    read_form,
    see_other,
    text,
    whole_number,
)
from service.services import Req, Services, Svc

TARGET = "#mission"
NOTICES = {
    "statements": "The mission and vision are saved as a new revision.",
    "value": "The value is added. Next: write the practice standards that put it to work.",
    "revised": "The value is revised.",
    "standard": "The practice standard is added.",
    "retired": "The practice standard is retired; it stays in the history.",
}


async def render_mission(request: Req, services: Services, forms: Forms | None = None,
                         notice: str = "") -> Template:
    forms = forms or Forms()
    mission = await services.call(services.cqi.mission)
    scheduled = await services.read(overdue_revisits.revisits, services.today(), "scheduled")
    next_revisit: dict[str, Any] = {}
    for row in scheduled:  # earliest first
        next_revisit.setdefault(row["subject"], row)
    return page(request, "mission.html", "_mission.html", status_code=forms.status,
                mission=mission, version=mission.version if mission else 0,
                values=mission.active_values() if mission else [], form=forms, notice=notice,
                next_revisit=next_revisit, today=services.today())


class MissionPages(Controller):
    path = "/mission"
    guards = [requires("viewer")]
    include_in_schema = False

    @get("/")
    async def show(self, request: Req, services: Svc,
                   done: FromQuery[str | None] = None) -> Template:
        return await render_mission(request, services, notice=NOTICES.get(done or "", ""))

    async def attempt(self, request: Req, services: Services, form: str,
                      values: dict[str, Any], done: str, fn: Any, **kwargs: Any) -> Any:
        """Run one command as the signed-in leader; a refusal shows the page again, with why."""
        _, refused = await attempt(services, form, values, fn, actor=actor(request),
                                   expected_version=form_version(values), **kwargs)
        if refused:
            return await render_mission(request, services, Forms(refused))
        return see_other(request, f"/mission?done={done}", target=TARGET)

    @post("/", guards=[requires("leader")])
    async def write_statements(self, request: Req, services: Svc) -> Any:
        values = await read_form(request)
        return await self.attempt(
            request, services, "statements", values, "statements", services.cqi.write_mission,
            mission=text(values, "mission"), vision=text(values, "vision"),
            revisit_every_months=whole_number(text(values, "revisit_every_months")),
        )

    @post("/values", guards=[requires("leader")])
    async def add_value(self, request: Req, services: Svc) -> Any:
        values = await read_form(request)
        return await self.attempt(
            request, services, "add-value", values, "value", services.cqi.add_value,
            name=text(values, "name"), description=text(values, "description"),
        )

    @post("/values/{value_id:str}", guards=[requires("leader")])
    async def revise_value(self, request: Req, services: Svc, value_id: FromPath[str]) -> Any:
        values = await read_form(request)
        return await self.attempt(
            request, services, f"value-{value_id}", values, "revised", services.cqi.revise_value,
            value_id=value_id, name=text(values, "name"), description=text(values, "description"),
        )

    @post("/values/{value_id:str}/standards", guards=[requires("leader")])
    async def add_standard(self, request: Req, services: Svc, value_id: FromPath[str]) -> Any:
        values = await read_form(request)
        return await self.attempt(
            request, services, f"standard-{value_id}", values, "standard",
            services.cqi.add_standard, value_id=value_id, text=text(values, "text"),
        )

    @post("/values/{value_id:str}/standards/{standard_id:str}/retire",
          guards=[requires("leader")])
    async def retire_standard(self, request: Req, services: Svc, value_id: FromPath[str],
                              standard_id: FromPath[str]) -> Any:
        values = await read_form(request)
        return await self.attempt(
            request, services, f"retire-{standard_id}", values, "retired",
            services.cqi.retire_standard, value_id=value_id, standard_id=standard_id,
        )
