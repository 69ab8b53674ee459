"""How a measure's charts are read, set by CQI team members (and leaders) and kept as events:

    PUT    /api/v1/measures/{id}/baseline            freeze: limits from the points up to `through`
    DELETE /api/v1/measures/{id}/baseline            unfreeze
    POST   /api/v1/measures/{id}/phases              a phase starts at `period` (limits afresh)
    DELETE /api/v1/measures/{id}/phases/{period}
    POST   /api/v1/measures/{id}/data/{period}/exclude      left out of the limits, with a reason
    POST   /api/v1/measures/{id}/data/{period}/include      back in, with a reason
    POST   /api/v1/measures/{id}/data/{period}/astronomical flagged by a person (IHI), with why
    DELETE /api/v1/measures/{id}/data/{period}/astronomical
    POST   /api/v1/measures/{id}/annotations         a note on the time axis
    DELETE /api/v1/measures/{id}/annotations/{on}

Each answers with the measure's new version (and ETag); If-Match is honoured as everywhere.
GET /api/v1/measures/{id} shows the settings; the chart endpoints draw with them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from litestar import Controller, Response, delete, post, put
from litestar.params import FromPath, JSONBody

from service import schemas_measures as m
from service.api import etag, expected_version
from service.api_measures import WRITE, errors, parse_period
from service.auth import principal_of, requires
from service.services import Req, Services, Svc


async def _save(request: Req, services: Services, command: Callable[..., Any],
                measure_id: uuid.UUID, status: int = 200, **arguments: Any
                ) -> Response[m.SettingSaved]:
    receipt = await services.command(
        command, measure_id, actor=principal_of(request).account_id,
        expected_version=expected_version(request), **arguments)
    return Response(m.SettingSaved(receipt.version), status_code=status,
                    headers=etag(receipt.version))


class ChartSettingsController(Controller):
    path = "/api/v1/measures/{measure_id:uuid}"
    tags = ["measures and data"]
    guards = [requires("member")]

    @put("/baseline", responses=errors(*WRITE),
         summary="Freeze the baseline: centre and limits from the points up to `through`")
    async def freeze(self, request: Req, services: Svc, measure_id: FromPath[uuid.UUID],
                     data: JSONBody[m.BaselineIn]) -> Response[m.SettingSaved]:
        return await _save(request, services, services.cqi.freeze_baseline, measure_id,
                           through=data.through)

    @delete("/baseline", status_code=200, responses=errors(*WRITE),
            summary="Unfreeze the baseline: limits from every point again")
    async def unfreeze(self, request: Req, services: Svc, measure_id: FromPath[uuid.UUID]
                       ) -> Response[m.SettingSaved]:
        return await _save(request, services, services.cqi.unfreeze_baseline, measure_id)

    @post("/phases", responses=errors(*WRITE),
          summary="Start a phase: centre and limits computed afresh from `period`")
    async def start_phase(self, request: Req, services: Svc, measure_id: FromPath[uuid.UUID],
                          data: JSONBody[m.PhaseIn]) -> Response[m.SettingSaved]:
        return await _save(request, services, services.cqi.start_phase, measure_id, 201,
                           period=data.period, label=data.label)

    @delete("/phases/{period:str}", status_code=200, responses=errors(*WRITE),
            summary="Remove the phase that starts at `period`")
    async def remove_phase(self, request: Req, services: Svc, measure_id: FromPath[uuid.UUID],
                           period: FromPath[str]) -> Response[m.SettingSaved]:
        return await _save(request, services, services.cqi.remove_phase, measure_id,
                           period=parse_period(period))

    @post("/data/{period:str}/exclude", status_code=200, responses=errors(*WRITE),
          summary="Leave a point out of the centre line, limits and run rules (still plotted)")
    async def exclude(self, request: Req, services: Svc, measure_id: FromPath[uuid.UUID],
                      period: FromPath[str], data: JSONBody[m.ReasonIn]
                      ) -> Response[m.SettingSaved]:
        return await _save(request, services, services.cqi.exclude_point, measure_id,
                           period=parse_period(period), reason=data.reason)

    @post("/data/{period:str}/include", status_code=200, responses=errors(*WRITE),
          summary="Take an excluded point back into the limits")
    async def include(self, request: Req, services: Svc, measure_id: FromPath[uuid.UUID],
                      period: FromPath[str], data: JSONBody[m.ReasonIn]
                      ) -> Response[m.SettingSaved]:
        return await _save(request, services, services.cqi.include_point, measure_id,
                           period=parse_period(period), reason=data.reason)

    @post("/data/{period:str}/astronomical", status_code=200, responses=errors(*WRITE),
          summary="Flag a point as astronomical (IHI: a person's judgement, never computed)")
    async def flag(self, request: Req, services: Svc, measure_id: FromPath[uuid.UUID],
                   period: FromPath[str], data: JSONBody[m.ReasonIn]
                   ) -> Response[m.SettingSaved]:
        return await _save(request, services, services.cqi.flag_astronomical, measure_id,
                           period=parse_period(period), reason=data.reason)

    @delete("/data/{period:str}/astronomical", status_code=200, responses=errors(*WRITE),
            summary="Remove a point's astronomical flag")
    async def unflag(self, request: Req, services: Svc, measure_id: FromPath[uuid.UUID],
                     period: FromPath[str]) -> Response[m.SettingSaved]:
        return await _save(request, services, services.cqi.unflag_astronomical, measure_id,
                           period=parse_period(period))

    @post("/annotations", responses=errors(*WRITE),
          summary="Annotate the chart's time axis on a day (any day up to today)")
    async def annotate(self, request: Req, services: Svc, measure_id: FromPath[uuid.UUID],
                       data: JSONBody[m.AnnotationIn]) -> Response[m.SettingSaved]:
        return await _save(request, services, services.cqi.annotate_measure, measure_id, 201,
                           on=data.on, text=data.text, today=services.today())

    @delete("/annotations/{on:str}", status_code=200, responses=errors(*WRITE),
            summary="Remove the annotation on a day")
    async def remove_annotation(self, request: Req, services: Svc,
                                measure_id: FromPath[uuid.UUID], on: FromPath[str]
                                ) -> Response[m.SettingSaved]:
        return await _save(request, services, services.cqi.remove_annotation, measure_id,
                           on=parse_period(on, "on"))
