"""Measures built the way a user would, through /api/v1/measures (shared by the API and rebuild
tests)."""

from __future__ import annotations

from typing import Any

CSV = {"Content-Type": "text/csv"}


def measure_body(value_ids: list[str], **changes: Any) -> dict[str, Any]:
    definition = {
        "numerator": "Families answering 'I was heard' on the exit survey",
        "denominator": "Families who answered the exit survey",
        "data_source": "Exit survey in the case management system",
        "owner": "CQI analyst",
        "frequency": "monthly",
        **changes.pop("definition", {}),
    }
    return {
        "name": "Families who felt heard",
        "type": "outcome",
        "definition": definition,
        "unit": "proportion",
        "direction": "up",
        "goal": 0.8,
        "value_ids": value_ids,
        **changes,
    }


async def define_measure(agency: Any, **changes: Any) -> str:
    value_ids = changes.pop("value_ids", None) or [await agency.default_value()]
    return agency.ok(await agency.client.post(
        "/api/v1/measures", headers=agency.leader, json=measure_body(value_ids, **changes)),
        201)["id"]


async def record(agency: Any, measure_id: str, **point: Any) -> dict[str, Any]:
    return agency.ok(await agency.client.post(
        f"/api/v1/measures/{measure_id}/data", headers=agency.member, json=point), 201)


async def correct(agency: Any, measure_id: str, period: str, **body: Any) -> dict[str, Any]:
    return agency.ok(await agency.client.post(
        f"/api/v1/measures/{measure_id}/data/{period}/correct", headers=agency.member,
        json=body))


async def import_csv(agency: Any, measure_id: str, text: str, *, dry_run: bool = False,
                     status: int = 200) -> dict[str, Any]:
    return agency.ok(await agency.client.post(
        f"/api/v1/measures/{measure_id}/import",
        params={"dry_run": "true" if dry_run else "false"},
        headers={**agency.member, **CSV}, content=text.encode()), status)


async def measures_with_data(agency: Any) -> None:
    """A proportion recorded, imported, corrected and revised; a weekly count with a point."""
    heard = await define_measure(agency)
    await record(agency, heard, period="2025-01-01", numerator=12, denominator=20,
                 note="New survey form")
    await record(agency, heard, period="2025-02-01", numerator=15, denominator=21)
    await import_csv(agency, heard, "period,numerator,denominator,note\n"
                                    "2025-03-01,9,18,\"Snow, office closed\"\n"
                                    "2025-04-01,14,19,\n2025-05-01,16,20,\n")
    await correct(agency, heard, "2025-02-01", numerator=14, denominator=21,
                  reason="One survey was from March")
    agency.ok(await agency.client.put(
        f"/api/v1/measures/{heard}", headers=agency.leader,
        json=measure_body([await agency.default_value()], name="Families heard", goal=0.75)))
    moves = await define_measure(agency, name="Placement moves", type="balancing", unit="count",
                                 direction="down", goal=None,
                                 definition={"frequency": "weekly", "denominator": ""})
    await record(agency, moves, period="2025-03-10", value=3)
