"""The JSON API under /api/v1: the same commands and views as the web UI."""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Response, get, post, put
from litestar.datastructures import ResponseHeader
from litestar.exceptions import ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, QueryParameter

from domain.errors import NotFoundError
from domain.initiative import ACTIVE, CONCLUSIONS, PROPOSED, Initiative
from domain.mission import Mission
from projections import cycle_board, overdue_revisits
from projections.accounts import actor_names
from service import schemas as s
from service.application import Receipt
from service.auth import demand, principal_of, requires
from service.paging import MAX_OFFSET
from service.services import Req, Services, Svc

ERROR_MEANINGS = {
    400: "The body, a parameter or If-Match is malformed; `errors` names each field.",
    401: "No credentials, or a token that is unknown, revoked or of a deactivated account.",
    403: "The account's role may not do this.",
    404: "No such initiative, cycle, value or revisit (or no such past version).",
    409: "The domain refuses this move now; `detail` says why.",
    412: "If-Match names a version that is no longer current.",
}


def errors(*codes: int) -> dict[int, ResponseSpec]:
    """The error responses a route documents: 401 and 403 (every route here is guarded) and
    `codes`; all with the body the app's exception handlers send."""
    return {
        code: ResponseSpec(data_container=s.ErrorOut, description=ERROR_MEANINGS[code],
                           generate_examples=False)
        for code in (401, 403, *codes)
    }


def page_errors(*codes: int) -> dict[int, ResponseSpec]:
    """The error responses of a route outside /api/ (an image that pages embed): the app answers
    them with its HTML error page, and sends a caller without credentials to sign in (303)."""
    return {
        303: ResponseSpec(data_container=None, description="No credentials: go to /sign-in."),
        **{code: ResponseSpec(data_container=str, media_type="text/html",
                              description=ERROR_MEANINGS[code], generate_examples=False)
           for code in (403, *codes)},
    }


WRITE = (400, 404, 409, 412)  # a command on an existing aggregate
STATUSES = (PROPOSED, ACTIVE, *CONCLUSIONS)


def expected_version(request: Req) -> int | None:
    """The version named by If-Match (`3`, `"3"` or `W/"3"`); None when absent or `*`."""
    raw = request.headers.get("if-match")
    if raw is None or raw.strip() == "*":
        return None
    text = raw.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise ValidationException(
            "If-Match must carry the version you read, e.g. If-Match: \"3\"",
            extra={"If-Match": "must be a version number"},
        )
    return int(text)


def etag(version: int) -> dict[str, str]:
    return {"ETag": f'"{version}"'}


# --- presenters ------------------------------------------------------------------------


def value_out(value: Any) -> s.ValueOut:
    return s.ValueOut(
        id=value.id, name=value.name, description=value.description,
        standards=[s.StandardOut(id=x.id, text=x.text) for x in value.active_standards()],
    )


def initiative_out(initiative: Initiative) -> s.InitiativeOut:
    return s.InitiativeOut(
        id=str(initiative.id), title=initiative.title, problem=initiative.problem,
        aim=initiative.aim, status=initiative.status, version=initiative.version,
        value_ids=list(initiative.value_ids),
        team=[s.TeamMemberOut(m.name, m.kind, m.role) for m in initiative.team],
        cycles=[
            s.CycleOut(
                number=c.number, phase=c.phase, value_id=c.value_id, measure=c.measure,
                intervention=c.intervention, training_step=c.training_step,
                objective=c.objective, prediction=c.prediction, questions=c.questions,
                logistics=c.logistics, adapted_from=c.adapted_from,
                observations=c.observations, data_collected=c.data_collected, result=c.result,
                learning=c.learning, decision=c.decision, rationale=c.rationale,
                measure_id=c.measure_id, started_on=c.started_on, studied_on=c.studied_on,
            )
            for c in initiative.cycles
        ],
        updated_at=initiative.modified_on,
    )


