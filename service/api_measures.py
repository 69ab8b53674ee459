"""The JSON API of measures and their data: /api/v1/measures.

Who may do what: viewers (and every role above) read measures, their data and exports; CQI team
members record, correct and import data points; leaders define and revise measures. Measures are
agency-wide and one definition is shared by every initiative that uses it, so changing what a
measure means is a leader's call, like the values it serves.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from litestar import Controller, Response, get, post, put
from litestar.exceptions import ClientException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema
from litestar.params import FromPath, JSONBody, QueryParameter, RawBody

from domain.errors import NotFoundError, ValidationError
from domain.measure import Measure
from projections import measure_data
from service import measure_csv
from service import schemas as s
from service import schemas_measures as m
from service.api import ERROR_MEANINGS, etag, expected_version, history_entries
from service.auth import principal_of, requires
from service.paging import MAX_OFFSET
from service.services import Req, Services, Svc

MEANINGS = {
    **ERROR_MEANINGS,
    400: "The body, a parameter or If-Match is malformed; `errors` names each field (for an "
         "import: each bad line, as `line N`, or `file`).",
    404: "No such measure, or no data point for that period.",
    409: "The domain refuses this now (a period that already has a data point; a new unit or "
         "frequency for a measure with data); `detail` says why.",
    413: "The body is larger than the API accepts at all (2 MB).",
    415: "The import's body is not CSV: send the file itself with Content-Type: text/csv.",
}
CSV_TYPES = {"text/csv", "text/plain", "application/csv", "application/vnd.ms-excel",
             "application/octet-stream"}


def errors(*codes: int) -> dict[int, ResponseSpec]:
    """401 and 403 (every route is guarded) and `codes`, with the body the app sends."""
    return {
        code: ResponseSpec(data_container=s.ErrorOut, description=MEANINGS[code],
                           generate_examples=False)
        for code in (401, 403, *codes)
    }


WRITE = (400, 404, 409, 412)


@dataclass
class CsvBodyOperation(Operation):
    """Litestar documents no request body for a raw `body` parameter: this one is a CSV file."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            content={"text/csv": OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))},
            description="The CSV file: a header line naming the columns, then one row per "
                        "period.",
            required=True,
        )


def whole(number: Any) -> Any:
    """12.0 as 12: counts read back from the view as they were entered."""
    if isinstance(number, float) and number.is_integer() and abs(number) < 1e15:
        return int(number)
    return number


def parse_period(raw: str, field: str = "period") -> date:
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", raw):
        try:
            return date.fromisoformat(raw)
        except ValueError:
            pass
    raise ValidationException(f"{field} must be a date written YYYY-MM-DD",
                              extra={field: "must be a date written YYYY-MM-DD"})


def measure_out(measure: Measure) -> m.MeasureOut:
    d = measure.definition
    data = measure.data()
    return m.MeasureOut(
        id=str(measure.id), name=measure.name, type=measure.type,
        definition=m.DefinitionOut(d.numerator, d.denominator, d.data_source, d.owner,
                                   d.frequency),
        unit=measure.unit, direction=measure.direction, goal=measure.goal,
        value_ids=list(measure.value_ids), points=len(data),
        first_period=data[0].period if data else None,
        last_period=data[-1].period if data else None,
        version=measure.version, updated_at=measure.modified_on,
        chart=chart_settings_out(measure),
    )


def chart_settings_out(measure: Measure) -> m.ChartSettingsOut:
    def notes(by_day: dict[str, str]) -> list[m.PeriodNote]:
        return [m.PeriodNote(date.fromisoformat(day), text) for day, text in sorted(by_day.items())]

    c = measure.chart
    return m.ChartSettingsOut(
        freeze_through=c.freeze_through, phases=notes(c.phases), excluded=notes(c.excluded),
        astronomical=notes(c.astronomical), annotations=notes(c.annotations))


MAX_LIMIT = 1000


