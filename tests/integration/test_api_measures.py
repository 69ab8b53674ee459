"""Measures and their data through /api/v1/measures: define, record, correct, import, export."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date, timedelta

from tests.integration.conftest import assert_field_error, match
from tests.integration.measures_support import (
    CSV,
    correct,
    define_measure,
    import_csv,
    measure_body,
    record,
)

UNKNOWN = str(uuid.uuid4())
MEASURE_FIELDS = {"id", "name", "type", "definition", "unit", "direction", "goal", "value_ids",
                  "points", "first_period", "last_period", "version", "updated_at", "chart"}
POINT_FIELDS = {"period", "value", "numerator", "denominator", "note", "corrected",
                "corrections", "recorded_at", "recorded_by", "recorded_by_login"}
GOOD_CSV = ("period,value,numerator,denominator,note\r\n"
            "2024-10-01,,12,20,First month\r\n"
            "2024-11-01,,15,21,\r\n"
            "2024-12-01,,9,18,\"Holidays, short staffed\"\r\n")


async def points(agency, measure_id: str) -> list[dict]:
    return agency.ok(await agency.client.get(f"/api/v1/measures/{measure_id}/data",
                                             headers=agency.viewer))


# --- defining ----------------------------------------------------------------------------------


async def test_a_leader_defines_a_measure_that_reads_back_with_its_whole_definition(agency):
    value_id = await agency.default_value()
    body = measure_body([value_id], name="  Families who felt heard ")
    created = await agency.client.post("/api/v1/measures", headers=agency.leader, json=body)
    assert created.status_code == 201, created.text
    assert created.json()["version"] == 1
    assert created.headers["ETag"] == '"1"'
    measure_id = created.json()["id"]
    assert created.headers["Location"] == f"/api/v1/measures/{measure_id}"

    read = await agency.client.get(f"/api/v1/measures/{measure_id}", headers=agency.viewer)
    assert read.status_code == 200, read.text
    measure = read.json()
    assert set(measure) == MEASURE_FIELDS
    assert measure["name"] == "Families who felt heard"  # trimmed
    assert measure["definition"] == body["definition"]
    assert {k: measure[k] for k in ("type", "unit", "direction", "goal", "value_ids")} == {
        k: body[k] for k in ("type", "unit", "direction", "goal", "value_ids")}
    assert (measure["points"], measure["last_period"], measure["version"]) == (0, None, 1)
    assert read.headers["ETag"] == '"1"'

    listed = await agency.listing("/api/v1/measures")
    assert [(m["id"], m["name"], m["frequency"], m["points"]) for m in listed] == [
        (measure_id, "Families who felt heard", "monthly", 0)]


async def test_a_leader_revises_a_measure_with_if_match_and_a_stale_version_is_412(agency):
    measure_id = await define_measure(agency)
    value_id = await agency.default_value()
    url = f"/api/v1/measures/{measure_id}"
    revised = await agency.client.put(url, headers={**agency.leader, **match(1)},
                                      json=measure_body([value_id], name="Families heard",
                                                        goal=None, direction="up"))
    assert revised.status_code == 200, revised.text
    assert revised.json() == {"version": 2}
    assert revised.headers["ETag"] == '"2"'
    stale = await agency.client.put(url, headers={**agency.leader, **match(1)},
                                    json=measure_body([value_id], name="Lost update"))
    assert stale.status_code == 412, stale.text
    assert "version 1" in stale.json()["detail"]
    measure = agency.ok(await agency.client.get(url, headers=agency.viewer))
    assert (measure["name"], measure["goal"], measure["version"]) == ("Families heard", None, 2)
    listed = await agency.listing("/api/v1/measures")
    assert (listed[0]["name"], listed[0]["version"]) == ("Families heard", 2)


async def test_a_measure_with_data_keeps_its_unit_and_frequency(agency):
    measure_id = await define_measure(agency)
    await record(agency, measure_id, period="2025-01-01", numerator=1, denominator=2)
    value_id = await agency.default_value()
    refused = await agency.client.put(
        f"/api/v1/measures/{measure_id}", headers=agency.leader,
        json=measure_body([value_id], definition={"frequency": "quarterly"}))
    assert refused.status_code == 409, refused.text
    assert "Define a new measure" in refused.json()["detail"]


async def test_bad_measure_bodies_are_400_naming_the_field(agency):
    value_id = await agency.default_value()
    good = measure_body([value_id])
    cases = [
        ({**good, "name": ""}, "name"),
        ({**good, "type": "input"}, "type"),
        ({**good, "unit": "percent"}, "unit"),
        ({**good, "direction": "sideways"}, "direction"),
        ({**good, "goal": 80}, "goal"),
        ({**good, "goal": "high"}, "goal"),
        ({**good, "value_ids": []}, "value_ids"),
        ({**good, "value_ids": ["no-such-value"]}, "value_ids"),
        ({**good, "definition": {**good["definition"], "frequency": "daily"}},
         "definition.frequency"),
        ({**good, "definition": {**good["definition"], "denominator": ""}},
         "definition.denominator"),
        ({**good, "definition": {**good["definition"], "owner": " "}}, "definition.owner"),
        ({k: v for k, v in good.items() if k != "unit"}, "unit"),
        ({**good, "baseline": 3}, "baseline"),
        ([good], "body"),
    ]
    for body, field in cases:
        response = await agency.client.post("/api/v1/measures", headers=agency.leader,
                                            json=body)
        assert_field_error(response, field)
    assert await agency.listing("/api/v1/measures") == []


# --- recording and correcting ------------------------------------------------------------------


async def test_a_corrected_point_shows_its_new_value_and_its_history_keeps_both(agency):
    measure_id = await define_measure(agency)
    saved = await agency.client.post(
        f"/api/v1/measures/{measure_id}/data", headers=agency.member,
        json={"period": "2025-01-01", "numerator": 12, "denominator": 20,
              "note": "New survey form"})
    assert saved.status_code == 201, saved.text
    assert saved.json() == {"period": "2025-01-01", "version": 2}
    assert saved.headers["Location"] == f"/api/v1/measures/{measure_id}/data/2025-01-01"
    await record(agency, measure_id, period="2025-02-01", numerator=5, denominator=10)

    fixed = await correct(agency, measure_id, "2025-01-01", numerator=11, denominator=20,
                          reason="One survey was from February")
    assert fixed == {"period": "2025-01-01", "version": 4}

    listed = await points(agency, measure_id)
    assert set(listed[0]) >= POINT_FIELDS
    assert [(p["period"], p["numerator"], p["denominator"], p["value"], p["corrected"])
            for p in listed] == [("2025-01-01", 11, 20, 0.55, True),
                                 ("2025-02-01", 5, 10, 0.5, False)]
    assert listed[0]["note"] == "New survey form"
    assert (listed[0]["recorded_by"], listed[0]["recorded_by_login"]) == (
        agency.ids["member"], "member")

    point = agency.ok(await agency.client.get(
        f"/api/v1/measures/{measure_id}/data/2025-01-01", headers=agency.viewer))
    assert point["point"]["value"] == 0.55
    assert [(e["kind"], e["numerator"], e["value"], e["reason"], e["by_login"])
            for e in point["entries"]] == [
        ("recorded", 12, 0.6, None, "member"),
        ("corrected", 11, 0.55, "One survey was from February", "member")]

    history = agency.ok(await agency.client.get(f"/api/v1/measures/{measure_id}/history",
                                                headers=agency.auditor))
    assert [h["type"] for h in history] == [
        "Defined", "DataPointRecorded", "DataPointRecorded", "DataPointCorrected"]
    assert history[3]["data"]["reason"] == "One survey was from February"
    measure = agency.ok(await agency.client.get(f"/api/v1/measures/{measure_id}",
                                                headers=agency.viewer))
    assert (measure["points"], measure["first_period"], measure["last_period"]) == (
        2, "2025-01-01", "2025-02-01")


async def test_a_period_is_recorded_once_and_only_a_recorded_period_is_corrected(agency):
    measure_id = await define_measure(agency)
    await record(agency, measure_id, period="2025-01-01", numerator=3, denominator=4)
    again = await agency.client.post(f"/api/v1/measures/{measure_id}/data",
                                     headers=agency.member,
                                     json={"period": "2025-01-01", "numerator": 1,
                                           "denominator": 4})
    assert again.status_code == 409, again.text
    assert "correct it instead" in again.json()["detail"]
    missing = await agency.client.post(
        f"/api/v1/measures/{measure_id}/data/2025-02-01/correct", headers=agency.member,
        json={"numerator": 1, "denominator": 4, "reason": "x"})
    assert missing.status_code == 404, missing.text
    assert "record it instead" in missing.json()["detail"]
    assert (await agency.client.get(f"/api/v1/measures/{measure_id}/data/2025-02-01",
                                    headers=agency.viewer)).status_code == 404
    assert [p["numerator"] for p in await points(agency, measure_id)] == [3]


async def test_bad_data_points_are_400_naming_the_field(agency):
    measure_id = await define_measure(agency)
    url = f"/api/v1/measures/{measure_id}/data"
    cases = [
        ({"period": "2025-01-15", "numerator": 1, "denominator": 2}, "period"),
        ({"period": "2099-01-01", "numerator": 1, "denominator": 2}, "period"),
        ({"period": "January", "numerator": 1, "denominator": 2}, "period"),
        ({"numerator": 1, "denominator": 2}, "period"),
        ({"period": "2025-01-01", "numerator": 3, "denominator": 2}, "numerator"),
        ({"period": "2025-01-01", "numerator": 1, "denominator": 0}, "denominator"),
        ({"period": "2025-01-01", "numerator": 1}, "denominator"),
        ({"period": "2025-01-01", "value": 0.5}, "value"),
        ({"period": "2025-01-01", "numerator": "one", "denominator": 2}, "numerator"),
        ({"period": "2025-01-01", "numerator": 1, "denominator": 2, "note": "x\u0000"},
         "note"),
        ({"period": "2025-01-01", "numerator": 1, "denominator": 2, "by": "me"}, "by"),
    ]
    for body, field in cases:
        assert_field_error(await agency.client.post(url, headers=agency.member, json=body),
                           field)
    huge = b'{"period": "2025-01-01", "numerator": 1e400, "denominator": 2}'
    assert_field_error(await agency.client.post(
        url, headers={**agency.member, "Content-Type": "application/json"}, content=huge),
        "body")  # msgspec does not say where
    await record(agency, measure_id, period="2025-01-01", numerator=1, denominator=2)
    correct_url = f"{url}/2025-01-01/correct"
    for body, field in [({"numerator": 1, "denominator": 2}, "reason"),
                        ({"numerator": 1, "denominator": 2, "reason": "same"}, "numerator"),
                        ({"numerator": 1.5, "denominator": 2, "reason": "x"}, "numerator")]:
        assert_field_error(await agency.client.post(correct_url, headers=agency.member,
                                                    json=body), field)
    assert_field_error(await agency.client.post(
        f"{url}/2025-1-1/correct", headers=agency.member,
        json={"numerator": 1, "denominator": 3, "reason": "x"}), "period")
    assert_field_error(await agency.client.get(f"{url}/not-a-date", headers=agency.viewer),
                       "period")
    assert [p["corrected"] for p in await points(agency, measure_id)] == [False]


async def test_counts_and_continuous_values_are_recorded_as_the_value(agency):
    moves = await define_measure(agency, name="Placement moves", unit="count", goal=None,
                                 direction="down",
                                 definition={"frequency": "weekly", "denominator": ""})
    await record(agency, moves, period="2025-03-10", value=3)
    assert_field_error(await agency.client.post(
        f"/api/v1/measures/{moves}/data", headers=agency.member,
        json={"period": "2025-03-17", "value": 2.5}), "value")
    assert_field_error(await agency.client.post(
        f"/api/v1/measures/{moves}/data", headers=agency.member,
        json={"period": "2025-03-19", "value": 2}), "period")  # a Wednesday
    days = await define_measure(agency, name="Days to first contact", unit="continuous",
                                goal=None, direction="down",
                                definition={"frequency": "quarterly", "denominator": ""})
    await record(agency, days, period="2025-04-01", value=2.75)
    assert [(p["value"], p["numerator"]) for p in await points(agency, moves)] == [(3, None)]
    assert [p["value"] for p in await points(agency, days)] == [2.75]


async def test_unknown_measures_are_404(agency):
    for method, path, body in [
        ("GET", f"/api/v1/measures/{UNKNOWN}", None),
        ("GET", f"/api/v1/measures/{UNKNOWN}/data", None),
        ("GET", f"/api/v1/measures/{UNKNOWN}/data/2025-01-01", None),
        ("GET", f"/api/v1/measures/{UNKNOWN}/export.csv", None),
        ("GET", f"/api/v1/measures/{UNKNOWN}/history", None),
        ("POST", f"/api/v1/measures/{UNKNOWN}/data",
         {"period": "2025-01-01", "value": 1}),
        ("POST", f"/api/v1/measures/{UNKNOWN}/data/2025-01-01/correct",
         {"value": 1, "reason": "x"}),
    ]:
        response = await agency.client.request(method, path, headers=agency.leader, json=body)
        assert response.status_code == 404, (method, path, response.text)
        assert set(response.json()) == {"detail", "errors"}
    imported = await agency.client.post(f"/api/v1/measures/{UNKNOWN}/import",
                                        headers={**agency.member, **CSV}, content=GOOD_CSV)
    assert imported.status_code == 404


# --- roles -------------------------------------------------------------------------------------


async def test_viewers_read_members_enter_data_and_leaders_define_measures(agency):
    measure_id = await define_measure(agency)
    value_id = await agency.default_value()
    base = f"/api/v1/measures/{measure_id}"
    point = {"period": "2025-01-01", "numerator": 1, "denominator": 2}
    c = agency.client
    for who in (agency.member, agency.auditor, agency.viewer):
        assert (await c.post("/api/v1/measures", headers=who,
                             json=measure_body([value_id]))).status_code == 403
        assert (await c.put(base, headers=who, json=measure_body([value_id]))).status_code == 403
    for who in (agency.auditor, agency.viewer):
        assert (await c.post(f"{base}/data", headers=who, json=point)).status_code == 403
        assert (await c.post(f"{base}/import", headers={**who, **CSV},
                             content=GOOD_CSV)).status_code == 403
        assert (await c.post(f"{base}/data/2025-01-01/correct", headers=who,
                             json={**point, "reason": "x"})).status_code == 403
    assert (await c.get(f"{base}/history", headers=agency.viewer)).status_code == 403
    for path in ("/api/v1/measures", base, f"{base}/data", f"{base}/export.csv"):
        assert (await c.get(path, headers=agency.viewer)).status_code == 200, path
        unauthenticated = await c.get(path)
        assert unauthenticated.status_code == 401, path
        assert set(unauthenticated.json()) == {"detail", "errors"}
    assert (await c.post(f"{base}/data", json=point)).status_code == 401
    await record(agency, measure_id, **point)  # a member enters data
    agency.ok(await c.post(f"{base}/data", headers=agency.leader,
                           json={**point, "period": "2025-02-01"}), 201)  # so may a leader
    assert len(await points(agency, measure_id)) == 2


# --- CSV import and export ---------------------------------------------------------------------


async def test_an_import_is_previewed_then_stored_in_one_step(agency):
    measure_id = await define_measure(agency)
    preview = await import_csv(agency, measure_id, GOOD_CSV, dry_run=True)
    assert preview["valid"] is True
    assert preview["rows_read"] == 3
    assert preview["errors"] == []
    assert [(r["line"], r["period"], r["numerator"], r["denominator"], r["note"])
            for r in preview["rows"]] == [
        (2, "2024-10-01", 12, 20, "First month"), (3, "2024-11-01", 15, 21, ""),
        (4, "2024-12-01", 9, 18, "Holidays, short staffed")]
    assert await points(agency, measure_id) == []  # a dry run stores nothing

    done = await import_csv(agency, measure_id, GOOD_CSV)
    assert done == {"imported": 3, "version": 2}  # one event for the whole file
    assert [(p["period"], p["value"], p["note"]) for p in await points(agency, measure_id)] == [
        ("2024-10-01", 0.6, "First month"), ("2024-11-01", 15 / 21, ""),
        ("2024-12-01", 0.5, "Holidays, short staffed")]
    point = agency.ok(await agency.client.get(
        f"/api/v1/measures/{measure_id}/data/2024-11-01", headers=agency.viewer))
    assert [e["kind"] for e in point["entries"]] == ["imported"]

    again = await import_csv(agency, measure_id, GOOD_CSV, dry_run=True)
    assert again["valid"] is False
    assert [(e["line"], e["field"]) for e in again["errors"]] == [
        (2, "period"), (3, "period"), (4, "period")]
    assert "already has a data point" in again["errors"][0]["reason"]


async def test_a_file_with_three_bad_rows_reports_all_three_by_line_and_stores_nothing(agency):
    measure_id = await define_measure(agency)
    text = ("period,value,numerator,denominator,note\n"
            "2024-10-01,,12,20,\n"
            "2024-11-15,,15,21,\n"  # line 3: not the first of the month
            "2024-12-01,,twelve,18,\n"  # line 4: not a number
            "2025-01-01,,12,20,\n"
            "2025-02-01,,25,20,\n")  # line 6: numerator > denominator
    preview = await import_csv(agency, measure_id, text, dry_run=True)
    assert preview["valid"] is False
    assert [(e["line"], e["field"]) for e in preview["errors"]] == [
        (3, "period"), (4, "numerator"), (6, "numerator")]
    assert [r["line"] for r in preview["rows"]] == [2, 5]

    refused = await agency.client.post(
        f"/api/v1/measures/{measure_id}/import", headers={**agency.member, **CSV},
        content=text)
    assert refused.status_code == 400, refused.text
    body = refused.json()
    assert set(body) == {"detail", "errors"}
    assert body["errors"] == {
        "line 3": "period: monthly data are dated by the first day of the month: 2024-11-01, "
                  "not 2024-11-15",
        "line 4": "numerator: 'twelve' is not a number",
        "line 6": "numerator: cannot be more than the denominator (25 > 20)",
    }
    assert await points(agency, measure_id) == []
    measure = agency.ok(await agency.client.get(f"/api/v1/measures/{measure_id}",
                                                headers=agency.viewer))
    assert measure["version"] == 1


async def test_files_that_cannot_be_read_are_refused_with_a_reason(agency):
    measure_id = await define_measure(agency)
    url = f"/api/v1/measures/{measure_id}/import"
    for content, reason in [
        (b"", "is empty"),
        (b"period,numerator,denominator\n", "no data rows"),
        (b"period,value\n2025-01-01,1\n", "no numerator column"),
        ("period,numerator,denominator,note\n2025-01-01,1,2,Müller\n".encode("latin-1"),
         "not UTF-8"),
        (b"period,numerator,denominator,note\n" + b"x" * 1_000_001, "larger than 1 MB"),
    ]:
        refused = await agency.client.post(url, headers={**agency.member, **CSV},
                                           content=content)
        assert refused.status_code == 400, refused.text
        assert any(reason in message for message in refused.json()["errors"].values()), (
            reason, refused.json())
    too_big = await agency.client.post(url, headers={**agency.member, **CSV},
                                       content=b"x" * 2_000_001)
    assert too_big.status_code == 413
    assert set(too_big.json()) == {"detail", "errors"}
    form = await agency.client.post(url, headers=agency.member,
                                    files={"file": ("data.csv", GOOD_CSV.encode())})
    assert form.status_code == 415, form.text
    assert "text/csv" in form.json()["detail"]
    assert_field_error(await agency.client.post(f"{url}?dry_run=maybe",
                                                headers={**agency.member, **CSV},
                                                content=GOOD_CSV), "dry_run")
    assert await points(agency, measure_id) == []


async def test_an_import_with_a_stale_if_match_is_412_and_stores_nothing(agency):
    measure_id = await define_measure(agency)
    await record(agency, measure_id, period="2025-01-01", numerator=1, denominator=2)
    stale = await agency.client.post(
        f"/api/v1/measures/{measure_id}/import",
        headers={**agency.member, **CSV, **match(1)}, content=GOOD_CSV)
    assert stale.status_code == 412, stale.text
    assert len(await points(agency, measure_id)) == 1


async def test_an_export_reads_back_into_a_new_measure_as_the_same_data(agency):
    source = await define_measure(agency, name="Families heard (%) — east unit")
    await import_csv(agency, source, GOOD_CSV)
    await record(agency, source, period="2025-01-01", numerator=7, denominator=7,
                 note="=HYPERLINK(\"http://example.com\",\"click\")")
    await record(agency, source, period="2025-02-01", numerator=0, denominator=3,
                 note="Line one\nline \"two\"")
    await correct(agency, source, "2024-11-01", numerator=14, denominator=21, reason="Recount")

    exported = await agency.client.get(f"/api/v1/measures/{source}/export.csv",
                                       headers=agency.viewer)
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.headers["content-disposition"] == (
        'attachment; filename="families-heard-east-unit.csv"')
    text = exported.text
    assert text.startswith("period,value,numerator,denominator,note\r\n")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[2] == ["2024-11-01", "", "14", "21", ""]  # the corrected numbers
    assert rows[4][4] == "'=HYPERLINK(\"http://example.com\",\"click\")"  # not a formula

    copy = await define_measure(agency, name="Copy")
    assert (await import_csv(agency, copy, text))["imported"] == 5
    keys = ("period", "value", "numerator", "denominator", "note")
    assert [{k: p[k] for k in keys} for p in await points(agency, copy)] == [
        {k: p[k] for k in keys} for p in await points(agency, source)]
    again = await agency.client.get(f"/api/v1/measures/{copy}/export.csv",
                                    headers=agency.viewer)
    assert again.text == text


async def test_a_measure_without_data_exports_only_the_header(agency):
    measure_id = await define_measure(agency)
    exported = await agency.client.get(f"/api/v1/measures/{measure_id}/export.csv",
                                       headers=agency.viewer)
    assert exported.text == "period,value,numerator,denominator,note\r\n"


# --- storage -----------------------------------------------------------------------------------


async def test_a_long_lived_measure_loads_from_its_snapshot_with_every_point(agency, services):
    measure_id = await define_measure(agency, unit="count", goal=None,
                                      definition={"frequency": "weekly", "denominator": ""})
    mid = uuid.UUID(measure_id)
    mondays = [date(2023, 1, 2) + timedelta(weeks=i) for i in range(105)]
    for monday in mondays[:104]:
        await services.call(services.cqi.record_data_point, mid, actor=agency.ids["member"],
                            period=monday, value=1)
    await services.command(services.cqi.correct_data_point, mid, actor=agency.ids["member"],
                           period=mondays[0], value=2, reason="Recount")
    assert list(services.cqi.snapshots.get(mid))  # taken at version 101
    # What `cqi verify` checks: the snapshot's state is what the events give (dates, points).
    assert services.cqi.check_snapshots()[1] == []
    measure = agency.ok(await agency.client.get(f"/api/v1/measures/{measure_id}",
                                                headers=agency.viewer))
    assert (measure["points"], measure["version"]) == (104, 106)
    listed = await points(agency, measure_id)
    assert (len(listed), listed[0]["value"], listed[0]["corrected"]) == (104, 2, True)
    await record(agency, measure_id, period=mondays[104].isoformat(), value=5)
    assert (await points(agency, measure_id))[-1]["value"] == 5


# --- the API's description of itself -----------------------------------------------------------

ROUTES = {
    "/api/v1/measures": {"get", "post"},
    "/api/v1/measures/{measure_id}": {"get", "put"},
    "/api/v1/measures/{measure_id}/history": {"get"},
    "/api/v1/measures/{measure_id}/data": {"get", "post"},
    "/api/v1/measures/{measure_id}/data/{period}": {"get"},
    "/api/v1/measures/{measure_id}/data/{period}/correct": {"post"},
    "/api/v1/measures/{measure_id}/import": {"post"},
    "/api/v1/measures/{measure_id}/export.csv": {"get"},
}


async def test_the_openapi_document_describes_every_measure_route_and_its_errors(client):
    document = (await client.get("/schema/openapi.json")).json()
    for path, methods in ROUTES.items():
        assert methods == set(document["paths"][path]), path
        for method in methods:
            responses = document["paths"][path][method]["responses"]
            assert {"401", "403"} <= set(responses), (method, path)
            if method != "get":
                assert {"400", "404" if path != "/api/v1/measures" else "409"} <= set(responses)
            for code, response in responses.items():
                if code.startswith("4"):
                    assert response["content"]["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/ErrorOut"}, (method, path, code)
    imports = document["paths"]["/api/v1/measures/{measure_id}/import"]["post"]
    assert set(imports["requestBody"]["content"]) == {"text/csv"}
    assert {"412", "413", "415"} <= set(imports["responses"])
    exports = document["paths"]["/api/v1/measures/{measure_id}/export.csv"]["get"]
    assert set(exports["responses"]["200"]["content"]) == {"text/csv"}
    fields = {name: set(schema.get("properties", {}))
              for name, schema in document["components"]["schemas"].items()}
    assert {"name", "type", "definition", "unit", "direction", "goal",
            "value_ids"} <= fields["MeasureIn"]
    assert {"numerator", "denominator", "data_source", "owner",
            "frequency"} <= fields["DefinitionIn"]
    assert {"period", "value", "numerator", "denominator", "note"} <= fields["PointIn"]
