"""Measures and their data: everyone signed in reads them and their charts; leaders define and
revise measures; CQI team members record, correct, import and export data points, and set how
a measure's charts are read (a frozen baseline, phases, excluded and astronomical points,
annotations)."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from litestar import Controller, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Template

from domain.errors import DomainError, ValidationError
from domain.measure import (
    DIRECTIONS,
    FREQUENCIES,
    PROPORTION,
    RATIOS,
    TYPES,
    UNIT_NAMES,
    UNITS,
    WEEKLY,
    Measure,
    period_name,
)
from domain.spc import RULE_SETS, RUN, control_chart
from projections import measure_data
from service import idempotency, measure_csv
from service.api_charts import KINDS, UNIT_FOR_KIND, chart_options, observations
from service.api_measures import errors_by_line, filename, measure_row
from service.auth import requires
from service.chart_svg import KIND_NAMES, chart_table
from service.measure_charts import ChartInputs, chart_inputs, picture, wording
from service.pages_base import (
    Forms,
    FormState,
    actor,
    all_of,
    attempt,
    calendar_day,
    form_version,
    page,
    read_form,
    see_other,
    text,
)
from service.paging import PAGE_SIZE, Page, offset_of, page_number
from service.services import Req, Services, Svc

LIST_TARGET = "#measures"
TARGET = "#measure"
NOTICES = {
    "recorded": "The data point is recorded.",
    "corrected": "The data point is corrected; the earlier numbers stay in its history.",
    "revised": "The definition is revised; the earlier one stays in the measure's history.",
    "frozen": "The baseline is frozen: later points are judged against it.",
    "unfrozen": "The baseline is unfrozen: the centre line and limits come from every point "
                "again.",
    "phase-started": "The phase is started: its centre line and limits come from its own "
                     "points.",
    "phase-removed": "The phase is removed.",
    "excluded": "The point is left out of the centre line and limits; it stays on the chart.",
    "included": "The point counts toward the centre line and limits again.",
    "flagged": "The point is flagged as astronomical.",
    "unflagged": "The point is no longer flagged as astronomical.",
    "annotated": "The annotation is on the chart.",
    "annotation-removed": "The annotation is removed.",
}
READING = "#reading"
TYPE_NAMES = {"outcome": "Outcome", "process": "Process", "balancing": "Balancing"}
UNIT_LABELS = {"count": "Count", "proportion": "Proportion", "rate": "Rate",
               "continuous": "Continuous value"}
RULE_NAMES = {"anhoej": "Anhøj rules", "ihi": "IHI rules"}
DIRECTION_NAMES = {"up": "Up is better", "down": "Down is better"}


def number(raw: str) -> object:
    """'' is None, '12' is 12, '0.8' is 0.8; anything else goes on as typed, for the domain
    to refuse."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        return float(raw)
    except ValueError:
        return raw


def goal_number(raw: str) -> object:
    """A goal as typed: '0.8', or '80%' for a proportion's 0.8."""
    raw = raw.strip()
    if raw.endswith("%"):
        percent = number(raw.removesuffix("%"))
        return percent / 100 if isinstance(percent, int | float) else raw
    return number(raw)


def goal_text(goal: Any, unit: str) -> str:
    """A goal as the revise form shows it: a proportion's as a percentage (0.8 → 80%), which
    reads back as the same number."""
    if goal is None:
        return ""
    if unit == PROPORTION:
        return measure_csv.number_text(round(float(goal) * 100, 9)) + "%"
    return measure_csv.number_text(goal)


def period_words(period: date, frequency: str) -> str:
    """'March 2025', 'Q1 2025', 'the week of 3 March 2025'."""
    words = period_name(period, frequency)
    return f"the {words}" if frequency == WEEKLY else words