def event_data(domain_event: Any) -> dict[str, Any]:
    hidden = {"originator_id", "originator_version", "originator_topic", "timestamp", "actor",
              "password_hash", "secret_hash"}
    return {k: v for k, v in vars(domain_event).items() if k not in hidden}


def event_type(domain_event: Any) -> str:
    return type(domain_event).__qualname__.rsplit(".", 1)[-1]


async def history_entries(services: Services, aggregate_id: uuid.UUID) -> list[s.HistoryEntry]:
    events = await services.call(lambda: list(services.cqi.history(aggregate_id)))
    if not events:
        raise NotFoundError(f"Nothing has id {aggregate_id}.")
    names = await services.read(actor_names)
    return [
        s.HistoryEntry(
            version=e.originator_version, type=event_type(e), at=e.timestamp, actor=e.actor,
            actor_login=names.get(e.actor), data=msgspec.to_builtins(event_data(e)),
        )
        for e in events
    ]


def parse_moment(raw: str, services: Services) -> datetime:
    moment = services.moment(raw)
    if moment is None:
        raise ValidationException(
            "as_of must be an ISO 8601 date or date-time, e.g. 2026-03-01T09:30:00Z",
            extra={"as_of": "is not an ISO 8601 date or date-time"},
        )
    return moment


# --- controllers -----------------------------------------------------------------------


async def mission_as_written(services: Services, receipt: Receipt) -> Mission:
    """The mission as this command left it (not as a later command may have left it since)."""
    return await services.call(services.cqi.load, Mission, receipt.id, receipt.version)


WRITER_HEADER = "CQI-Projection-Writer"


class HealthController(Controller):
    path = "/api/v1/health"
    tags = ["health"]

    @get("/", summary="200 once the database answers and the views are being updated",
         responses={503: ResponseSpec(
             s.Health, description="The database does not answer, or the views are not being "
                                   "updated (writes are stored; lists lag behind).",
             generate_examples=False)},
         response_headers=[ResponseHeader(
             name=WRITER_HEADER, documentation_only=True,
             description='"yes" when the views are written by this process, or by the views '
                         'process `cqi serve` started beside it (one writer per database, among '
                         'all replicas), else "no".')])
    async def health(self, services: Svc) -> Response[s.Health]:
        runner = services.runner
        head = await services.log_head()
        # (While the database does not answer, only this process's own part is known.)
        writes = runner.is_leader if head is None else await services.writes_views()
        writer = {WRITER_HEADER: "yes" if writes else "no"}
        if head is None:
            return Response(s.Health("unavailable", "the database does not answer"),
                            status_code=503, headers=writer)
        if runner.error is not None:
            return Response(s.Health("degraded", "the views are not being updated: "
                                     f"{type(runner.error).__name__}"), status_code=503,
                            headers=writer)
        still = runner.stalled_for(head, time.monotonic())
        if still is not None:
            return Response(s.Health("degraded", f"the views have not moved for {still:.0f} s: "
                                     f"they stand at notification {runner.progress.position}, "
                                     f"the log at {head}"), status_code=503, headers=writer)
        return Response(s.Health("ok"), headers=writer)


