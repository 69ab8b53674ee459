"""The composition root: `create_app(settings)` builds the Litestar app and everything it uses."""

from __future__ import annotations

import gc
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import js_lib_htmx
from litestar import Litestar, MediaType, Request, Response
from litestar.di import Provide
from litestar.exceptions import (
    ClientException,
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
)
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR, HTTP_503_SERVICE_UNAVAILABLE
from litestar.template.config import TemplateConfig

from domain.errors import DomainError, NotFoundError, ValidationError
from service.api import API_CONTROLLERS
from service.api_charts import CHART_CONTROLLERS
from service.api_measures import MEASURE_CONTROLLERS
from service.api_portfolio import PORTFOLIO_CONTROLLERS
from service.api_publication import PUBLICATION_CONTROLLERS
from service.application import StaleVersionError
from service.auth import AuthenticationMiddleware
from service.hardening import AllowedHosts, client_address, security_event, security_headers
from service.idempotency import IdempotencyMiddleware, document_keys
from service.pages import PAGE_CONTROLLERS, template_globals
from service.pages_audit import AuditPages
from service.read_cache import ReadCache
from service.security import CSRF_FIELD, CSRF_HEADER, csrf_valid
from service.services import Services, system_clock
from service.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
HTMX_DIR = Path(js_lib_htmx.__file__).parent / "static" / "htmx"
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def is_api(request: Request[Any, Any, Any]) -> bool:
    return request.url.path.startswith("/api/")


def problem(status: int, detail: str, errors: dict[str, str] | None = None) -> Response[Any]:
    return Response({"detail": detail, "errors": errors or {}}, status_code=status,
                    media_type=MediaType.JSON)


_AT = re.compile(r"^(?P<message>.*?)(?: - at `\$\.?(?P<path>[^`]*)`)?$")
_FIELD = re.compile(r"field `(?P<field>[^`]+)`")


def field_errors(extra: Any) -> dict[str, str]:
    """Turn Litestar's validation messages into {field: message}."""
    if isinstance(extra, dict):
        return {str(k): str(v) for k, v in extra.items()}
    errors: dict[str, str] = {}
    for item in extra or []:
        if not isinstance(item, dict):
            continue
        match = _AT.match(str(item.get("message", "")))
        message = match.group("message") if match else str(item.get("message"))
        path = match.group("path") if match else None
        if not path and item.get("key") != "data":  # "data": the whole body, not one field
            path = item.get("key")
        if item.get("key") == "data" and message == "'data'":  # no body at all
            message = "a JSON object is required"
        if named := _FIELD.search(message):  # missing/unknown field `x` (inside `path`)
            path = f"{path}.{named.group('field')}" if path else named.group("field")
        errors[path or "body"] = message
    return errors


def on_validation(request: Request[Any, Any, Any], exc: ClientException) -> Response[Any]:
    errors = field_errors(exc.extra)
    if not errors:
        errors = {"body": str(exc.detail)}
    return problem(400, "The request has errors; see `errors`.", errors)


def on_domain_error(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    if isinstance(exc, ValidationError):
        status = 400
        return _error(request, status, "The request has errors; see `errors`.", exc.errors)
    if isinstance(exc, NotFoundError):
        return _error(request, 404, exc.reason)
    if isinstance(exc, StaleVersionError):
        # If-Match names a version no longer current: 412 on the API, 409 for a stale form.
        return _error(request, 412 if is_api(request) else 409, exc.reason)
    return _error(request, 409, exc.reason)


def on_http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if isinstance(exc, NotAuthorizedException | PermissionDeniedException):
        principal = request.scope.get("user")
        security_event("access_denied", status=exc.status_code, method=request.method,
                       path=request.url.path, login=principal.login if principal else "-",
                       address=client_address(request.scope,
                                              request.app.state.services.settings
                                              .trust_proxy_headers))
    if isinstance(exc, NotAuthorizedException) and not is_api(request):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return Redirect(f"/sign-in?next={quote(target)}", status_code=303)
    if isinstance(exc, ClientException) and exc.status_code == 400 and is_api(request):
        return on_validation(request, exc)  # also a body that is not JSON: {"body": why}
    headers = {"WWW-Authenticate": 'Bearer realm="cqi"'} if exc.status_code == 401 else None
    response = _error(request, exc.status_code, exc.detail)
    if headers:
        response.headers.update(headers)
    return response


UNREACHABLE_STATES = ("57P01", "57P02", "57P03")  # shutting down, crashed, starting up


def database_unreachable(exc: BaseException) -> bool:
    """The database went away (restart, failover, network), as opposed to a bug or a refused
    statement: no SQL state at all (the connection broke), a connection-class state (08...),
    or the server shutting down or starting up. Follows the causes: the library wraps the
    driver's errors."""
    import asyncpg
    import psycopg
    import psycopg_pool

    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, (psycopg_pool.PoolTimeout, ConnectionError,
                             asyncpg.exceptions.ConnectionDoesNotExistError)):
            return True
        if isinstance(seen, (psycopg.OperationalError, psycopg.InterfaceError)):
            state = seen.sqlstate
            return state is None or state.startswith("08") or state in UNREACHABLE_STATES
        if isinstance(seen, asyncpg.PostgresError):
            state = getattr(seen, "sqlstate", None) or ""
            return state.startswith("08") or state in UNREACHABLE_STATES
        seen = seen.__cause__ or seen.__context__
    return False