def day_words(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def chart_reading(row: Any, points: list[Any], marks: list[dict[str, Any]]
                  ) -> list[dict[str, Any]]:
    """How the chart is read, one entry a setting, in words: what it is, the form that undoes
    it (its name and action) and whether undoing it asks why."""
    here = f"/measures/{row['measure_id']}"
    frequency = row["frequency"]
    reading: list[dict[str, Any]] = []
    if row["freeze_through"] is not None:
        through = row["freeze_through"]
        count = sum(1 for p in points if p["period"] <= through)
        reading.append({
            "kind": "frozen",
            "words": f"Baseline frozen through {period_words(through, frequency)}",
            "detail": f"centre line and limits from its first {count} points, extended forward",
            "form": "unfreeze", "action": f"{here}/baseline/unfreeze", "button": "Unfreeze"})
    for m in marks:
        if m["kind"] == measure_data.PHASE:
            key = m["start"].isoformat()
            reading.append({
                "kind": "phase",
                "words": f"Phase from {period_words(m['start'], frequency)}: {m['label']}",
                "detail": "", "form": f"unphase-{key}",
                "action": f"{here}/phases/{key}/remove", "button": "Remove"})
    for p in points:
        key = p["period"].isoformat()
        if p["excluded"] is not None:
            reading.append({
                "kind": "excluded",
                "words": f"{period_words(p['period'], frequency)} excluded: {p['excluded']}",
                "detail": "", "form": f"include-{key}", "reason": True,
                "action": f"{here}/exclusions/{key}/include", "button": "Include"})
    for p in points:
        key = p["period"].isoformat()
        if p["astronomical"] is not None:
            reading.append({
                "kind": "astronomical",
                "words": f"{period_words(p['period'], frequency)} flagged astronomical: "
                         f"{p['astronomical']}",
                "detail": "", "form": f"unflag-{key}",
                "action": f"{here}/astronomical/{key}/unflag", "button": "Remove the flag"})
    for m in marks:
        if m["kind"] == measure_data.ANNOTATION:
            key = m["start"].isoformat()
            reading.append({
                "kind": "annotation",
                "words": f"Annotation {day_words(m['start'])}: {m['label']}",
                "detail": "", "form": f"unannotate-{key}",
                "action": f"{here}/annotations/{key}/remove", "button": "Remove"})
    for entry in reading:
        entry.setdefault("reason", False)
    return reading


def shown(value: Any) -> str:
    return "" if value is None else measure_csv.number_text(value)


def figure(value: Any, unit: str) -> str:
    """A value as people read it: a proportion as a percentage (0.7073 → 70.7%), other
    numbers to at most four decimals."""
    if value is None:
        return ""
    if unit == PROPORTION:
        return f"{float(value) * 100:.1f}".removesuffix(".0") + "%"
    return measure_csv.number_text(round(float(value), 4))


def definition_field(key: str) -> str:
    """The domain names the definition's fields `definition.owner`; the form names them
    `owner`."""
    return key.removeprefix("definition.")


def fitting_kinds(unit: str) -> list[str]:
    """The chart kinds a measure of `unit` can draw: run, I and MR always; p, u or c when the
    unit is theirs."""
    return [k for k in KINDS if k not in UNIT_FOR_KIND or UNIT_FOR_KIND[k] == unit]


async def value_names(services: Services) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """Every value's name by id (retired ones too, for old measures) and the active values as
    checkbox choices."""
    mission = await services.call(services.cqi.mission)
    if mission is None:
        return {}, []
    names = {v.id: v.name for v in mission.values.values()}
    return names, [(v.id, v.name, "") for v in mission.active_values()]


async def render_measures(request: Req, services: Services, forms: Forms | None = None,
                          notice: str = "", value: str | None = None,
                          page_: str | None = None) -> Template:
    """One page of the measures (by name), optionally those serving one value; a bad page
    number shows the first page with the reason."""
    forms = forms or Forms()
    names, choices = await value_names(services)
    value_id = value if value in names else None
    paging = FormState("paging", {"page": page_ or ""})
    try:
        number = page_number(page_)
    except ValidationError as exc:
        paging.errors, number = dict(exc.errors), 1
    # the count and the rows from one snapshot: they agree while others write
    async with services.pool.acquire() as conn, conn.transaction(
            isolation="repeatable_read", readonly=True):
        total = await measure_data.measures_count(conn, value_id)
        number, offset = offset_of(number, total, PAGE_SIZE)
        rows = await measure_data.measures_page(conn, value_id, PAGE_SIZE, offset)
        every = total if value_id is None else await measure_data.measures_count(conn, None)
    listed = Page(number, total, rows, "/measures", {"value": value_id or ""}, PAGE_SIZE)
    status = forms.status if forms.status != 200 else (400 if paging.errors else 200)
    return page(
        request, "measures.html", "_measures.html", status_code=status, measures=rows,
        listed=listed, paging=paging, value=value_id, every=every,
        value_names=names, value_choices=choices, form=forms, notice=notice,
        shown=shown, figure=figure, TYPES=[(t, TYPE_NAMES[t]) for t in TYPES],
        UNITS=[(u, UNIT_LABELS[u]) for u in UNITS], FREQUENCIES=[(f, f.capitalize())
                                                                for f in FREQUENCIES],
        DIRECTIONS=[(d, DIRECTION_NAMES[d]) for d in DIRECTIONS], TYPE_NAMES=TYPE_NAMES,
        UNIT_LABELS=UNIT_LABELS,
    )


def build_chart(row: Any, inputs: ChartInputs, kind: str, rules: str
                ) -> tuple[str, str, dict[str, Any] | None, str]:
    """The chart the page shows: (kind, rules, chart context or None, the refusal in words).
    A kind or rule set that does not fit is refused and the run chart shown instead. `inputs`
    (service/measure_charts.py `chart_inputs`): the points and the measure's chart settings."""
    points = inputs.points
    refusal = ""
    try:
        kind, rules, _, _ = chart_options(row["unit"], kind, rules, None, None)
    except ValidationError as exc:
        refusal = "; ".join(message if key == "kind" else f"the run rules {message}"
                            for key, message in exc.errors.items())
        kind = RUN
        rules = rules if rules in RULE_SETS else "anhoej"
    if not points:
        return kind, rules, None, refusal
    try:
        result = control_chart(observations(row["unit"], kind, points), kind, rules=rules,
                               freeze=inputs.freeze, parts=inputs.parts,
                               **wording(row))
    except DomainError as exc:
        reason = exc.errors if isinstance(exc, ValidationError) else exc.reason
        return kind, rules, None, refusal or f"This chart cannot be drawn: {reason}"
    title = f"{row['name']}: {KIND_NAMES[result.kind]}"
    chart = {
        "svg": picture(row, result, inputs.markers),
        "sentences": list(result.sentences),
        "chart_rows": chart_table(result, lambda x: period_name(x, row["frequency"])),
        "caption": title,
    }
    return kind, rules, chart, refusal


async def render_measure(
    request: Req, services: Services, measure_id: uuid.UUID, forms: Forms | None = None, *,
    notice: str = "", kind: str = RUN, rules: str = "anhoej", preview: Any = None,
    content: str = "", import_problems: dict[str, str] | None = None, status: int | None = None,
) -> Template:
    forms = forms or Forms()
    row = await measure_row(services, measure_id)
    inputs = await chart_inputs(services, row)
    points = inputs.points
    kind, rules, chart, refusal = build_chart(row, inputs, kind, rules)
    names, choices = await value_names(services)
    code = status or forms.status
    if refusal and code == 200:
        code = 400
    options = [(p["period"].isoformat(), f"{p['period'].day} {p['period']:%b %Y}")
               for p in reversed(points)]
    excluded = {p["period"].isoformat() for p in points if p["excluded"] is not None}
    flagged = {p["period"].isoformat() for p in points if p["astronomical"] is not None}
    return page(
        request, "measure.html", "_measure.html", status_code=code, m=row, points=points,
        version=row["version"], ratio=row["unit"] in RATIOS, value_names=names, form=forms,
        notice=notice, shown=shown, figure=figure, chart=chart, kind=kind, rules=rules,
        refusal=refusal,
        kinds=[(k, KIND_NAMES[k]) for k in fitting_kinds(row["unit"])],
        rule_sets=[(r, RULE_NAMES.get(r, r)) for r in RULE_SETS], preview=preview,
        content=content, import_problems=import_problems or {}, TYPE_NAMES=TYPE_NAMES,
        period_options=options,
        include_options=[o for o in options if o[0] not in excluded],
        unflagged_options=[o for o in options if o[0] not in flagged],
        reading=chart_reading(row, points, inputs.marks),
        value_choices=choices, goal_text=goal_text(row["goal"], row["unit"]),
        TYPES=[(t, TYPE_NAMES[t]) for t in TYPES],
        UNITS=[(u, UNIT_LABELS[u]) for u in UNITS],
        FREQUENCIES=[(f, f.capitalize()) for f in FREQUENCIES],
        UNIT_LABELS=UNIT_LABELS, UNIT_NAMES=UNIT_NAMES, DIRECTION_NAMES=DIRECTION_NAMES,
    )


CHART_VIEW = ("kind", "rules")
"""Hidden fields of the chart-setting forms: the chart the page showed, shown again after."""


async def change_setting(
    request: Req, services: Services, measure_id: uuid.UUID, form: str, done: str,
    command: Callable[..., Any], arguments: Callable[[dict[str, Any]], dict[str, Any]],
) -> Any:
    """One chart-setting form posted: the command, then back to the page (the same chart),
    or the page with the form sent back."""
    values = await read_form(request)
    view = {key: text(values, key) for key in CHART_VIEW if text(values, key)}
    for key in CHART_VIEW:
        values.pop(key, None)
    _, refused = await attempt(
        services, form, values, command, measure_id, actor=actor(request),
        expected_version=form_version(values), **arguments(values))
    if refused:
        return await render_measure(request, services, measure_id, Forms(refused),
                                    kind=view.get("kind", RUN),
                                    rules=view.get("rules", "anhoej"))
    query = "".join(f"&{key}={value}" for key, value in view.items()
                    if (key, value) not in (("kind", RUN), ("rules", "anhoej"))
                    and value.isalnum())
    return see_other(request, f"/measures/{measure_id}?done={done}{query}{READING}",
                     target=TARGET)


class MeasurePages(Controller):
    path = "/measures"
    guards = [requires("viewer")]
    include_in_schema = False

    @get("/")
    async def index(self, request: Req, services: Svc, done: FromQuery[str | None] = None,
                    value: FromQuery[str | None] = None,
                    page_: Annotated[str | None, QueryParameter(name="page")] = None) -> Template:
        notice = "The measure is defined." if done == "defined" else ""
        return await render_measures(request, services, notice=notice, value=value,
                                     page_=page_)

    @post("/", guards=[requires("leader")])
    async def define(self, request: Req, services: Svc) -> Any:
        values = await read_form(request)
        definition = {key: text(values, key) for key in
                      ("numerator", "denominator", "data_source", "owner", "frequency")}
        receipt, refused = await attempt(
            services, "define", values, services.cqi.define_measure, actor=actor(request),
            name=text(values, "name"), type=text(values, "type"), definition=definition,
            unit=text(values, "unit"), direction=text(values, "direction"),
            goal=goal_number(text(values, "goal")), value_ids=all_of(values, "value_ids"),
            rename=definition_field,
        )
        if refused:
            return await render_measures(request, services, Forms(refused))
        return see_other(request, f"/measures/{receipt.id}?done=defined")

    @get("/{measure_id:uuid}")
    async def show(self, request: Req, services: Svc, measure_id: FromPath[uuid.UUID],
                   kind: FromQuery[str] = RUN, rules: FromQuery[str] = "anhoej",
                   done: FromQuery[str | None] = None) -> Template:
        notice = NOTICES.get(done or "", "")
        if done == "defined":
            notice = "The measure is defined. Next: record its data, or import a CSV file."
        elif done and done.startswith("imported-"):
            notice = f"{done.removeprefix('imported-')} data points are imported."
        return await render_measure(request, services, measure_id, notice=notice, kind=kind,
                                    rules=rules)

    @post("/{measure_id:uuid}/revise", guards=[requires("leader")])
    async def revise(self, request: Req, services: Svc,
                     measure_id: FromPath[uuid.UUID]) -> Any:
        values = await read_form(request)
        definition = {key: text(values, key) for key in
                      ("numerator", "denominator", "data_source", "owner", "frequency")}
        _, refused = await attempt(
            services, "revise", values, services.cqi.revise_measure, measure_id,
            actor=actor(request), name=text(values, "name"), type=text(values, "type"),
            definition=definition, unit=text(values, "unit"),
            direction=text(values, "direction"), goal=goal_number(text(values, "goal")),
            value_ids=all_of(values, "value_ids"), expected_version=form_version(values),
            rename=definition_field,
        )
        if refused:
            return await render_measure(request, services, measure_id, Forms(refused))
        return see_other(request, f"/measures/{measure_id}?done=revised", target=TARGET)

    # --- how the chart is read ----------------------------------------------------------

    @post("/{measure_id:uuid}/baseline", guards=[requires("member")])
    async def freeze(self, request: Req, services: Svc,
                     measure_id: FromPath[uuid.UUID]) -> Any:
        return await change_setting(
            request, services, measure_id, "freeze", "frozen", services.cqi.freeze_baseline,
            lambda v: {"through": calendar_day(text(v, "through"))})

    @post("/{measure_id:uuid}/baseline/unfreeze", guards=[requires("member")])
    async def unfreeze(self, request: Req, services: Svc,
                       measure_id: FromPath[uuid.UUID]) -> Any:
        return await change_setting(
            request, services, measure_id, "unfreeze", "unfrozen",
            services.cqi.unfreeze_baseline, lambda v: {})

    @post("/{measure_id:uuid}/phases", guards=[requires("member")])
    async def start_phase(self, request: Req, services: Svc,
                          measure_id: FromPath[uuid.UUID]) -> Any:
        return await change_setting(
            request, services, measure_id, "phase", "phase-started", services.cqi.start_phase,
            lambda v: {"period": calendar_day(text(v, "period")), "label": text(v, "label")})

    @post("/{measure_id:uuid}/phases/{period:str}/remove", guards=[requires("member")])
    async def remove_phase(self, request: Req, services: Svc,
                           measure_id: FromPath[uuid.UUID], period: FromPath[str]) -> Any:
        return await change_setting(
            request, services, measure_id, f"unphase-{period}", "phase-removed",
            services.cqi.remove_phase, lambda v: {"period": calendar_day(period)})

    @post("/{measure_id:uuid}/exclusions", guards=[requires("member")])
    async def exclude(self, request: Req, services: Svc,
                      measure_id: FromPath[uuid.UUID]) -> Any:
        return await change_setting(
            request, services, measure_id, "exclude", "excluded", services.cqi.exclude_point,
            lambda v: {"period": calendar_day(text(v, "period")), "reason": text(v, "reason")})

    @post("/{measure_id:uuid}/exclusions/{period:str}/include", guards=[requires("member")])
    async def include(self, request: Req, services: Svc,
                      measure_id: FromPath[uuid.UUID], period: FromPath[str]) -> Any:
        return await change_setting(
            request, services, measure_id, f"include-{period}", "included",
            services.cqi.include_point,
            lambda v: {"period": calendar_day(period), "reason": text(v, "reason")})

    @post("/{measure_id:uuid}/astronomical", guards=[requires("member")])
    async def flag(self, request: Req, services: Svc,
                   measure_id: FromPath[uuid.UUID]) -> Any:
        return await change_setting(
            request, services, measure_id, "flag", "flagged", services.cqi.flag_astronomical,
            lambda v: {"period": calendar_day(text(v, "period")), "reason": text(v, "reason")})

    @post("/{measure_id:uuid}/astronomical/{period:str}/unflag", guards=[requires("member")])
    async def unflag(self, request: Req, services: Svc,
                     measure_id: FromPath[uuid.UUID], period: FromPath[str]) -> Any:
        return await change_setting(
            request, services, measure_id, f"unflag-{period}", "unflagged",
            services.cqi.unflag_astronomical, lambda v: {"period": calendar_day(period)})

    @post("/{measure_id:uuid}/annotations", guards=[requires("member")])
    async def annotate(self, request: Req, services: Svc,
                       measure_id: FromPath[uuid.UUID]) -> Any:
        return await change_setting(
            request, services, measure_id, "annotate", "annotated",
            services.cqi.annotate_measure,
            lambda v: {"on": calendar_day(text(v, "on")), "text": text(v, "text"),
                       "today": services.today()})

    @post("/{measure_id:uuid}/annotations/{on:str}/remove", guards=[requires("member")])
    async def remove_annotation(self, request: Req, services: Svc,
                                measure_id: FromPath[uuid.UUID], on: FromPath[str]) -> Any:
        return await change_setting(
            request, services, measure_id, f"unannotate-{on}", "annotation-removed",
            services.cqi.remove_annotation, lambda v: {"on": calendar_day(on)})

    @post("/{measure_id:uuid}/data", guards=[requires("member")])
    async def record(self, request: Req, services: Svc,
                     measure_id: FromPath[uuid.UUID]) -> Any:
        values = await read_form(request)
        _, refused = await attempt(
            services, "record", values, services.cqi.record_data_point, measure_id,
            actor=actor(request), period=calendar_day(text(values, "period")),
            value=number(text(values, "value")), numerator=number(text(values, "numerator")),
            denominator=number(text(values, "denominator")), note=text(values, "note"),
            today=services.today(), expected_version=form_version(values),
        )
        if refused:
            return await render_measure(request, services, measure_id, Forms(refused))
        return see_other(request, f"/measures/{measure_id}?done=recorded#points", target=TARGET)

    @post("/{measure_id:uuid}/correct", guards=[requires("member")])
    async def correct(self, request: Req, services: Svc,
                      measure_id: FromPath[uuid.UUID]) -> Any:
        values = await read_form(request)
        _, refused = await attempt(
            services, "correct", values, services.cqi.correct_data_point, measure_id,
            actor=actor(request), period=calendar_day(text(values, "period")),
            value=number(text(values, "value")), numerator=number(text(values, "numerator")),
            denominator=number(text(values, "denominator")), reason=text(values, "reason"),
            expected_version=form_version(values),
        )
        if refused:
            return await render_measure(request, services, measure_id, Forms(refused))
        return see_other(request, f"/measures/{measure_id}?done=corrected#points",
                         target=TARGET)

    @post("/{measure_id:uuid}/import", guards=[requires("member")],
          request_max_body_size=4 * measure_csv.MAX_BYTES)
    async def import_csv(self, request: Req, services: Svc,
                         measure_id: FromPath[uuid.UUID]) -> Any:
        """A file uploaded: its preview, nothing stored. The preview's own form (`content`,
        the same bytes in base64, and `confirm`): all its rows imported in one step, or none."""
        form = await request.form()
        idempotency.use_form_key(form.get(idempotency.FORM_FIELD))
        upload = next((f for f in form.getall("file", []) if isinstance(f, UploadFile)), None)
        carried = form.get("content")
        version = form_version({"version": form.get("version", "")})
        data: bytes | None = None
        if upload is not None:
            data = await upload.read()
        elif isinstance(carried, str) and carried:
            try:
                data = base64.b64decode(carried, validate=True)
            except (binascii.Error, ValueError):
                data = None
        state = FormState("import", {})
        if not data:
            state.errors = {"file": "choose a CSV file to preview"}
            state.status = 400
            return await render_measure(request, services, measure_id, Forms(state))
        measure: Measure = await services.call(services.cqi.load, Measure, measure_id)
        preview = await services.call(
            measure_csv.parse, data, unit=measure.unit, frequency=measure.frequency,
            recorded=measure.recorded_periods(), today=services.today())
        content = base64.b64encode(data).decode("ascii")
        confirm = form.get("confirm") == "yes" and isinstance(carried, str)
        if not confirm or (not preview.valid and not await services.key_used()):
            return await render_measure(
                request, services, measure_id, Forms(state), preview=preview, content=content,
                status=200 if preview.valid else 400)
        rows = preview.rows
        try:
            receipt = await services.long_command(
                services.cqi.import_data_points, measure_id, actor=actor(request),
                points=[r.point() for r in rows], today=services.today(),
                expected_version=version)
        except ValidationError as exc:  # data recorded since the preview
            return await render_measure(
                request, services, measure_id, Forms(state), preview=preview, content=content,
                import_problems=errors_by_line(exc.errors, rows), status=400)
        except DomainError as exc:
            refused = FormState.refused("import", {}, exc)
            return await render_measure(request, services, measure_id, Forms(refused),
                                        preview=preview, content=content)
        return see_other(request, f"/measures/{measure_id}?done=imported-{receipt.detail}"
                                  "#points")

    @get("/{measure_id:uuid}/export.csv", media_type="text/csv")
    async def export_csv(self, services: Svc, measure_id: FromPath[uuid.UUID]
                         ) -> Response[str]:
        row = await measure_row(services, measure_id)
        points = await services.read(measure_data.points, measure_id)
        return Response(
            measure_csv.export(points), media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition":
                     f'attachment; filename="{filename(row["name"])}"'},
        )