def summary_out(row: Any) -> m.MeasureSummary:
    return m.MeasureSummary(
        id=str(row["measure_id"]), name=row["name"], type=row["type"], unit=row["unit"],
        frequency=row["frequency"], direction=row["direction"], goal=whole(row["goal"]),
        value_ids=list(row["value_ids"]), points=row["points"], last_period=row["last_period"],
        version=row["version"], updated_at=row["updated_at"],
    )


def point_out(row: Any) -> m.PointOut:
    return m.PointOut(
        period=row["period"], value=whole(row["value"]), numerator=whole(row["numerator"]),
        denominator=whole(row["denominator"]), note=row["note"], corrected=row["corrected"],
        corrections=row["corrections"], recorded_at=row["recorded_at"],
        recorded_by=row["recorded_by"], recorded_by_login=row["recorded_by_login"],
        corrected_at=row["corrected_at"],
    )


def entry_out(row: Any) -> m.PointEntryOut:
    return m.PointEntryOut(
        version=row["version"], kind=row["kind"], value=whole(row["value"]),
        numerator=whole(row["numerator"]), denominator=whole(row["denominator"]),
        note=row["note"], reason=row["reason"], at=row["entered_at"], by=row["entered_by"],
        by_login=row["entered_by_login"],
    )


def preview_out(preview: measure_csv.Preview) -> m.ImportPreviewOut:
    return m.ImportPreviewOut(
        rows_read=preview.rows_read, valid=preview.valid,
        rows=[m.ImportRowOut(r.line, r.period, r.value, r.numerator, r.denominator, r.note)
              for r in preview.rows],
        errors=[m.ImportProblemOut(p.line, p.field, p.reason) for p in preview.problems],
    )