class MissionController(Controller):
    path = "/api/v1"
    tags = ["mission and values"]

    @get("/mission", guards=[requires("viewer")], responses=errors())
    async def read_mission(self, services: Svc) -> Response[s.MissionOut]:
        mission = await services.call(services.cqi.mission)
        if mission is None:
            return Response(s.MissionOut("", "", None, 0, 0), headers=etag(0))
        return Response(
            s.MissionOut(mission.mission, mission.vision, mission.revisit_every_months,
                         mission.revision, mission.version),
            headers=etag(mission.version),
        )

    @put("/mission", guards=[requires("leader")], responses=errors(400, 409, 412))
    async def write_mission(
        self, request: Req, services: Svc, data: JSONBody[s.MissionIn]
    ) -> Response[s.MissionOut]:
        receipt = await services.command(
            services.cqi.write_mission, actor=principal_of(request).account_id,
            mission=data.mission, vision=data.vision,
            revisit_every_months=data.revisit_every_months,
            expected_version=expected_version(request),
        )
        mission = await mission_as_written(services, receipt)
        return Response(
            s.MissionOut(mission.mission, mission.vision, mission.revisit_every_months,
                         mission.revision, mission.version),
            headers=etag(mission.version),
        )

    @get("/values", guards=[requires("viewer")], responses=errors())
    async def list_values(self, services: Svc) -> list[s.ValueOut]:
        mission = await services.call(services.cqi.mission)
        return [value_out(v) for v in mission.active_values()] if mission else []

    @post("/values", guards=[requires("leader")], responses=errors(400, 409, 412))
    async def add_value(
        self, request: Req, services: Svc, data: JSONBody[s.ValueIn]
    ) -> Response[s.ValueOut]:
        receipt = await services.command(
            services.cqi.add_value, actor=principal_of(request).account_id, name=data.name,
            description=data.description, expected_version=expected_version(request),
        )
        mission = await mission_as_written(services, receipt)
        return Response(value_out(mission.value(receipt.detail)), status_code=201,
                        headers=etag(receipt.version))

    @put("/values/{value_id:str}", guards=[requires("leader")], responses=errors(*WRITE))
    async def revise_value(
        self, request: Req, services: Svc, value_id: FromPath[str],
        data: JSONBody[s.ValueIn],
    ) -> Response[s.ValueOut]:
        receipt = await services.command(
            services.cqi.revise_value, actor=principal_of(request).account_id,
            value_id=value_id, name=data.name, description=data.description,
            expected_version=expected_version(request),
        )
        mission = await mission_as_written(services, receipt)
        return Response(value_out(mission.value(value_id)), headers=etag(receipt.version))

    @post("/values/{value_id:str}/standards", guards=[requires("leader")], responses=errors(*WRITE))
    async def add_standard(
        self, request: Req, services: Svc, value_id: FromPath[str],
        data: JSONBody[s.StandardIn],
    ) -> Response[s.ValueOut]:
        receipt = await services.command(
            services.cqi.add_standard, actor=principal_of(request).account_id,
            value_id=value_id, text=data.text, expected_version=expected_version(request),
        )
        mission = await mission_as_written(services, receipt)
        return Response(value_out(mission.value(value_id)), status_code=201,
                        headers=etag(receipt.version))


