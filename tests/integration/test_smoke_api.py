"""A first pass through the API: the journey of issue 2 over real HTTP and PostgreSQL."""


async def test_a_member_runs_a_cycle_through_the_api_and_sees_it_on_the_board(client, accounts):
    leader = await accounts.token("leader")
    member = await accounts.token("member")
    value = await client.post("/api/v1/values", json={"name": "Family engagement",
                                                      "description": "Families are partners"},
                              headers=leader)
    assert value.status_code == 201, value.text
    value_id = value.json()["id"]
    opened = await client.post("/api/v1/initiatives", headers=member, json={
        "title": "Families at the table", "problem": "Families say they are not heard",
        "aim": "80% of families report feeling included by June", "value_ids": [value_id]})
    assert opened.status_code == 201, opened.text
    iid = opened.json()["id"]
    planned = await client.post(f"/api/v1/initiatives/{iid}/cycles", headers=member, json={
        "value_id": value_id, "measure": "% families included", "intervention": "family meetings",
        "training_step": "coach workers", "objective": "try it", "prediction": "more included"})
    assert planned.status_code == 201, planned.text
    assert planned.json()["number"] == 1
    early = await client.post(f"/api/v1/initiatives/{iid}/cycles/1/study", headers=member,
                              json={"result": "r", "learning": "l"})
    assert early.status_code == 409
    assert "record Do before Study" in early.json()["detail"]
    board = await client.get("/api/v1/board", headers=member)
    assert [(r["title"], r["phase"]) for r in board.json()] == [("Families at the table", "plan")]
