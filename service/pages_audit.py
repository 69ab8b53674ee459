"""The audit page: the chain's head and the latest signed anchor, ready to copy and publish."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get
from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException
from litestar.handlers import BaseRouteHandler
from litestar.response import Template

from service import audit
from service.auth import ROLE_NAMES, demand
from service.pages_base import page
from service.services import Req, Svc

AUDIT_ROLES = ("leader", "auditor")


async def leader_or_auditor(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
                            ) -> None:
    """Leaders publish anchors, auditors check them; the roles between have no business here."""
    principal = demand(connection, "viewer")
    if principal.role not in AUDIT_ROLES:
        raise PermissionDeniedException(
            f"The audit trail is for leaders and auditors; you are signed in as "
            f"{ROLE_NAMES[principal.role]}.")


class AuditPages(Controller):
    path = "/audit"
    guards = [leader_or_auditor]
    include_in_schema = False

    @get("/")
    async def index(self, request: Req, services: Svc) -> Template:
        anchor = await audit.latest_anchor(services.pool)
        head = await audit.chain_head(services.pool)
        return page(request, "audit.html", anchor=anchor, head=head)
