"""Revisits of the mission, vision and values: scheduled (overdue ones in red) and held."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from domain.revisit import add_months
from projections import overdue_revisits
from service.auth import requires
from service.pages_base import (
    Forms,
    FormState,
    actor,
    attempt,
    calendar_day,
    form_version,
    lines,
    page,
    read_form,
    see_other,
    text,
    whole_number,
)
from service.services import Req, Services, Svc

TARGET = "#revisits"
SUBJECTS = (("mission", "The mission"), ("vision", "The vision"), ("values", "All the values"))


async def render_revisits(
    request: Req, services: Services, forms: Forms | None = None, *,
    held: str | None = None, notice: str = "",
) -> Template:
    forms = forms or Forms()
    today = services.today()
    rows = await services.read(overdue_revisits.revisits, today, None)
    mission = await services.call(services.cqi.mission)
    scheduled = [r for r in rows if r["status"] == "scheduled"]
    done = [r for r in rows if r["status"] == "held"]
    done.sort(key=lambda r: r["held_on"], reverse=True)
    if held:  # just recorded: say when the next one is due, if a cadence made one
        row = next((r for r in done if str(r["revisit_id"]) == held), None)
        if row is not None:
            notice = f"The revisit of “{row['subject_label']}” is recorded as held."
            if row["every_months"]:
                due = add_months(row["held_on"], row["every_months"])
                notice += (f" The next one is scheduled automatically for {due.day} "
                           f"{due:%b %Y} (every {row['every_months']} months).")
    subjects = list(SUBJECTS)
    if mission is not None:
        subjects += [(v.id, f"The value: {v.name}") for v in mission.active_values()]
    return page(
        request, "revisits.html", "_revisits.html", status_code=forms.status,
        scheduled=scheduled, held=done, today=today, form=forms, notice=notice,
        subjects=subjects, cadence=mission.revisit_every_months if mission else None,
    )


def one_participants_field(key: str) -> str:
    """The domain names each participant ("participants[2]"); the form has one field for all."""
    return "participants" if key.startswith("participants[") else key


class RevisitPages(Controller):
    path = "/revisits"
    guards = [requires("viewer")]
    include_in_schema = False

    @get("/")
    async def index(self, request: Req, services: Svc, held: FromQuery[str | None] = None,
                    done: FromQuery[str | None] = None) -> Template:
        notice = {"scheduled": "The revisit is scheduled.",
                  "rescheduled": "The revisit is rescheduled."}.get(done or "", "")
        return await render_revisits(request, services, held=held, notice=notice)

    async def attempt(self, services: Services, form: str, values: dict[str, Any], fn: Any,
                      *args: Any, **kwargs: Any) -> tuple[Any, FormState | None]:
        return await attempt(services, form, values, fn, *args, rename=one_participants_field,
                             **kwargs)

    @post("/", guards=[requires("leader")])
    async def schedule(self, request: Req, services: Svc) -> Any:
        values = await read_form(request)
        receipt, refused = await self.attempt(
            services, "schedule", values, services.cqi.schedule_revisit, actor=actor(request),
            subject=text(values, "subject"), due_on=calendar_day(text(values, "due_on")),
            participants=lines(text(values, "participants")),
            every_months=whole_number(text(values, "every_months")),
        )
        if refused:
            return await render_revisits(request, services, Forms(refused))
        return see_other(request, f"/revisits?done=scheduled#r-{receipt.id}", target=TARGET)

    @post("/{revisit_id:uuid}/complete", guards=[requires("leader")])
    async def complete(self, request: Req, services: Svc,
                       revisit_id: FromPath[uuid.UUID]) -> Any:
        values = await read_form(request)
        held_on = text(values, "held_on")
        receipt, refused = await self.attempt(
            services, f"complete-{revisit_id}", values, services.cqi.complete_revisit,
            revisit_id, actor=actor(request),
            held_on=calendar_day(held_on) if held_on.strip() else services.today(),
            outcome=text(values, "outcome"), notes=text(values, "notes"),
            today=services.today(), expected_version=form_version(values),
        )
        if refused:
            return await render_revisits(request, services, Forms(refused))
        anchor = receipt.also_saved[0] if receipt.also_saved else revisit_id
        return see_other(request, f"/revisits?held={revisit_id}#r-{anchor}", target=TARGET)

    @post("/{revisit_id:uuid}/reschedule", guards=[requires("leader")])
    async def reschedule(self, request: Req, services: Svc,
                         revisit_id: FromPath[uuid.UUID]) -> Any:
        values = await read_form(request)
        _, refused = await self.attempt(
            services, f"reschedule-{revisit_id}", values, services.cqi.reschedule_revisit,
            revisit_id, actor=actor(request), due_on=calendar_day(text(values, "due_on")),
            reason=text(values, "reason"), expected_version=form_version(values),
        )
        if refused:
            return await render_revisits(request, services, Forms(refused))
        return see_other(request, f"/revisits?done=rescheduled#r-{revisit_id}", target=TARGET)