def on_crash(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if database_unreachable(exc):
        request.logger.warning("database unreachable on %s %s: %r", request.method,
                               request.url.path, exc)
        response = _error(request, HTTP_503_SERVICE_UNAVAILABLE,
                          "The database is not answering right now; try again in a moment. A "
                          "change you sent may or may not have been saved: reload to see, or "
                          "repeat it with the same Idempotency-Key.")
        response.headers["Retry-After"] = "2"
        return response
    request.logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return _error(request, HTTP_500_INTERNAL_SERVER_ERROR,
                  "Something went wrong on our side. Your change may or may not have been saved: "
                  "reload the page to see before trying again.")


def _error(
    request: Request[Any, Any, Any], status: int, detail: str,
    errors: dict[str, str] | None = None,
) -> Response[Any]:
    if is_api(request):
        return problem(status, detail, errors)
    return Template("error.html", context={"status": status, "detail": detail,
                                           "errors": errors or {},
                                           "user": request.scope.get("user")},
                    status_code=status, media_type=MediaType.HTML)


async def check_csrf(request: Request[Any, Any, Any]) -> None:
    """Unsafe requests from a browser carry the CSRF token (form field or header)."""
    if request.method not in UNSAFE_METHODS or request.scope.get("auth") == "token":
        return
    presented = request.headers.get(CSRF_HEADER)
    content_type = request.headers.get("content-type", "")
    if presented is None and content_type.startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        presented = (await request.form()).get(CSRF_FIELD)
    principal = request.scope.get("user")
    session_id = principal.session_id if principal else None
    services: Services = request.app.state.services
    if not csrf_valid(services.settings.secret_key, request.state.get("csrf_cookie"),
                      session_id, presented):
        if is_api(request) and request.scope.get("auth") is None:
            raise NotAuthorizedException("Sign in first, or send Authorization: Bearer <token>.")
        raise PermissionDeniedException(
            "This form has expired or did not come from this site. Reload the page and try again."
        )


def provide_services(request: Request[Any, Any, Any]) -> Services:
    return request.app.state.services


def create_app(
    settings: Settings,
    *,
    services: Services | None = None,
    clock: Callable[[], datetime] = system_clock,
) -> Litestar:
    """Build the app. Without `services`, they are started at start-up and stopped at shutdown."""
    settings = settings.with_secret_key()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        if services is not None:
            app.state.services = services
            try:
                yield
            finally:
                await app.state.read_cache.close()
            return
        started = await Services.start(settings, clock)
        app.state.services = started
        # Everything built so far (~100,000 objects) lives as long as the process: out of the
        # garbage collector's sight, a full collection no longer walks it (measured in-process
        # under load: full collections of 50-250 ms, a page's p99, became a few ms).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await app.state.read_cache.close()
            await started.stop()

    def configure_templates(engine: JinjaTemplateEngine) -> None:
        engine.engine.globals.update(template_globals())
        # Templates change only with a new release (a restart): no stat() of each template's
        # file at every render.
        engine.engine.auto_reload = False

    app = Litestar(
        route_handlers=[
            *API_CONTROLLERS,
            *MEASURE_CONTROLLERS,
            *CHART_CONTROLLERS,
            *PORTFOLIO_CONTROLLERS,
            *PUBLICATION_CONTROLLERS,
            *PAGE_CONTROLLERS,
            AuditPages,
            create_static_files_router(path="/static/htmx", directories=[HTMX_DIR],
                                       name="htmx", include_in_schema=False),
            create_static_files_router(path="/static", directories=[TEMPLATES / "static"],
                                       name="static", include_in_schema=False),
        ],
        dependencies={"services": Provide(provide_services, sync_to_thread=False)},
        middleware=[DefineMiddleware(AuthenticationMiddleware),
                    DefineMiddleware(IdempotencyMiddleware)],
        before_request=check_csrf,
        before_send=[security_headers(settings.trust_proxy_headers)],
        exception_handlers={
            DomainError: on_domain_error,
            HTTPException: on_http_error,
            Exception: on_crash,
        },
        template_config=TemplateConfig(
            directory=TEMPLATES, engine=JinjaTemplateEngine,
            engine_callback=configure_templates,
        ),
        openapi_config=OpenAPIConfig(
            title="CQI Tracker",
            version="1",
            description="Continuous quality improvement: initiatives, PDSA cycles, mission "
                        "values and revisits. Authenticate with `Authorization: Bearer <token>` "
                        "(create one with `cqi token create LOGIN`).\n\n"
                        "Every write (POST, PUT, PATCH, DELETE) accepts an `Idempotency-Key` "
                        "header (1-200 printable ASCII characters, e.g. a random UUID): a "
                        "repeat with the same key returns the first answer and stores nothing "
                        "new, even when the first answer was lost. The same key with another "
                        "method, path or body is refused with 422; a malformed key with 400.",
            path="/schema",
            render_plugins=[JsonRenderPlugin(path=["/", "/openapi.json"])],
        ),
        lifespan=[lifespan],
        debug=False,  # never on: a traceback page can show a database password
    )
    # Reads that every request may reuse while the database stands where it did (the board,
    # bearer tokens); one per process, as the app is (see service/read_cache.py).
    app.state.read_cache = ReadCache()
    document_keys(app)  # the Idempotency-Key header of every API write, in the OpenAPI
    # Outside Litestar's routing, so that an unknown path is refused on a wrong Host too.
    app.asgi_handler = AllowedHosts(app.asgi_handler, settings.allowed_hosts)
    return app
