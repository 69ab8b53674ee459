"""Publishing (leaders only): open or close the public pages at /public, and choose which
measures and initiatives they show."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from projections import cycle_board, measure_data, published
from service.application import Receipt
from service.auth import requires
from service.pages_base import Forms, actor, attempt, form_version, page, read_form, see_other, text
from service.pages_measures import TYPE_NAMES
from service.services import Req, Services, Svc

TARGET = "#publishing"
NOTICES = {
    "opened": "The public pages are open: anyone can read what is published, without signing "
              "in.",
    "closed": "The public pages are closed: nothing is public now. What you chose to publish is "
              "kept for when they open again.",
    "published": "Published. It is public while the public pages are open.",
    "withdrawn": "Withdrawn: the public can no longer read it.",
}


def public_address(request: Req) -> str:
    return str(request.base_url).rstrip("/") + "/public"


async def render_publishing(request: Req, services: Services, forms: Forms | None = None,
                            notice: str = "") -> Template:
    forms = forms or Forms()

    async def read(conn: Any) -> dict[str, Any]:
        return {
            "site": await published.site(conn),
            "measures": await measure_data.measures(conn),
            "initiatives": await cycle_board.initiatives(conn),
            "public_measures": set(await published.measure_ids(conn)),
            "public_initiatives": set(await published.initiative_ids(conn)),
        }

    state = await services.read(read)
    return page(request, "publishing.html", "_publishing.html", status_code=forms.status,
                form=forms, notice=notice, public_address=public_address(request),
                version=state["site"]["version"], TYPE_NAMES=TYPE_NAMES, **state)


class PublishingPages(Controller):
    path = "/publishing"
    guards = [requires("leader")]
    include_in_schema = False

    @get("/")
    async def index(self, request: Req, services: Svc,
                    done: FromQuery[str | None] = None) -> Template:
        return await render_publishing(request, services, notice=NOTICES.get(done or "", ""))

    async def change(self, request: Req, services: Services, form: str, done: str,
                     command: Callable[..., Receipt], *args: Any, anchor: str = "",
                     note: bool = False) -> Any:
        values = await read_form(request)
        kwargs = {"note": text(values, "note")} if note else {}
        _, refused = await attempt(services, form, values, command, *args,
                                   actor=actor(request), expected_version=form_version(values),
                                   **kwargs)
        if refused:
            return await render_publishing(request, services, Forms(refused))
        return see_other(request, f"/publishing?done={done}{anchor}", target=TARGET)

    @post("/open")
    async def open_pages(self, request: Req, services: Svc) -> Any:
        return await self.change(request, services, "pages", "opened",
                                 services.cqi.open_public_pages, note=True)

    @post("/close")
    async def close_pages(self, request: Req, services: Svc) -> Any:
        return await self.change(request, services, "pages", "closed",
                                 services.cqi.close_public_pages, note=True)

    @post("/measures/{measure_id:uuid}/publish")
    async def publish_measure(self, request: Req, services: Svc,
                              measure_id: FromPath[uuid.UUID]) -> Any:
        return await self.change(request, services, f"measure-{measure_id}", "published",
                                 services.cqi.publish_measure, measure_id,
                                 anchor=f"#measure-{measure_id}")

    @post("/measures/{measure_id:uuid}/withdraw")
    async def withdraw_measure(self, request: Req, services: Svc,
                               measure_id: FromPath[uuid.UUID]) -> Any:
        return await self.change(request, services, f"measure-{measure_id}", "withdrawn",
                                 services.cqi.withdraw_measure, measure_id,
                                 anchor=f"#measure-{measure_id}")

    @post("/initiatives/{initiative_id:uuid}/publish")
    async def publish_initiative(self, request: Req, services: Svc,
                                 initiative_id: FromPath[uuid.UUID]) -> Any:
        return await self.change(request, services, f"initiative-{initiative_id}", "published",
                                 services.cqi.publish_initiative, initiative_id,
                                 anchor=f"#initiative-{initiative_id}")

    @post("/initiatives/{initiative_id:uuid}/withdraw")
    async def withdraw_initiative(self, request: Req, services: Svc,
                                  initiative_id: FromPath[uuid.UUID]) -> Any:
        return await self.change(request, services, f"initiative-{initiative_id}", "withdrawn",
                                 services.cqi.withdraw_initiative, initiative_id,
                                 anchor=f"#initiative-{initiative_id}")
