"""The `cqi` console script, run as a person runs it: a subprocess with its own environment.

Each run costs about a second of imports, so each test makes the few runs its story needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import psutil
import pytest
from eventsourcing.utils import get_topic

from domain.account import Account
from service.app import create_app
from service.application import CQIApplication, eventsourcing_env
from service.demo import DEMO_PASSWORD, PEOPLE
from service.projection_runner import all_projections
from service.services import Services
from service.settings import Settings

CQI = pathlib.Path(sys.executable).with_name("cqi")
PASSWORD = "a long enough password"
DEMO_VALUES = {"Family engagement", "Child safety", "Permanency", "Cultural humility",
               "Staff well-being"}


def environment(data_dir: pathlib.Path, **variables: str) -> dict[str, str]:
    """The test's environment without any CQI configuration of the machine, plus `variables`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CQI_") and k != "DATABASE_URL"}
    return {**env, "CQI_DATA_DIR": str(data_dir), "CQI_PASSWORD_HASH_COST": "fast", **variables}


def cqi(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CQI), *args], input=stdin, capture_output=True, text=True,
                          env=env, timeout=120, check=False)


@pytest.fixture
def cli_env(database_url: str, tmp_path: pathlib.Path) -> dict[str, str]:
    return environment(tmp_path / "data", DATABASE_URL=database_url)


@contextlib.contextmanager
def application(database_url: str):  # type: ignore[no-untyped-def]
    app = CQIApplication(env=eventsourcing_env(database_url, pool_size=2))
    try:
        yield app
    finally:
        app.close()


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[tuple[Services, httpx.AsyncClient]]:
    """The app over what the CLI wrote, with its views caught up to the head of the log."""
    services = await Services.start(settings)
    try:
        app = create_app(settings, services=services)
        app.state.services = services
        await caught_up(services)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver.local") as c:
            yield services, c
    finally:
        await services.stop()


async def caught_up(services: Services) -> None:
    head = await services.call(services.cqi.recorder.max_notification_id) or 0
    assert await services.runner.progress.wait(head, timeout=15), "the views did not catch up"


async def bearer(services: Services, login: str) -> dict[str, str]:
    account = await services.call(services.cqi.find_account, login)
    receipt = await services.call(services.cqi.issue_token, account.id, actor="test")
    return {"Authorization": f"Bearer {receipt.detail}"}


def registered_logins(app: CQIApplication) -> list[str]:
    notifications = app.recorder.select_notifications(
        start=1, limit=100, topics=[get_topic(Account.Registered)])
    return sorted(app.mapper.to_domain_event(n).login for n in notifications)


# --- accounts and tokens ---------------------------------------------------------------


