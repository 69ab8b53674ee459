"""Accounts (leaders only): who can sign in, with which role."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from domain.account import ROLES, Account
from domain.errors import DomainError, ValidationError
from projections.accounts import accounts
from service.auth import requires
from service.pages_base import (
    Forms,
    FormState,
    actor,
    attempt,
    page,
    read_form,
    see_other,
    text,
)
from service.security import check_password
from service.services import Req, Services, Svc

TARGET = "#accounts"
ROLE_HINTS = {
    "leader": "everything, plus the mission, values, revisits and accounts",
    "member": "opens initiatives and records PDSA cycles",
    "auditor": "reads everything, including the full history of each initiative",
    "viewer": "reads initiatives, the board, the mission and revisits",
}
NOTICES = {
    "created": "The account is created. Give its login and initial password to its owner.",
    "role": "The role is changed. Its owner was signed out everywhere, so that the new role "
            "applies from their next sign-in.",
    "deactivated": "The account is deactivated and its owner signed out everywhere.",
}


async def render_accounts(request: Req, services: Services, forms: Forms | None = None,
                          notice: str = "") -> Template:
    forms = forms or Forms()
    rows = await services.read(accounts)
    return page(request, "accounts.html", "_accounts.html", status_code=forms.status,
                rows=rows, form=forms, notice=notice, roles=ROLES, role_hints=ROLE_HINTS)


def field_errors_of_new_account(values: dict[str, Any], password_problem: str
                                ) -> dict[str, str]:
    """All that is wrong with a new account when its password already is: the password's
    problem and whatever the domain would say about the rest (nothing is saved)."""
    errors = {"password": password_problem}
    try:
        Account.register(actor="", login=text(values, "login"),
                         display_name=text(values, "display_name"), role=text(values, "role"),
                         password_hash="")
    except ValidationError as exc:
        errors = {**exc.errors, **errors}
    return errors


class AccountPages(Controller):
    path = "/accounts"
    guards = [requires("leader")]
    include_in_schema = False

    @get("/")
    async def index(self, request: Req, services: Svc,
                    done: FromQuery[str | None] = None) -> Template:
        return await render_accounts(request, services, notice=NOTICES.get(done or "", ""))

    async def refuse(self, request: Req, services: Services, form: str,
                     values: dict[str, Any], reason: str) -> Template:
        refused = FormState.refused(form, values, DomainError(reason))
        return await render_accounts(request, services, Forms(refused))

    @post("/")
    async def create(self, request: Req, services: Svc) -> Any:
        values = await read_form(request)
        password = text(values, "password")
        values.pop("password", None)  # never sent back to the browser
        if problem := check_password(password):
            refused = FormState("create", values, field_errors_of_new_account(values, problem),
                                status=400)
            return await render_accounts(request, services, Forms(refused))
        _, refused = await attempt(
            services, "create", values, services.cqi.register_account, actor=actor(request),
            login=text(values, "login"), display_name=text(values, "display_name"),
            role=text(values, "role"), password_hash=await services.hash_password(password),
        )
        if refused:
            return await render_accounts(request, services, Forms(refused))
        return see_other(request, "/accounts?done=created", target=TARGET)

    @post("/{account_id:uuid}/role")
    async def change_role(self, request: Req, services: Svc,
                          account_id: FromPath[uuid.UUID]) -> Any:
        values = await read_form(request)
        form = f"role-{account_id}"
        if str(account_id) == actor(request):
            return await self.refuse(request, services, form, values,
                                     "You cannot change your own role; ask another leader.")
        receipt, refused = await attempt(services, form, values, services.cqi.change_role,
                                         account_id, actor=actor(request),
                                         role=text(values, "role"))
        if refused:
            return await render_accounts(request, services, Forms(refused))
        assert receipt is not None
        if receipt.notification_id:  # sessions hold the role they began with
            await services.sessions.end_all_for(str(account_id))
        return see_other(request, f"/accounts?done=role#a-{account_id}", target=TARGET)

    @post("/{account_id:uuid}/deactivate")
    async def deactivate(self, request: Req, services: Svc,
                         account_id: FromPath[uuid.UUID]) -> Any:
        values = await read_form(request)
        form = f"deactivate-{account_id}"
        if str(account_id) == actor(request):
            return await self.refuse(request, services, form, values,
                                     "You cannot deactivate your own account; ask another leader.")
        _, refused = await attempt(services, form, values, services.cqi.deactivate_account,
                                   account_id, actor=actor(request))
        if refused:
            return await render_accounts(request, services, Forms(refused))
        await services.sessions.end_all_for(str(account_id))
        return see_other(request, f"/accounts?done=deactivated#a-{account_id}", target=TARGET)
