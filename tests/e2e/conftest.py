"""A headless Chromium (Debian's package) driven by Playwright, and accounts to sign in with."""

from __future__ import annotations

import os
import pathlib
import shutil
from collections.abc import Iterator

import pytest

from service.application import CQIApplication, eventsourcing_env
from service.security import password_hasher
from service.settings import Settings

ARTIFACTS = pathlib.Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
PASSWORD = "a long enough password"


def chromium_path() -> str | None:
    candidate = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    return candidate if os.path.exists(candidate) else None


@pytest.fixture
def browser() -> Iterator[object]:
    """Per test, not per session: Playwright's sync API runs an event loop of its own while it
    is open, and async tests run after it in the same session would find it running."""
    executable = chromium_path()
    if executable is None:
        pytest.skip("no Chromium here: install Debian's `chromium` (.ci/run does) or set CHROMIUM")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: object, request: pytest.FixtureRequest) -> Iterator[object]:
    """A fresh browser context per test; a screenshot of the last page is kept on failure."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    context.set_default_timeout(10_000)
    tab = context.new_page()
    yield tab
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / f"{request.node.name}-failed.png"), full_page=True)
    context.close()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]


@pytest.fixture
def people(settings: Settings) -> dict[str, str]:
    """A leader and a CQI team member, registered through the application's commands."""
    app = CQIApplication(env=eventsourcing_env(settings.database_url or "", pool_size=1))
    password_hash = password_hasher("fast").hash(PASSWORD)
    try:
        for login, role, name in (("lee", "leader", "Lee Okafor"),
                                  ("maria", "member", "Maria Delgado")):
            app.register_account(actor="test", login=login, display_name=name, role=role,
                                 password_hash=password_hash)
    finally:
        app.close()
    return {"leader": "lee", "member": "maria"}