async def test_a_leader_added_on_the_command_line_uses_the_api_with_a_token_made_there(
    cli_env, client
):
    added = cqi(cli_env, "user", "add", "Lee", "--role", "leader", "--name", "Lee Okafor",
                stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert "Account lee (leader) created" in added.stdout

    again = cqi(cli_env, "user", "add", "lee", "--role", "viewer", stdin=PASSWORD + "\n")
    assert again.returncode == 1
    assert again.stderr.strip() == "login: lee is already taken"

    made = cqi(cli_env, "token", "create", "lee", "--label", "reporting")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert len(token.splitlines()) == 1 and token.count(".") == 2
    assert "Authorization: Bearer" in made.stderr  # how to use it goes to stderr, not stdout

    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/v1/board", headers=headers)).status_code == 200
    written = await client.put("/api/v1/mission", headers=headers, json={
        "mission": "Children safe, families strong", "vision": "Every child in a family",
        "revisit_every_months": 12})
    assert written.status_code == 200, written.text  # the account really is a leader
    assert (await client.get("/api/v1/board", headers={
        "Authorization": f"Bearer {token[:-2]}xx"})).status_code == 401

    unknown = cqi(cli_env, "token", "create", "nobody")
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "No account has the login 'nobody'."
    assert unknown.stdout == ""

    token_id = token.split(".")[1]
    assert cqi(cli_env, "token", "list", "lee").stdout.split() == [token_id]
    revoked = cqi(cli_env, "token", "revoke", "lee", token_id)
    assert revoked.returncode == 0, revoked.stderr
    assert (await client.get("/api/v1/board", headers=headers)).status_code == 401
    assert cqi(cli_env, "token", "list", "lee").stdout.strip() == "lee has no API tokens."
    twice = cqi(cli_env, "token", "revoke", "lee", token_id)
    assert twice.returncode == 1
    assert f"no token {token_id}" in twice.stderr


def test_a_short_password_or_an_unknown_role_creates_no_account(cli_env, database_url):
    short = cqi(cli_env, "user", "add", "maria", "--role", "member", stdin="too short\n")
    assert short.returncode != 0
    assert "at least 10 characters" in short.stderr
    assert "nothing was changed" in short.stderr

    bad_role = cqi(cli_env, "user", "add", "maria", "--role", "admin", stdin=PASSWORD + "\n")
    assert bad_role.returncode == 2  # argparse's usage error
    assert "invalid choice: 'admin'" in bad_role.stderr

    with application(database_url) as app:
        assert app.find_account("maria") is None
        assert not app.recorder.max_notification_id()


# --- the demo agency -------------------------------------------------------------------


async def test_the_demo_agency_loads_once_and_again_only_with_force(cli_env, settings):
    loaded = cqi(cli_env, "demo")
    assert loaded.returncode == 0, loaded.stderr
    for person in PEOPLE:
        assert re.search(rf"^\s+{person.login}\s+{person.role}\s", loaded.stdout, re.M)
    assert DEMO_PASSWORD in loaded.stdout
    assert "make run" in loaded.stdout and "http://127.0.0.1:8000" in loaded.stdout

    with application(settings.database_url) as app:
        head = app.recorder.max_notification_id()
        refused = cqi(cli_env, "demo")
        assert refused.returncode == 1
        assert "already holds initiatives" in refused.stderr
        assert "cqi demo --force" in refused.stderr
        assert app.recorder.max_notification_id() == head  # nothing was written

    rebuilt = cqi(cli_env, "projections", "rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    views = len(all_projections())
    assert re.match(rf"Rebuilt {views} views from {head} events in \d+\.\d\d s", rebuilt.stdout)

    async with serving(settings) as (services, client):
        viewer, auditor = await bearer(services, "val"), await bearer(services, "audrey")
        for person in PEOPLE:
            account = await services.call(services.cqi.find_account, person.login)
            assert (account.role, account.display_name) == (person.role, person.display_name)

        values = (await client.get("/api/v1/values", headers=viewer)).json()
        assert {v["name"] for v in values} == DEMO_VALUES
        safety = next(v for v in values if v["name"] == "Child safety")
        assert "The worker sees the child alone at every visit." in [
            s["text"] for s in safety["standards"]]
        mission = (await client.get("/api/v1/mission", headers=viewer)).json()
        assert mission["mission"] and mission["vision"] and mission["revisit_every_months"] == 12

        initiatives = (await client.get("/api/v1/initiatives", headers=viewer)).json()
        assert len(initiatives) >= 4
        statuses = {i["status"] for i in initiatives}
        assert len(statuses) >= 3 and {"proposed", "active", "sustained"} <= statuses

        overdue = (await client.get("/api/v1/revisits?status=overdue", headers=viewer)).json()
        assert [(r["subject"], r["days_overdue"] > 0) for r in overdue] == [("values", True)]
        held = (await client.get("/api/v1/revisits?status=held", headers=viewer)).json()
        assert [r["outcome"] for r in held] == ["reaffirmed"]
        scheduled = (await client.get("/api/v1/revisits?status=scheduled",
                                      headers=viewer)).json()
        assert held[0]["subject"] in [r["subject"] for r in scheduled if r["days_overdue"] == 0]

        families = next(i for i in initiatives if i["title"].startswith("Families at the table"))
        detail = (await client.get(f"/api/v1/initiatives/{families['id']}",
                                   headers=auditor)).json()
        assert {m["kind"] for m in detail["team"]} == {"staff", "stakeholder", "consumer"}
        first, second = detail["cycles"]
        assert (first["decision"], second["adapted_from"], second["phase"]) == ("adapt", 1, "do")
        assert second["intervention"] != first["intervention"]  # the pre-filled plan was revised
        history = (await client.get(f"/api/v1/initiatives/{families['id']}/history",
                                    headers=auditor)).json()
        assert {e["actor_login"] for e in history} == {"maria", "sam"}

        forced = await asyncio.to_thread(cqi, cli_env, "demo", "--force")
        assert forced.returncode == 0, forced.stderr
        assert "kept as it is" in forced.stdout
        await caught_up(services)
        again = (await client.get("/api/v1/initiatives", headers=viewer)).json()
        assert len(again) == 2 * len(initiatives)
        assert {v["name"] for v in (await client.get("/api/v1/values", headers=viewer)).json()
                } == DEMO_VALUES  # reused, not duplicated
        logins = await services.call(registered_logins, services.cqi)
        assert logins == sorted(p.login for p in PEOPLE)


# --- configuration ---------------------------------------------------------------------


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("DATABASE_URL", "mysql://db.example/cqi", "DATABASE_URL must start with postgresql://"),
    ("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/cqi",
     "DATABASE_URL: cannot connect to postgres@127.0.0.1:1/cqi"),
    ("CQI_TIMEZONE", "Mars/Olympus_Mons", "CQI_TIMEZONE='Mars/Olympus_Mons' is not an IANA"),
    ("CQI_DATA_DIR", "/proc/no-such-place",
     "CQI_DATA_DIR='/proc/no-such-place' cannot hold the database"),
])
def test_a_bad_setting_is_a_configuration_error(tmp_path, variable, value, message):
    run = cqi(environment(tmp_path, **{variable: value}), "projections", "rebuild")
    assert run.returncode == 2
    assert run.stderr.startswith(f"Configuration error: {message}")
    assert "Traceback" not in run.stderr