def filename(name: str) -> str:
    """An ASCII file name from the measure's name: "Families heard (%)" -> families-heard.csv."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:80].strip("-")
    return f"{slug or 'measure'}.csv"


async def measure_row(services: Services, measure_id: uuid.UUID) -> Any:
    row = await services.read(measure_data.measure, measure_id)
    if row is None:
        raise NotFoundError(f"No measure has id {measure_id}.")
    return row


def check_csv_body(request: Req) -> None:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type and content_type not in CSV_TYPES:
        raise ClientException(
            f"Send the CSV file itself as the body, with Content-Type: text/csv (not "
            f"{content_type}).", status_code=415)


def errors_by_line(errors: dict[str, str], rows: list[measure_csv.Row]) -> dict[str, str]:
    """The domain names an imported point `points[i].field`; the file names it by its line."""
    out: dict[str, str] = {}
    for key, message in errors.items():
        found = re.fullmatch(r"points\[(\d+)\]\.(\w+)", key)
        if found is None:
            out[key] = message
            continue
        line, text = f"line {rows[int(found[1])].line}", f"{found[2]}: {message}"
        out[line] = f"{out[line]}; {text}" if line in out else text
    return out


class MeasureController(Controller):
    path = "/api/v1/measures"
    tags = ["measures and data"]

    @get("/", guards=[requires("viewer")], responses=errors(400),
         summary="Every measure by name, or one page of them with `limit` (and `offset`)")
    async def list_measures(
        self, services: Svc,
        limit: Annotated[int | None, QueryParameter(
            ge=1, le=MAX_LIMIT, description=f"At most this many measures (1 to {MAX_LIMIT}); "
            "the X-Total-Count header says how many there are, a Link header names the next "
            "page. Without it, every measure.")] = None,
        offset: Annotated[int, QueryParameter(
            ge=0, le=MAX_OFFSET, description="Skip this many measures first (with `limit`)")] = 0,
    ) -> Response[list[m.MeasureSummary]]:
        if limit is None:
            rows = await services.read(measure_data.measures)
            return Response([summary_out(row) for row in rows])
        # the count and the rows from one snapshot: they agree while others write
        async with services.pool.acquire() as conn, conn.transaction(
                isolation="repeatable_read", readonly=True):
            total = await measure_data.measures_count(conn, None)
            rows = await measure_data.measures_page(conn, None, limit, offset)
        headers = {"X-Total-Count": str(total)}
        if offset + limit < total:
            headers["Link"] = (f'</api/v1/measures?limit={limit}&offset={offset + limit}>;'
                               ' rel="next"')
        return Response([summary_out(row) for row in rows], headers=headers)

    @post("/", guards=[requires("leader")], responses=errors(400, 409))
    async def define(
        self, request: Req, services: Svc, data: JSONBody[m.MeasureIn]
    ) -> Response[s.Created]:
        receipt = await services.command(
            services.cqi.define_measure, actor=principal_of(request).account_id,
            name=data.name, type=data.type, definition=_definition(data), unit=data.unit,
            direction=data.direction, goal=data.goal, value_ids=data.value_ids,
        )
        return Response(s.Created(str(receipt.id), receipt.version), status_code=201,
                        headers={**etag(receipt.version),
                                 "Location": f"/api/v1/measures/{receipt.id}"})

    @get("/{measure_id:uuid}", guards=[requires("viewer")], responses=errors(400, 404))
    async def read_measure(
        self, services: Svc, measure_id: FromPath[uuid.UUID]
    ) -> Response[m.MeasureOut]:
        measure = await services.call(services.cqi.load, Measure, measure_id)
        return Response(measure_out(measure), headers=etag(measure.version))

    @put("/{measure_id:uuid}", guards=[requires("leader")], responses=errors(*WRITE))
    async def revise(
        self, request: Req, services: Svc, measure_id: FromPath[uuid.UUID],
        data: JSONBody[m.MeasureIn],
    ) -> Response[s.VersionOut]:
        receipt = await services.command(
            services.cqi.revise_measure, measure_id, actor=principal_of(request).account_id,
            name=data.name, type=data.type, definition=_definition(data), unit=data.unit,
            direction=data.direction, goal=data.goal, value_ids=data.value_ids,
            expected_version=expected_version(request),
        )
        return Response(s.VersionOut(receipt.version), headers=etag(receipt.version))

    @get("/{measure_id:uuid}/history", guards=[requires("auditor")], responses=errors(400, 404))
    async def history(
        self, services: Svc, measure_id: FromPath[uuid.UUID]
    ) -> list[s.HistoryEntry]:
        await services.call(services.cqi.load, Measure, measure_id)  # 404 if not one
        return await history_entries(services, measure_id)

    # --- data points ---------------------------------------------------------------------

    @get("/{measure_id:uuid}/data", guards=[requires("viewer")], responses=errors(400, 404))
    async def list_points(
        self, services: Svc, measure_id: FromPath[uuid.UUID]
    ) -> list[m.PointOut]:
        await measure_row(services, measure_id)
        return [point_out(row) for row in await services.read(measure_data.points, measure_id)]

    @post("/{measure_id:uuid}/data", guards=[requires("member")], responses=errors(*WRITE))
    async def record_point(
        self, request: Req, services: Svc, measure_id: FromPath[uuid.UUID],
        data: JSONBody[m.PointIn],
    ) -> Response[m.PointSaved]:
        receipt = await services.command(
            services.cqi.record_data_point, measure_id, actor=principal_of(request).account_id,
            period=data.period, value=data.value, numerator=data.numerator,
            denominator=data.denominator, note=data.note, today=services.today(),
            expected_version=expected_version(request),
        )
        return Response(
            m.PointSaved(data.period, receipt.version), status_code=201,
            headers={**etag(receipt.version),
                     "Location": f"/api/v1/measures/{measure_id}/data/{data.period}"})

    @get("/{measure_id:uuid}/data/{period:str}", guards=[requires("viewer")],
         responses=errors(400, 404))
    async def read_point(
        self, services: Svc, measure_id: FromPath[uuid.UUID], period: FromPath[str]
    ) -> m.PointHistoryOut:
        day = parse_period(period)
        await measure_row(services, measure_id)
        row = await services.read(measure_data.point, measure_id, day)
        if row is None:
            raise NotFoundError(f"This measure has no data point for {day}.")
        entries = await services.read(measure_data.entries, measure_id, day)
        return m.PointHistoryOut(point_out(row), [entry_out(e) for e in entries])

    @post("/{measure_id:uuid}/data/{period:str}/correct", guards=[requires("member")],
          status_code=200, responses=errors(*WRITE))
    async def correct_point(
        self, request: Req, services: Svc, measure_id: FromPath[uuid.UUID],
        period: FromPath[str], data: JSONBody[m.CorrectionIn],
    ) -> Response[m.PointSaved]:
        day = parse_period(period)
        receipt = await services.command(
            services.cqi.correct_data_point, measure_id,
            actor=principal_of(request).account_id, period=day, value=data.value,
            numerator=data.numerator, denominator=data.denominator, reason=data.reason,
            expected_version=expected_version(request),
        )
        return Response(m.PointSaved(day, receipt.version), headers=etag(receipt.version))

    # --- CSV -----------------------------------------------------------------------------

    @post("/{measure_id:uuid}/import", guards=[requires("member")], status_code=200,
          request_max_body_size=2 * measure_csv.MAX_BYTES, operation_class=CsvBodyOperation,
          summary="Import data points from CSV (the body), or preview the import",
          description="The body is the CSV file itself (Content-Type: text/csv): a header "
                      "naming the columns from period, value, numerator, denominator, note, "
                      "then one row per period. With dry_run=true the answer is a preview: "
                      "the rows that are fine and every problem with its line. Otherwise the "
                      "whole file is imported in one step (200 with the count) or, if any row "
                      "has a problem, nothing is (400, each bad line in `errors`).",
          responses={**errors(*WRITE, 413, 415),
                     200: ResponseSpec(
                         m.ImportDone | m.ImportPreviewOut,  # type: ignore[arg-type]
                         description="ImportDone: imported. With dry_run=true, "
                                     "ImportPreviewOut: the preview; nothing is stored.",
                         generate_examples=False)})
    async def import_csv(
        self, request: Req, services: Svc, measure_id: FromPath[uuid.UUID], body: RawBody,
        dry_run: Annotated[bool, QueryParameter(
            description="true: only preview the import; nothing is stored")] = False,
    ) -> Response[Any]:
        check_csv_body(request)
        version = expected_version(request)
        measure: Measure = await services.call(services.cqi.load, Measure, measure_id)
        preview = await services.call(
            measure_csv.parse, body, unit=measure.unit, frequency=measure.frequency,
            recorded=measure.recorded_periods(), today=services.today())
        if dry_run:
            return Response(preview_out(preview))
        if not preview.valid and not await services.key_used():  # a repeat: the first answer
            raise ValidationError(preview.errors())
        try:
            receipt = await services.long_command(
                services.cqi.import_data_points, measure_id,
                actor=principal_of(request).account_id,
                points=[row.point() for row in preview.rows], today=services.today(),
                expected_version=version,
            )
        except ValidationError as error:  # data recorded since the file was read
            raise ValidationError(errors_by_line(error.errors, preview.rows)) from None
        return Response(m.ImportDone(receipt.detail, receipt.version),
                        headers=etag(receipt.version))

    @get("/{measure_id:uuid}/export.csv", guards=[requires("viewer")], media_type="text/csv",
         responses=errors(400, 404), summary="The measure's current data as CSV (RFC 4180)")
    async def export_csv(self, services: Svc, measure_id: FromPath[uuid.UUID]) -> Response[str]:
        row = await measure_row(services, measure_id)
        points = await services.read(measure_data.points, measure_id)
        return Response(
            measure_csv.export(points), media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition":
                     f'attachment; filename="{filename(row["name"])}"'},
        )


def _definition(data: m.MeasureIn) -> dict[str, str]:
    d = data.definition
    return {"numerator": d.numerator, "denominator": d.denominator,
            "data_source": d.data_source, "owner": d.owner, "frequency": d.frequency}


MEASURE_CONTROLLERS = [MeasureController]