class InitiativeController(Controller):
    path = "/api/v1/initiatives"
    tags = ["initiatives and cycles"]

    @get("/", guards=[requires("viewer")], responses=errors(400))
    async def list_initiatives(
        self, services: Svc,
        status: Annotated[str | None, QueryParameter(
            description="proposed | active | sustained | closed | abandoned")] = None,
        limit: Annotated[int | None, QueryParameter(
            ge=1, le=1000, description="At most this many initiatives (1 to 1000), most "
            "recently active first; the X-Total-Count header says how many there are, a Link "
            "header names the next page. Without it, every initiative.")] = None,
        offset: Annotated[int, QueryParameter(
            ge=0, le=MAX_OFFSET, description="Skip this many first (with `limit`)")] = 0,
    ) -> Response[list[s.InitiativeSummary]]:
        if status is not None and status not in STATUSES:
            raise ValidationException(
                "status must be one of: " + ", ".join(STATUSES),
                extra={"status": "must be one of: " + ", ".join(STATUSES)},
            )
        headers: dict[str, str] = {}
        if limit is None:
            rows = await services.read(cycle_board.initiatives, status)
        else:
            # the count and the rows from one snapshot: they agree while others write
            async with services.pool.acquire() as conn, conn.transaction(
                    isolation="repeatable_read", readonly=True):
                total = await cycle_board.initiatives_count(conn, status, None)
                rows = await cycle_board.initiatives_page(conn, status, None, limit, offset)
            headers["X-Total-Count"] = str(total)
            if offset + limit < total:
                query = f"status={status}&" if status else ""
                headers["Link"] = (f"</api/v1/initiatives?{query}limit={limit}"
                                   f'&offset={offset + limit}>; rel="next"')
        return Response([
            s.InitiativeSummary(
                id=str(r["initiative_id"]), title=r["title"], status=r["status"],
                current_cycle=s.CycleRef(r["cycle_number"], r["phase"])
                if r["cycle_number"] else None,
                version=r["version"], updated_at=r["updated_at"],
            )
            for r in rows
        ], headers=headers)

    @post("/", guards=[requires("member")], responses=errors(400, 409))
    async def open_initiative(
        self, request: Req, services: Svc, data: JSONBody[s.InitiativeIn]
    ) -> Response[s.Created]:
        receipt = await services.command(
            services.cqi.open_initiative, actor=principal_of(request).account_id,
            title=data.title, problem=data.problem, aim=data.aim, value_ids=data.value_ids,
            team=[msgspec.to_builtins(m) for m in data.team],
        )
        return Response(s.Created(str(receipt.id), receipt.version), status_code=201,
                        headers={**etag(receipt.version),
                                 "Location": f"/api/v1/initiatives/{receipt.id}"})

    @get("/{initiative_id:uuid}", guards=[requires("viewer")], responses=errors(400, 404))
    async def read_initiative(
        self, request: Req, services: Svc, initiative_id: FromPath[uuid.UUID],
        version: Annotated[int | None, QueryParameter(ge=1, description="a past version")] = None,
        as_of: Annotated[str | None, QueryParameter(
            description="ISO 8601 date-time: the state at that moment")] = None,
    ) -> Response[s.InitiativeOut]:
        if version is not None or as_of is not None:
            demand(request, "auditor")  # past states are for auditors
        if as_of is not None:
            moment = parse_moment(as_of, services)
            version = await services.call(services.cqi.version_at, initiative_id, moment)
            if version is None:
                raise NotFoundError(f"Initiative {initiative_id} did not exist yet at {as_of}.")
        if version is None:  # the current state (snapshots speed it up)
            initiative = await services.call(services.cqi.load, Initiative, initiative_id)
        else:  # a past state, for auditors: from the chained events alone
            initiative = await services.call(services.cqi.replay, Initiative, initiative_id,
                                             version)
        if version is not None and initiative.version != version:
            raise NotFoundError(
                f"Initiative {initiative_id} has no version {version} "
                f"(its latest is {initiative.version})."
            )
        return Response(initiative_out(initiative), headers=etag(initiative.version))

    @get("/{initiative_id:uuid}/history", guards=[requires("auditor")],
         responses=errors(400, 404))
    async def history(
        self, services: Svc, initiative_id: FromPath[uuid.UUID]
    ) -> list[s.HistoryEntry]:
        await services.call(services.cqi.load, Initiative, initiative_id)  # 404 if not one
        return await history_entries(services, initiative_id)

    @put("/{initiative_id:uuid}", guards=[requires("member")], responses=errors(*WRITE))
    async def revise_charter(
        self, request: Req, services: Svc, initiative_id: FromPath[uuid.UUID],
        data: JSONBody[s.CharterIn],
    ) -> Response[s.VersionOut]:
        receipt = await services.command(
            services.cqi.revise_charter, initiative_id, actor=principal_of(request).account_id,
            title=data.title, problem=data.problem, aim=data.aim, value_ids=data.value_ids,
            expected_version=expected_version(request),
        )
        return Response(s.VersionOut(receipt.version), headers=etag(receipt.version))

    @post("/{initiative_id:uuid}/team", guards=[requires("member")], status_code=200,
          responses=errors(*WRITE))
    async def add_team_member(
        self, request: Req, services: Svc, initiative_id: FromPath[uuid.UUID],
        data: JSONBody[s.TeamMemberIn],
    ) -> Response[s.VersionOut]:
        receipt = await services.command(
            services.cqi.add_team_member, initiative_id, actor=principal_of(request).account_id,
            name=data.name, kind=data.kind, role=data.role,
            expected_version=expected_version(request),
        )
        return Response(s.VersionOut(receipt.version), headers=etag(receipt.version))

    @post("/{initiative_id:uuid}/conclude", guards=[requires("member")], status_code=200,
          responses=errors(*WRITE))
    async def conclude(
        self, request: Req, services: Svc, initiative_id: FromPath[uuid.UUID],
        data: JSONBody[s.ConcludeIn],
    ) -> Response[s.VersionOut]:
        receipt = await services.command(
            services.cqi.conclude_initiative, initiative_id,
            actor=principal_of(request).account_id, outcome=data.outcome, note=data.note,
            expected_version=expected_version(request),
        )
        return Response(s.VersionOut(receipt.version), headers=etag(receipt.version))

    @post("/{initiative_id:uuid}/cycles", guards=[requires("member")], responses=errors(*WRITE))
    async def plan_cycle(
        self, request: Req, services: Svc, initiative_id: FromPath[uuid.UUID],
        data: JSONBody[s.PlanIn],
    ) -> Response[s.CyclePlanned]:
        receipt = await services.command(
            services.cqi.plan_cycle, initiative_id, actor=principal_of(request).account_id,
            plan=msgspec.to_builtins(data), expected_version=expected_version(request),
        )
        return Response(s.CyclePlanned(receipt.detail, receipt.version), status_code=201,
                        headers=etag(receipt.version))

    @put("/{initiative_id:uuid}/cycles/{number:int}/plan", guards=[requires("member")],
         responses=errors(*WRITE))
    async def revise_plan(
        self, request: Req, services: Svc, initiative_id: FromPath[uuid.UUID],
        number: FromPath[int], data: JSONBody[s.PlanIn],
    ) -> Response[s.VersionOut]:
        receipt = await services.command(
            services.cqi.revise_plan, initiative_id, number,
            actor=principal_of(request).account_id, plan=msgspec.to_builtins(data),
            expected_version=expected_version(request),
        )
        return Response(s.VersionOut(receipt.version), headers=etag(receipt.version))

    @post("/{initiative_id:uuid}/cycles/{number:int}/do", guards=[requires("member")],
          status_code=200, responses=errors(*WRITE))
    async def record_do(
        self, request: Req, services: Svc, initiative_id: FromPath[uuid.UUID],
        number: FromPath[int], data: JSONBody[s.DoIn],
    ) -> Response[s.VersionOut]:
        receipt = await services.command(
            services.cqi.record_do, initiative_id, number,
            actor=principal_of(request).account_id, observations=data.observations,
            data_collected=data.data_collected, started_on=data.started_on,
            today=services.today(), expected_version=expected_version(request),
        )
        return Response(s.VersionOut(receipt.version), headers=etag(receipt.version))

    @post("/{initiative_id:uuid}/cycles/{number:int}/study", guards=[requires("member")],
          status_code=200, responses=errors(*WRITE))
    async def record_study(
        self, request: Req, services: Svc, initiative_id: FromPath[uuid.UUID],
        number: FromPath[int], data: JSONBody[s.StudyIn],
    ) -> Response[s.VersionOut]:
        receipt = await services.command(
            services.cqi.record_study, initiative_id, number,
            actor=principal_of(request).account_id, result=data.result, learning=data.learning,
            studied_on=data.studied_on, today=services.today(),
            expected_version=expected_version(request),
        )
        return Response(s.VersionOut(receipt.version), headers=etag(receipt.version))

    @post("/{initiative_id:uuid}/cycles/{number:int}/act", guards=[requires("member")],
          status_code=200, responses=errors(*WRITE))
    async def decide_act(
        self, request: Req, services: Svc, initiative_id: FromPath[uuid.UUID],
        number: FromPath[int], data: JSONBody[s.ActIn],
    ) -> Response[s.ActOut]:
        receipt = await services.command(
            services.cqi.decide_act, initiative_id, number,
            actor=principal_of(request).account_id, decision=data.decision,
            rationale=data.rationale, expected_version=expected_version(request),
        )
        return Response(s.ActOut(receipt.version, receipt.detail), headers=etag(receipt.version))