def test_without_database_url_the_cli_starts_an_embedded_server_and_stops_it(tmp_path):
    data_dir = tmp_path / "data"
    env = environment(data_dir)
    try:
        added = cqi(env, "user", "add", "lee", "--role", "leader", stdin=PASSWORD + "\n")
        assert added.returncode == 0, added.stderr
        account_id = uuid.UUID(added.stdout.split()[-1])
        assert (data_dir / "pg" / "PG_VERSION").exists()  # the cluster lives in CQI_DATA_DIR
        assert not running_servers(data_dir / "pg")
        assert not (data_dir / "pg" / "postmaster.pid").exists()

        token = cqi(env, "token", "create", "lee")  # a second start finds the account again
        assert token.returncode == 0, token.stderr
        assert token.stdout.startswith(account_id.hex + ".")
        assert not running_servers(data_dir / "pg")
    finally:
        shutil.rmtree(data_dir / "pg", ignore_errors=True)


def running_servers(pgdata: pathlib.Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error):
            if str(pgdata) in " ".join(process.info["cmdline"] or ()):
                found.append(process)
    return found


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_stopping_serve_stops_the_embedded_server_it_started(tmp_path, stop):
    data_dir = tmp_path / "data"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([str(CQI), "serve", "--port", str(port)], env=environment(data_dir),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"http://127.0.0.1:{port}/api/v1/health").status_code == 200:
                    break
            assert time.monotonic() < deadline, "cqi serve did not answer in 60 s"
            time.sleep(0.2)
        assert running_servers(data_dir / "pg")
        server.send_signal(stop)
        output, _ = server.communicate(timeout=30)
        assert server.returncode == 0, output
        assert "Traceback" not in output
        assert not running_servers(data_dir / "pg")
    finally:
        if server.poll() is None:
            server.kill()
        shutil.rmtree(data_dir / "pg", ignore_errors=True)
