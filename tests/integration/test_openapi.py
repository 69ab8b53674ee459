"""The API describes itself at /schema/openapi.json, and says when it is healthy."""

from __future__ import annotations

import json

CONTRACT = {
    "/api/v1/health": {"get"},
    "/api/v1/mission": {"get", "put"},
    "/api/v1/values": {"get", "post"},
    "/api/v1/initiatives": {"get", "post"},
    "/api/v1/initiatives/{initiative_id}": {"get"},
    "/api/v1/initiatives/{initiative_id}/cycles": {"post"},
    "/api/v1/initiatives/{initiative_id}/cycles/{number}/do": {"post"},
    "/api/v1/initiatives/{initiative_id}/cycles/{number}/study": {"post"},
    "/api/v1/initiatives/{initiative_id}/cycles/{number}/act": {"post"},
    "/api/v1/initiatives/{initiative_id}/history": {"get"},
    "/api/v1/board": {"get"},
    "/api/v1/revisits": {"get", "post"},
    "/api/v1/revisits/{revisit_id}/complete": {"post"},
}


async def openapi(client) -> dict:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200, response.text
    return json.loads(response.content)


async def test_the_openapi_document_lists_every_route_and_field_of_the_contract(client):
    document = await openapi(client)
    assert document["openapi"].startswith("3.1")
    assert document["info"]["title"] == "CQI Tracker"
    for path, methods in CONTRACT.items():
        assert path in document["paths"], path
        assert methods <= set(document["paths"][path]), (path, document["paths"][path].keys())
    # the documented bodies carry the contract's field names
    schemas = document["components"]["schemas"]
    fields = {name: set(schema.get("properties", {})) for name, schema in schemas.items()}
    assert {"title", "problem", "aim", "value_ids"} <= fields["InitiativeIn"]
    assert {"value_id", "measure", "intervention", "training_step", "objective",
            "prediction"} <= fields["PlanIn"]
    assert {"number", "version"} <= fields["CyclePlanned"]
    assert {"id", "title", "problem", "aim", "status", "version", "value_ids",
            "cycles"} <= fields["InitiativeOut"]
    assert {"version", "type", "at", "actor", "data"} <= fields["HistoryEntry"]
    assert {"initiative_id", "title", "cycle_number", "phase", "value_id",
            "updated_at"} <= fields["BoardRow"]
    assert {"id", "subject", "due_on", "days_overdue"} <= fields["RevisitOut"]
    assert {"subject", "due_on", "participants"} <= fields["RevisitIn"]
    assert {"mission", "vision", "revisit_every_months"} <= fields["MissionIn"]
    assert fields["ErrorOut"] == {"detail", "errors"}


async def test_each_route_documents_the_errors_it_answers_with_their_real_body(client):
    paths = (await openapi(client))["paths"]
    for path, methods in CONTRACT.items():
        for method in methods:
            responses = paths[path][method]["responses"]
            if path == "/api/v1/health":
                assert {"200", "503"} <= set(responses)
                continue
            assert {"401", "403"} <= set(responses), (method, path)
            if method != "get":
                assert {"400", "409"} <= set(responses), (method, path)
            for code, response in responses.items():
                if code.startswith("4"):
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorOut"}, (method, path)
    command = paths["/api/v1/initiatives/{initiative_id}/cycles/{number}/act"]["post"]
    # 422: its Idempotency-Key was already used for another request
    assert {"200", "400", "401", "403", "404", "409", "412", "422"} == set(command["responses"])


async def test_health_answers_ok_without_credentials(client):
    response = await client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_health_says_unavailable_when_the_database_does_not_answer(client, services):
    await services.pool.close()  # as if the database had gone away
    response = await client.get("/api/v1/health")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "problem": "the database does not answer"}