class BoardController(Controller):
    path = "/api/v1/board"
    tags = ["initiatives and cycles"]

    @get("/", guards=[requires("viewer")], responses=errors())
    async def board(self, services: Svc) -> list[s.BoardRow]:
        rows = await services.read(cycle_board.board)
        return [
            s.BoardRow(
                initiative_id=str(r["initiative_id"]), title=r["title"],
                cycle_number=r["cycle_number"], phase=r["phase"], value_id=r["cycle_value_id"],
                value_name=r["cycle_value_name"], updated_at=r["updated_at"],
            )
            for r in rows
        ]


def revisit_out(row: Any) -> s.RevisitOut:
    return s.RevisitOut(
        id=str(row["revisit_id"]), subject=row["subject"], subject_label=row["subject_label"],
        due_on=row["due_on"], days_overdue=row["days_overdue"], status=row["status"],
        participants=list(row["participants"]), every_months=row["every_months"],
        held_on=row["held_on"], outcome=row["outcome"], version=row["version"],
    )


class RevisitController(Controller):
    path = "/api/v1/revisits"
    tags = ["revisits"]

    @get("/", guards=[requires("viewer")], responses=errors(400))
    async def list_revisits(
        self, services: Svc,
        status: Annotated[str | None, QueryParameter(
            description="overdue | scheduled | held; all when absent")] = None,
    ) -> list[s.RevisitOut]:
        if status is not None and status not in overdue_revisits.STATUSES:
            raise ValidationException(
                "status must be overdue, scheduled or held",
                extra={"status": "must be overdue, scheduled or held"},
            )
        rows = await services.read(overdue_revisits.revisits, services.today(), status)
        return [revisit_out(r) for r in rows]

    @post("/", guards=[requires("leader")], responses=errors(400, 409))
    async def schedule(
        self, request: Req, services: Svc, data: JSONBody[s.RevisitIn]
    ) -> Response[s.RevisitCreated]:
        receipt = await services.command(
            services.cqi.schedule_revisit, actor=principal_of(request).account_id,
            subject=data.subject, due_on=data.due_on, participants=data.participants,
            every_months=data.every_months,
        )
        return Response(s.RevisitCreated(str(receipt.id), receipt.version), status_code=201,
                        headers=etag(receipt.version))

    @post("/{revisit_id:uuid}/complete", guards=[requires("leader")], status_code=200,
          responses=errors(*WRITE))
    async def complete(
        self, request: Req, services: Svc, revisit_id: FromPath[uuid.UUID],
        data: JSONBody[s.RevisitCompleteIn],
    ) -> Response[s.RevisitCompleted]:
        receipt = await services.command(
            services.cqi.complete_revisit, revisit_id, actor=principal_of(request).account_id,
            held_on=data.held_on or services.today(), outcome=data.outcome, notes=data.notes,
            today=services.today(),
            expected_version=expected_version(request),
        )
        next_id = str(receipt.also_saved[0]) if receipt.also_saved else None
        return Response(s.RevisitCompleted(str(revisit_id), receipt.version, next_id),
                        headers=etag(receipt.version))

    @post("/{revisit_id:uuid}/reschedule", guards=[requires("leader")], status_code=200,
          responses=errors(*WRITE))
    async def reschedule(
        self, request: Req, services: Svc, revisit_id: FromPath[uuid.UUID],
        data: JSONBody[s.RevisitRescheduleIn],
    ) -> Response[s.VersionOut]:
        receipt = await services.command(
            services.cqi.reschedule_revisit, revisit_id,
            actor=principal_of(request).account_id, due_on=data.due_on, reason=data.reason,
            expected_version=expected_version(request),
        )
        return Response(s.VersionOut(receipt.version), headers=etag(receipt.version))


API_CONTROLLERS = [HealthController, MissionController, InitiativeController, BoardController,
                   RevisitController]
