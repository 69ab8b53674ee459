"""An agency driven through the JSON API: its people (one account per role) and short helpers
that build state the way a user would, asserting that every step the test relies on succeeded."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

ROLES = ("leader", "member", "auditor", "viewer")


def match(version: int) -> dict[str, str]:
    """The If-Match header naming `version`."""
    return {"If-Match": f'"{version}"'}


def plan_body(value_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "value_id": value_id,
        "objective": "Find out whether family team meetings make families feel heard",
        "prediction": "Seven in ten families will say they were heard",
        "measure": "Share of families who answer 'I was heard' on the exit survey",
        "intervention": "Hold a family team meeting within 10 days of case opening",
        "training_step": "Coach the east unit's workers in facilitation",
        **changes,
    }


def charter_body(value_ids: list[str], **changes: Any) -> dict[str, Any]:
    return {
        "title": "Families at the table",
        "problem": "Consumer feedback: families do not feel valued in case planning",
        "aim": "80% of families report feeling included by June",
        "value_ids": value_ids,
        **changes,
    }


class Agency:
    """The people of an agency and what they do through the API."""

    def __init__(self, client: httpx.AsyncClient, people: dict[str, dict[str, str]],
                 ids: dict[str, str]) -> None:
        self.client = client
        self.leader, self.member = people["leader"], people["member"]
        self.auditor, self.viewer = people["auditor"], people["viewer"]
        self.ids = ids  # role -> account id (what events record as their actor)
        self._value_id: str | None = None

    @staticmethod
    def ok(response: httpx.Response, status: int = 200) -> Any:
        assert response.status_code == status, (
            f"{response.request.method} {response.request.url} -> {response.status_code}: "
            f"{response.text}"
        )
        return response.json()

    async def value(self, name: str = "Family engagement", description: str = "") -> str:
        body = self.ok(await self.client.post(
            "/api/v1/values", headers=self.leader,
            json={"name": name, "description": description}), 201)
        self._value_id = self._value_id or body["id"]
        return body["id"]

    async def default_value(self) -> str:
        """The agency's first value (added now if there is none): what initiatives and
        cycles serve unless a test names another."""
        if self._value_id is None:
            self._value_id = await self.value()
        return self._value_id

    async def initiative(self, **changes: Any) -> str:
        value_ids = changes.pop("value_ids", None) or [await self.default_value()]
        body = self.ok(await self.client.post(
            "/api/v1/initiatives", headers=self.member, json=charter_body(value_ids, **changes)),
            201)
        return body["id"]

    async def plan(self, initiative_id: str, **changes: Any) -> dict[str, Any]:
        value_id = changes.pop("value_id", None) or await self.default_value()
        return self.ok(await self.client.post(
            f"/api/v1/initiatives/{initiative_id}/cycles", headers=self.member,
            json=plan_body(value_id, **changes)), 201)

    async def do(self, initiative_id: str, number: int, observations: str = "Held 12 meetings"
                 ) -> dict[str, Any]:
        return self.ok(await self.client.post(
            f"/api/v1/initiatives/{initiative_id}/cycles/{number}/do", headers=self.member,
            json={"observations": observations}))

    async def study(self, initiative_id: str, number: int) -> dict[str, Any]:
        return self.ok(await self.client.post(
            f"/api/v1/initiatives/{initiative_id}/cycles/{number}/study", headers=self.member,
            json={"result": "8 of 12 felt heard", "learning": "Timing matters"}))

    async def act(self, initiative_id: str, number: int, decision: str = "adopt"
                  ) -> dict[str, Any]:
        return self.ok(await self.client.post(
            f"/api/v1/initiatives/{initiative_id}/cycles/{number}/act", headers=self.member,
            json={"decision": decision, "rationale": "The prediction held"}))

    async def run_cycle(self, initiative_id: str, decision: str = "adopt") -> dict[str, Any]:
        number = (await self.plan(initiative_id))["number"]
        await self.do(initiative_id, number)
        await self.study(initiative_id, number)
        return await self.act(initiative_id, number, decision)

    async def get(self, initiative_id: str, query: str = "") -> dict[str, Any]:
        return self.ok(await self.client.get(
            f"/api/v1/initiatives/{initiative_id}{query}", headers=self.auditor))

    async def history(self, initiative_id: str) -> list[dict[str, Any]]:
        return self.ok(await self.client.get(
            f"/api/v1/initiatives/{initiative_id}/history", headers=self.auditor))

    async def listing(self, path: str) -> Any:
        return self.ok(await self.client.get(path, headers=self.viewer))

    async def revisit(self, **body: Any) -> str:
        body = {"subject": "mission", "due_on": "2026-03-01", "participants": ["Director"],
                **body}
        return self.ok(await self.client.post("/api/v1/revisits", headers=self.leader,
                                              json=body), 201)["id"]


@pytest.fixture
async def agency(client: httpx.AsyncClient, accounts: Any) -> Agency:
    people, ids = {}, {}
    for role in ROLES:
        people[role] = await accounts.token(role, login=role)
        ids[role] = str((await accounts.services.call(
            accounts.services.cqi.find_account, role)).id)
    return Agency(client, people, ids)


def assert_field_error(response: httpx.Response, field: str) -> None:
    """400 with the contract's error body, naming `field` among its errors."""
    assert response.status_code == 400, f"{response.status_code}: {response.text}"
    body = response.json()
    assert set(body) == {"detail", "errors"}, body
    assert isinstance(body["detail"], str) and body["detail"], body
    assert field in body["errors"], f"expected an error for {field!r}: {body}"
    assert all(isinstance(m, str) and m for m in body["errors"].values()), body
