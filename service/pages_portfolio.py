"""Leadership's pages across the portfolio: the alignment of values with practice, and the
dashboard (initiatives by status and phase, stale cycles, measures signalling now, overdue
revisits). Everyone signed in reads them."""

from __future__ import annotations

from litestar import Controller, get
from litestar.params import FromQuery
from litestar.response import Template

from domain.errors import ValidationError
from domain.measure import period_name
from service.api_portfolio import (
    DASHBOARD_ITEMS,
    DEFAULT_STALE_DAYS,
    MAX_STALE_DAYS,
    NO_CYCLE,
    PAGE_ITEMS,
    SIGNAL_CHARTS,
    alignment_rows,
    read_dashboard,
    stale_days_of,
)
from service.auth import requires
from service.pages_base import FormState, page
from service.pages_measures import figure
from service.services import Req, Svc

STATUS_NAMES = {"proposed": "Proposed", "active": "Active", "sustained": "Sustained",
                "closed": "Closed", "abandoned": "Abandoned"}
PHASE_COLUMNS = {NO_CYCLE: "No cycle planned yet", "plan": "Plan ready", "do": "Do recorded",
                 "study": "Study recorded", "act": "Act decided"}
"""The active initiatives' current cycles, as the board's columns name them."""


class PortfolioPages(Controller):
    guards = [requires("viewer")]
    include_in_schema = False

    @get("/alignment")
    async def alignment(self, request: Req, services: Svc) -> Template:
        rows = await alignment_rows(services, PAGE_ITEMS)
        return page(request, "alignment.html", "_alignment.html", rows=rows,
                    gaps=[gap for row in rows for gap in row.gaps], today=services.today(),
                    STATUS_NAMES=STATUS_NAMES, items=PAGE_ITEMS)

    @get("/dashboard")
    async def dashboard(self, request: Req, services: Svc,
                        stale_days: FromQuery[str | None] = None) -> Template:
        form = FormState("stale", {"stale_days": stale_days or str(DEFAULT_STALE_DAYS)})
        try:
            days = stale_days_of(stale_days)
        except ValidationError as exc:
            form.errors, form.status, days = dict(exc.errors), 400, DEFAULT_STALE_DAYS
        board = await read_dashboard(services, days, DASHBOARD_ITEMS, SIGNAL_CHARTS)
        return page(request, "dashboard.html", "_dashboard.html", status_code=form.status,
                    d=board, form=form, today=board.today, MAX_STALE_DAYS=MAX_STALE_DAYS,
                    STATUS_NAMES=STATUS_NAMES, PHASE_COLUMNS=PHASE_COLUMNS, figure=figure,
                    period_name=period_name)
