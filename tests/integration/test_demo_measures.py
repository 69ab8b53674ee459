"""`cqi demo`'s measures: read back through the API after the command ran, their data really show
the signals the demo promises, computed with domain/spc.py itself."""

from __future__ import annotations

import pathlib
from datetime import date, datetime
from typing import Any

import httpx
import pytest

from domain.revisit import add_months
from domain.spc import BEYOND_LIMITS, LONG_RUN, SHIFT, Observation, control_chart, run_chart
from service.demo import (
    CASE_PLAN_SURVEY,
    CHANGE_MONTH,
    DOUBLE_COUNTED_MONTH,
    SAFETY_VISITS,
    SHORT_STAFFED_MONTH,
    SPREAD_MONTH,
)
from tests.integration.test_cli import bearer, cqi, environment, serving

CASE_PLANS = "Parents who helped write their case plan"
SAFETY = "Visits documenting all three child-safety standards"
CANCELLED = "Family-time visits cancelled by the agency"
DAYS = "Days from removal to the first family team meeting"


@pytest.fixture
def cli_env(database_url: str, tmp_path: pathlib.Path) -> dict[str, str]:
    return environment(tmp_path / "data", DATABASE_URL=database_url)


def observations(points: list[dict[str, Any]]) -> list[Observation]:
    """Counts and continuous values as y; proportions as numerator and denominator."""
    return [Observation(x=date.fromisoformat(p["period"]),
                        y=p["value"] if p["numerator"] is None else None,
                        numerator=p["numerator"], denominator=p["denominator"])
            for p in points]


async def data(client: httpx.AsyncClient, headers: dict[str, str], measure: dict[str, Any]
               ) -> list[dict[str, Any]]:
    response = await client.get(f"/api/v1/measures/{measure['id']}/data", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_demo_measures_show_a_shift_and_a_point_beyond_a_limit(cli_env, settings):
    loaded = cqi(cli_env, "demo")
    assert loaded.returncode == 0, loaded.stderr
    assert "4 measures, with monthly data:" in loaded.stdout
    for name in (CASE_PLANS, SAFETY, CANCELLED, DAYS):
        assert f"    - {name}: " in loaded.stdout
    today = datetime.now(settings.zone).date()
    last_month = add_months(today.replace(day=1), -1)

    async with serving(settings) as (services, client):
        viewer, auditor = await bearer(services, "val"), await bearer(services, "audrey")
        measures = {m["name"]: m for m in (
            await client.get("/api/v1/measures", headers=viewer)).json()}
        assert set(measures) == {CASE_PLANS, SAFETY, CANCELLED, DAYS}
        assert {m["type"] for m in measures.values()} == {"outcome", "process", "balancing"}
        assert {m["unit"] for m in measures.values()} == {"proportion", "count", "continuous"}
        for measure in measures.values():
            assert measure["frequency"] == "monthly"
            assert measure["last_period"] == last_month.isoformat()
            assert measure["value_ids"]

        # The outcome: two years of the family survey, a shift upward when the meetings began.
        case_plans = await data(client, viewer, measures[CASE_PLANS])
        periods = [date.fromisoformat(p["period"]) for p in case_plans]
        assert len(case_plans) == len(CASE_PLAN_SURVEY) == 24
        assert periods == [add_months(last_month, k - 23) for k in range(24)]
        assert {p["recorded_by_login"] for p in case_plans} == {"maria"}
        began = periods[CHANGE_MONTH]
        assert "Family team meetings begin" in case_plans[CHANGE_MONTH]["note"]

        ihi = run_chart(observations(case_plans), rules="ihi")
        shifts = [s for s in ihi.signals if s.kind == SHIFT]
        assert [(s.direction, ihi.points[s.first].x, ihi.points[s.last].x) for s in shifts] == [
            ("above", began, last_month)]
        assert shifts[0].observed == 24 - CHANGE_MONTH >= 8
        anhoej = run_chart(observations(case_plans))
        assert [(s.direction, anhoej.points[s.first].x) for s in anhoej.signals
                if s.kind == LONG_RUN] == [("above", began)]
        baseline = run_chart(observations(case_plans), rules="ihi", freeze=CHANGE_MONTH)
        assert any(s.kind == SHIFT and s.direction == "above" for s in baseline.signals)

        # The process: a stable p chart with one month below its lower limit, and a correction.
        safety = await data(client, viewer, measures[SAFETY])
        assert len(safety) == len(SAFETY_VISITS) == 24
        assert all(40 <= p["denominator"] <= 90 for p in safety)
        assert len({p["denominator"] for p in safety}) > 10
        p_chart = control_chart(observations(safety), "p")
        beyond = [s for s in p_chart.signals if s.kind == BEYOND_LIMITS]
        assert [(s.direction, s.indices) for s in beyond] == [("below", (SHORT_STAFFED_MONTH,))]
        assert p_chart.signals == tuple(beyond)  # nothing else: only the short-staffed month
        short = p_chart.points[SHORT_STAFFED_MONTH]
        assert short.lower is not None and short.value is not None
        assert short.value < short.lower - 0.03  # clearly, not by a hair
        assert "short-staffed" in safety[SHORT_STAFFED_MONTH]["note"]

        corrected = [p for p in safety if p["corrected"]]
        assert [p["period"] for p in corrected] == [safety[DOUBLE_COUNTED_MONTH]["period"]]
        history = (await client.get(
            f"/api/v1/measures/{measures[SAFETY]['id']}/data/{corrected[0]['period']}",
            headers=auditor)).json()
        entries = [(e["kind"], e["numerator"], e["denominator"]) for e in history["entries"]]
        numerator, denominator = SAFETY_VISITS[DOUBLE_COUNTED_MONTH]
        assert entries == [("imported", numerator, denominator + 6),
                           ("corrected", numerator, denominator)]  # the first is kept
        assert "counted twice" in history["entries"][1]["reason"]
        assert (corrected[0]["numerator"], corrected[0]["denominator"]) == (numerator,
                                                                            denominator)

        # The balancing measure holds steady; the continuous one has its own I chart.
        cancelled = await data(client, viewer, measures[CANCELLED])
        assert len(cancelled) == 24
        assert not control_chart(observations(cancelled), "c").signals
        days = await data(client, viewer, measures[DAYS])
        assert len(days) == 24 - CHANGE_MONTH
        assert days[0]["period"] == began.isoformat()
        assert not [s for s in control_chart(observations(days), "i").signals
                    if s.kind == BEYOND_LIMITS]

        # The chart marks what people did: each linked PDSA cycle's test and a note.
        chart = (await client.get(f"/api/v1/measures/{measures[CASE_PLANS]['id']}/chart",
                                  headers=viewer)).json()
        cycles = [(m["number"], m["start"], m["end"]) for m in chart["marks"]
                  if m["kind"] == "cycle"]
        assert [(number, start) for number, start, _ in cycles] == [
            (1, began.isoformat()), (2, periods[SPREAD_MONTH].isoformat())]
        assert cycles[0][2] < periods[SPREAD_MONTH].isoformat()  # studied before cycle 2 began
        assert cycles[1][2] == today.isoformat()  # still testing
        assert any(s["kind"] == "long_run" for s in chart["signals"])
        safety_chart = (await client.get(
            f"/api/v1/measures/{measures[SAFETY]['id']}/chart?kind=p", headers=viewer)).json()
        assert [m["label"] for m in safety_chart["marks"]] == [
            "Three of eight Placement Unit posts vacant"]
