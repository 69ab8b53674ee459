"""The JSON API of the published views: /api/v1/publication (leaders only).

A leader opens or closes the public pages (/public, off by default) and publishes or withdraws
measures and initiatives. Nothing is public until the pages are open AND an item is published.
Every change takes an optional If-Match naming the publication's version (0 before its first
change); a stale one is a 412.
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody
from msgspec import Struct

from projections import published
from service import schemas as s
from service.api import ERROR_MEANINGS, etag, expected_version
from service.auth import principal_of, requires
from service.services import Req, Services, Svc

MEANINGS = {
    **ERROR_MEANINGS,
    403: "Only leaders choose what is public.",
    404: "No such measure or initiative.",
    409: "The change would change nothing (already published, not published, already open "
         "or closed); `detail` says which.",
    412: "If-Match names a version of the publication that is no longer current.",
}


def errors(*codes: int) -> dict[int, ResponseSpec]:
    return {
        code: ResponseSpec(data_container=s.ErrorOut, description=MEANINGS[code],
                           generate_examples=False)
        for code in (401, 403, *codes)
    }


class NoteIn(s.Body):
    note: str = ""
    """Why the pages open or close (kept in the publication's history)."""


class PublicationOut(Struct):
    open: bool
    """Whether /public answers; while closed, nothing is public."""
    measure_ids: list[str]
    """The measures a leader published (public only while the pages are open)."""
    initiative_ids: list[str]
    public_url: str
    version: int
    """The publication's version (0: never changed); send it back in If-Match."""


async def publication_out(request: Req, services: Services) -> Response[PublicationOut]:
    async def read(conn: Any) -> tuple[dict[str, Any], list[uuid.UUID], list[uuid.UUID]]:
        return (await published.site(conn), await published.measure_ids(conn),
                await published.initiative_ids(conn))

    site, measure_ids, initiative_ids = await services.read(read)
    return Response(
        PublicationOut(
            open=site["open"], measure_ids=[str(i) for i in measure_ids],
            initiative_ids=[str(i) for i in initiative_ids],
            public_url=str(request.base_url).rstrip("/") + "/public",
            version=site["version"],
        ),
        headers=etag(site["version"]),
    )


class PublicationController(Controller):
    path = "/api/v1/publication"
    tags = ["publication"]
    guards = [requires("leader")]

    @get("/", responses=errors(),
         summary="Whether the public pages are open, and what is published")
    async def read(self, request: Req, services: Svc) -> Response[PublicationOut]:
        return await publication_out(request, services)

    @post("/open", status_code=200, responses=errors(400, 409, 412),
          summary="Open the public pages at /public")
    async def open_pages(
        self, request: Req, services: Svc, data: JSONBody[NoteIn | None] = None
    ) -> Response[PublicationOut]:
        await services.command(
            services.cqi.open_public_pages, actor=principal_of(request).account_id,
            note=data.note if data else "", expected_version=expected_version(request))
        return await publication_out(request, services)

    @post("/close", status_code=200, responses=errors(400, 409, 412),
          summary="Close the public pages: nothing is public, the choices are kept")
    async def close_pages(
        self, request: Req, services: Svc, data: JSONBody[NoteIn | None] = None
    ) -> Response[PublicationOut]:
        await services.command(
            services.cqi.close_public_pages, actor=principal_of(request).account_id,
            note=data.note if data else "", expected_version=expected_version(request))
        return await publication_out(request, services)

    @post("/measures/{measure_id:uuid}/publish", status_code=200,
          responses=errors(400, 404, 409, 412), summary="Publish a measure and its chart")
    async def publish_measure(
        self, request: Req, services: Svc, measure_id: FromPath[uuid.UUID]
    ) -> Response[PublicationOut]:
        await services.command(
            services.cqi.publish_measure, measure_id, actor=principal_of(request).account_id,
            expected_version=expected_version(request))
        return await publication_out(request, services)

    @post("/measures/{measure_id:uuid}/withdraw", status_code=200,
          responses=errors(400, 409, 412), summary="Withdraw a measure from the public pages")
    async def withdraw_measure(
        self, request: Req, services: Svc, measure_id: FromPath[uuid.UUID]
    ) -> Response[PublicationOut]:
        await services.command(
            services.cqi.withdraw_measure, measure_id, actor=principal_of(request).account_id,
            expected_version=expected_version(request))
        return await publication_out(request, services)

    @post("/initiatives/{initiative_id:uuid}/publish", status_code=200,
          responses=errors(400, 404, 409, 412),
          summary="Publish an initiative (its charter and cycles; never its team)")
    async def publish_initiative(
        self, request: Req, services: Svc, initiative_id: FromPath[uuid.UUID]
    ) -> Response[PublicationOut]:
        await services.command(
            services.cqi.publish_initiative, initiative_id,
            actor=principal_of(request).account_id, expected_version=expected_version(request))
        return await publication_out(request, services)

    @post("/initiatives/{initiative_id:uuid}/withdraw", status_code=200,
          responses=errors(400, 409, 412),
          summary="Withdraw an initiative from the public pages")
    async def withdraw_initiative(
        self, request: Req, services: Svc, initiative_id: FromPath[uuid.UUID]
    ) -> Response[PublicationOut]:
        await services.command(
            services.cqi.withdraw_initiative, initiative_id,
            actor=principal_of(request).account_id, expected_version=expected_version(request))
        return await publication_out(request, services)


PUBLICATION_CONTROLLERS = [PublicationController]
