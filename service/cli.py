"""`cqi`: serve the app, manage accounts and tokens, rebuild views, load the demo agency."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import logging
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

from domain.errors import DomainError, ValidationError
from service.embedded_db import EmbeddedPostgresError
from service.settings import Settings, SettingsError

if TYPE_CHECKING:  # the application is imported only by the commands that open it
    from domain.account import Account
    from service.application import CQIApplication

CLI_ACTOR = "system:cli"


@contextlib.contextmanager
def database(settings: Settings) -> Iterator[Settings]:
    """Settings with a DATABASE_URL: the configured one, or the embedded server's.

    An embedded server that this command had to start is stopped when the command ends; one
    that was already running (under `cqi serve`) is left running.
    """
    if settings.database_url:
        check_reachable(settings.database_url)
        yield settings
        return
    from service.embedded_db import EmbeddedPostgres, ensure_database

    server = EmbeddedPostgres(settings.data_dir)
    try:
        try:
            started = server.start()
        except OSError as error:
            raise SettingsError(
                f"CQI_DATA_DIR={str(settings.data_dir)!r} cannot hold the database: "
                f"{error.strerror or error}") from None
        url = ensure_database(started, "cqi")
        yield replace(settings, database_url=url)
    finally:
        server.stop()


def check_reachable(database_url: str) -> None:
    """Fail at once, and plainly, when DATABASE_URL names a server we cannot use (the library
    would retry for 10 s and end in a traceback)."""
    import psycopg

    from service.settings import parse_database_url

    db = parse_database_url(database_url)
    try:
        psycopg.connect(database_url, connect_timeout=5).close()
    except psycopg.Error as error:
        reason = " ".join(str(error).split())
        raise SettingsError(
            f"DATABASE_URL: cannot connect to {db.user}@{db.host}:{db.port}/{db.dbname}: {reason}"
        ) from None


@contextlib.contextmanager
def opened(settings: Settings) -> Iterator[CQIApplication]:
    """The application on the configured (or embedded) database, closed afterwards."""
    with database(settings) as configured:
        app = application(configured)
        try:
            yield app
        finally:
            app.close()


def account_named(app: CQIApplication, login: str) -> Account:
    account = app.find_account(login)
    if account is None:
        raise SystemExit(f"No account has the login {login!r}.")
    return account


def application(settings: Settings):  # type: ignore[no-untyped-def]
    from service.application import CQIApplication, eventsourcing_env

    assert settings.database_url
    return CQIApplication(env=eventsourcing_env(settings.database_url, pool_size=2))


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn
    from eventsourcing.utils import get_topic

    from domain.account import Account
    from service.app import create_app

    host, port = args.host or settings.host, args.port or settings.port
    with database(settings) as configured:
        app = application(configured)
        has_accounts = bool(app.recorder.select_notifications(
            start=1, limit=1, topics=[get_topic(Account.Registered)]))
        app.close()
        where = "embedded PostgreSQL in " + str(settings.data_dir.absolute()) \
            if not settings.database_url else "DATABASE_URL"
        print(f"CQI Tracker on http://{host}:{port}  (data: {where})", flush=True)
        if not has_accounts:
            print(
                "No accounts yet. Create the first leader in another terminal:\n"
                "    .venv/bin/cqi user add LOGIN --role leader\n"
                "or load a sample agency with:  .venv/bin/cqi demo",
                flush=True,
            )
        # uvicorn re-raises SIGINT/SIGTERM after its graceful shutdown; make that a clean exit
        # that unwinds this function, so the embedded PostgreSQL it started is stopped too.
        for stop_signal in (signal.SIGINT, signal.SIGTERM):
            signal.signal(stop_signal, _exit_on_signal)
        uvicorn.run(create_app(configured), host=host, port=port, log_level="info",
                    proxy_headers=False, server_header=False)
    return 0


def _exit_on_signal(_signum: int, _frame: object) -> None:
    raise SystemExit(0)  # a stop that was asked for is a normal end


def read_password(prompt_twice: bool = True) -> str:
    from service.security import check_password

    if not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if prompt_twice and getpass.getpass("Again: ") != password:
            raise SystemExit("The two passwords differ; nothing was changed.")
    problem = check_password(password)
    if problem:
        raise SystemExit(f"Password refused: {problem}; nothing was changed.")
    return password


def cmd_user_add(settings: Settings, args: argparse.Namespace) -> int:
    from service.security import password_hasher

    password = read_password()
    password_hash = password_hasher(settings.password_hash_cost).hash(password)
    with opened(settings) as app:
        receipt = app.register_account(
            actor=CLI_ACTOR, login=args.login, display_name=args.name or "",
            role=args.role, password_hash=password_hash,
        )
    print(f"Account {args.login.lower()} ({args.role}) created: {receipt.id}")
    return 0


def cmd_token_create(settings: Settings, args: argparse.Namespace) -> int:
    with opened(settings) as app:
        account = account_named(app, args.login)
        receipt = app.issue_token(account.id, actor=CLI_ACTOR, label=args.label or "")
    print(receipt.detail)
    print("Use it as:  Authorization: Bearer <token>   (it is shown once; keep it secret)",
          file=sys.stderr)
    return 0


def cmd_token_list(settings: Settings, args: argparse.Namespace) -> int:
    with opened(settings) as app:
        account = account_named(app, args.login)
        token_ids = sorted(account.tokens)
    if not token_ids:
        print(f"{account.login} has no API tokens.")
    for token_id in token_ids:
        print(token_id)
    return 0


def cmd_token_revoke(settings: Settings, args: argparse.Namespace) -> int:
    """Revoke by token id (the part between the two dots of the token)."""
    with opened(settings) as app:
        account = account_named(app, args.login)
        app.revoke_token(account.id, actor=CLI_ACTOR, token_id=args.token_id)
    print(f"Token {args.token_id} of {account.login} revoked; it no longer works.")
    return 0


def cmd_rebuild(settings: Settings, args: argparse.Namespace) -> int:
    from service.projection_runner import ProjectionRunner

    with opened(settings) as app:
        runner = ProjectionRunner(app, batch_size=args.batch_size)
        started = time.perf_counter()
        runner.drop_tables()
        runner.create_tables()
        head = app.recorder.max_notification_id() or 0
        count = runner.catch_up_or_follow(head)
        seconds = time.perf_counter() - started
    if head and not count:  # a running server holds the writer lock: its runner replayed them
        print(f"Rebuilt {len(runner.projections)} views in {seconds:.2f} s (replayed up to event "
              f"#{head} by the running server's projection runner)")
        return 0
    rate = f", {count / seconds:,.0f} events/s" if count and seconds else ""
    print(f"Rebuilt {len(runner.projections)} views from {count} events in {seconds:.2f} s{rate}")
    return 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from service.demo import load_demo

    with opened(settings) as app:
        summary = load_demo(app, settings, force=args.force)
    print(summary)
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="cqi", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the web UI and the API")
    serve.add_argument("--host", help="address to listen on (default CQI_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default CQI_PORT or 8000)")
    serve.set_defaults(run=cmd_serve)

    user = commands.add_parser("user", help="manage accounts").add_subparsers(
        dest="action", required=True)
    add = user.add_parser("add", help="create an account; the password is read from a prompt "
                                      "or, when piped, from the first line of standard input")
    add.add_argument("login")
    add.add_argument("--role", required=True, choices=["leader", "member", "auditor", "viewer"])
    add.add_argument("--name", help="the name shown to others (default: the login)")
    add.set_defaults(run=cmd_user_add)

    token = commands.add_parser("token", help="API tokens").add_subparsers(
        dest="action", required=True)
    create = token.add_parser("create", help="print a new API token for an account")
    create.add_argument("login")
    create.add_argument("--label", help="what the token is for")
    create.set_defaults(run=cmd_token_create)
    listing = token.add_parser("list", help="the ids of an account's API tokens")
    listing.add_argument("login")
    listing.set_defaults(run=cmd_token_list)
    revoke = token.add_parser("revoke", help="revoke an API token by its id (the middle part "
                                             "of the token, between the dots)")
    revoke.add_argument("login")
    revoke.add_argument("token_id")
    revoke.set_defaults(run=cmd_token_revoke)

    projections = commands.add_parser("projections", help="the read views").add_subparsers(
        dest="action", required=True)
    rebuild = projections.add_parser("rebuild", help="drop every view and rebuild it from the "
                                                     "events")
    rebuild.add_argument("--batch-size", type=int, default=1000)
    rebuild.set_defaults(run=cmd_rebuild)

    demo = commands.add_parser("demo", help="load a realistic sample agency")
    demo.add_argument("--force", action="store_true",
                      help="load even though the store already holds initiatives")
    demo.set_defaults(run=cmd_demo)
    return top


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        return int(args.run(settings, args) or 0)
    except SettingsError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 2
    except ValidationError as error:
        for field, message in error.errors.items():
            print(f"{field}: {message}", file=sys.stderr)
        return 1
    except DomainError as error:
        print(error.reason, file=sys.stderr)
        return 1
    except EmbeddedPostgresError as error:
        print(f"The embedded PostgreSQL did not start: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
