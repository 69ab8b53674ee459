"""`cqi`: serve the app, manage accounts and tokens, rebuild views, load the demo agency."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import logging
import os
import secrets
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

from domain.errors import DomainError, ValidationError
from service.audit import AuditError
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
    import psycopg

    from service.application import CQIApplication, eventsourcing_env
    from service.projection_runner import SCHEMA_LOCK_KEY

    assert settings.database_url
    # Replicas started together (and commands run meanwhile) would race to create the event
    # tables on an empty database; one at a time, as the servers' workers do.
    with psycopg.connect(settings.database_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK_KEY,))
        return CQIApplication(env=eventsourcing_env(settings.database_url, pool_size=2))


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from eventsourcing.utils import get_topic
    from granian.constants import Interfaces, Loops
    from granian.server import Server

    from domain.account import Account

    # Until the server takes the signals over: a stop while the database is starting still
    # unwinds `database()` below, which stops the embedded PostgreSQL.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    host, port = args.host or settings.host, args.port or settings.port
    workers = args.workers or settings.workers
    with database(settings) as configured:
        app = application(configured)
        has_accounts = bool(app.recorder.select_notifications(
            start=1, limit=1, topics=[get_topic(Account.Registered)]))
        app.close()
        where = "embedded PostgreSQL in " + str(settings.data_dir.absolute()) \
            if not settings.database_url else "DATABASE_URL"
        print(f"CQI Tracker on http://{host}:{port}  (data: {where}; {workers} worker"
              f"{'s' if workers != 1 else ''})", flush=True)
        if not has_accounts:
            print(
                "No accounts yet. Create the first leader in another terminal:\n"
                "    .venv/bin/cqi user add LOGIN --role leader\n"
                "or load a sample agency with:  .venv/bin/cqi demo",
                flush=True,
            )
        # The workers are separate processes: they read their settings from the environment,
        # so hand them the database this command started and one secret key for all.
        os.environ["DATABASE_URL"] = configured.database_url or ""
        os.environ["CQI_SECRET_KEY"] = configured.with_secret_key().secret_key
        # granian stops its workers on SIGINT/SIGTERM and returns; leaving this block then
        # stops the views process and the embedded PostgreSQL it started.
        with views_process(configured, workers):
            Server(
                "service.asgi:app", factory=True, interface=Interfaces.ASGI, address=host,
                port=port, workers=workers, loop=Loops.uvloop, log_access=False,
                respawn_failed_workers=True, workers_kill_timeout=10,
            ).serve()
    return 0


def _exit_on_signal(_signum: int, _frame: object) -> None:
    raise SystemExit(0)  # a stop that was asked for is a normal end


def _workers(raw: str) -> int:
    try:
        count = int(raw)
    except ValueError:
        count = 0
    if not 1 <= count <= 64:
        raise argparse.ArgumentTypeError(f"{raw!r}: a whole number from 1 to 64")
    return count


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


def cmd_views(settings: Settings, args: argparse.Namespace) -> int:
    """Write the views from this process until stopped (SIGTERM, SIGINT) or, with --parent,
    until that process is gone. Another process may hold the writer lock: then this one
    follows, and takes over when that one dies."""
    from service.projection_runner import ProjectionRunner

    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    with opened(settings) as app:
        runner = ProjectionRunner(app, lock_name=settings.views_name)
        runner.start()
        deadline = time.monotonic() + 5
        while not runner.is_leader and time.monotonic() < deadline and not stopping.is_set():
            time.sleep(0.01)  # the first try for the lock
        print(f"views process ready ({'writing' if runner.is_leader else 'following'})",
              flush=True)
        if args.parent:  # nobody reads the pipe any more: a later print must not fill it
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        try:
            while not stopping.wait(0.5):
                if args.parent and os.getppid() != args.parent:
                    break  # the server that started it is gone (even if killed)
        finally:
            runner.stop()
    return 0


VIEWS_NAME_PREFIX = 48
"""Characters of PGAPPNAME kept in the views process's name (63 bytes in all)."""
VIEWS_START_SECONDS = 60


@contextlib.contextmanager
def views_process(settings: Settings, workers: int) -> Iterator[None]:
    """`cqi serve`'s views process: with two or more workers, the views are written by a
    process of its own (started, and stopped, with the server) rather than by one of the
    workers, which then serve requests only. If it dies, a worker takes the writer lock over,
    as a replica does when another dies."""
    if workers < 2 or not settings.views_process:
        yield
        return
    # PostgreSQL keeps 63 bytes of an application name, printable ASCII only: the random
    # part that tells replicas apart must survive.
    base = "".join(c if " " <= c <= "~" else "?" for c in os.environ.get("PGAPPNAME") or "cqi")
    name = f"{base[:VIEWS_NAME_PREFIX]} views {secrets.token_hex(4)}"
    os.environ["CQI_VIEWS_NAME"] = name  # the workers' health checks know it by this name
    process = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "projections", "run", "--parent", str(os.getpid())],
        stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        assert process.stdout is not None
        # Before the workers start: it asks for the writer lock first.
        waited, _, _ = select.select([process.stdout], [], [], VIEWS_START_SECONDS)
        ready = process.stdout.readline() if waited else ""
        if not ready:
            process.kill()
            raise SystemExit(f"The views process did not start within {VIEWS_START_SECONDS} s "
                             f"(exit status {process.wait()}); see the messages above.")
        print(ready.strip(), flush=True)
        yield
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


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


def cmd_anchor(settings: Settings, args: argparse.Namespace) -> int:
    """Sign the chain's head with the key in CQI_SIGNING_KEY_FILE, after checking the chain."""
    from pathlib import Path

    from service import audit

    key_file = Path(args.key_file) if args.key_file else settings.signing_key_file
    if key_file is None:
        raise SettingsError("CQI_SIGNING_KEY_FILE is not set: name the file that holds the "
                            "anchor signing key (create it with `cqi anchor --new-key`)")
    if args.new_key:
        public = audit.new_signing_key(key_file)
        print(f"New signing key in {key_file} (readable by you only; keep it out of the "
              f"database and its backups). Public key: {public.hex()}")
    trusted = audit.public_key_of(key_file)
    with database(settings) as configured:
        application(configured).close()  # makes sure the chain exists
        assert configured.database_url
        with audit.connected(configured.database_url) as conn:
            report = audit.verify_database(conn, trusted)
            if not report.ok:
                print(f"Not anchored: the chain does not verify. FAILED at {report.first()}",
                      file=sys.stderr)
                return 1
            anchor = audit.record_anchor(conn, key_file)
    print(f"Anchor #{anchor.id} at sequence {anchor.sequence}\n"
          f"head:       {anchor.head.hex()}\n"
          f"signature:  {anchor.signature.hex()}\n"
          f"public key: {anchor.public_key.hex()}\n"
          f"signed text: {audit.anchor_message(anchor.sequence, anchor.head).decode()}")
    return 0


def cmd_verify(settings: Settings, args: argparse.Namespace) -> int:
    """Check the chain and the anchors, in the database or in an export; needs no running app."""
    from pathlib import Path

    from service import audit

    if args.public_key:
        try:
            trusted: bytes | None = bytes.fromhex(args.public_key)
        except ValueError:
            trusted = b""
        if len(trusted or b"") != 32:
            raise SystemExit("--public-key: 64 hexadecimal digits (an Ed25519 public key)")
    elif settings.signing_key_file and settings.signing_key_file.exists():
        trusted = audit.public_key_of(settings.signing_key_file)
    else:
        trusted = None
    if args.file:
        report = audit.verify_file(Path(args.file), trusted)
    else:
        with database(settings) as configured:
            assert configured.database_url
            with audit.connected(configured.database_url) as conn:
                report = audit.verify_database(conn, trusted)
            app = application(configured)
            try:
                snapshots, mismatches = app.check_snapshots()
            finally:
                app.close()
            for aggregate_id, version, what in mismatches:
                report.problems.append(audit.Problem(None, (
                    f"the snapshot of {aggregate_id} at version {version} does not match its "
                    f"events ({what}): it was changed after it was taken, or this version of "
                    "the code rebuilds that state differently")))
    for note in report.notes:
        print(f"Note: {note}", file=sys.stderr)
    if not report.ok:
        print(f"FAILED at {report.first()}")
        if len(report.problems) > 1:
            print(f"({len(report.problems) - 1} more problems:)")
            for problem in report.problems:
                if problem is not report.first():
                    print(f"  {problem}")
        return 1
    print(f"OK: {report.events} events chained, head at sequence {report.head_sequence} "
          f"({report.head.hex()}); {report.anchors} anchors verified"
          + ("" if args.file else f"; {snapshots} snapshots match their events"))
    return 0


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    """Write events and their links as NDJSON, for `cqi verify --file`."""
    import uuid

    from service import audit

    initiative = None
    if args.initiative:
        try:
            initiative = uuid.UUID(args.initiative)
        except ValueError:
            raise SystemExit(f"--initiative: {args.initiative!r} is not an initiative id"
                             ) from None
    with database(settings) as configured:
        application(configured).close()  # makes sure the chain exists
        assert configured.database_url
        with audit.connected(configured.database_url) as conn:
            if initiative and not conn.execute(
                    f"SELECT 1 FROM {audit.EVENTS} WHERE originator_id = %s AND topic LIKE "
                    "'domain.initiative:%%' LIMIT 1", (initiative,)).fetchone():
                raise SystemExit(f"No initiative has id {initiative}; nothing was exported.")
            if args.output:
                with open(args.output, "w", encoding="utf-8") as out:
                    count = audit.export(conn, out, initiative)
            else:
                count = audit.export(conn, sys.stdout, initiative)
    print(f"Exported {count} events in full"
          + (f" (initiative {initiative}; the others as digests)" if initiative else ""),
          file=sys.stderr)
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="cqi", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the web UI and the API")
    serve.add_argument("--host", help="address to listen on (default CQI_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default CQI_PORT or 8000)")
    serve.add_argument("--workers", type=_workers, help="server processes (default "
                       "CQI_WORKERS, or one per CPU core up to 4)")
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
    run = projections.add_parser("run", help="write the views from this process until stopped "
                                             "(`cqi serve` starts one itself)")
    run.add_argument("--parent", type=int, help="stop when the process with this PID is gone")
    run.set_defaults(run=cmd_views)

    demo = commands.add_parser("demo", help="load a realistic sample agency")
    demo.add_argument("--force", action="store_true",
                      help="load even though the store already holds initiatives")
    demo.set_defaults(run=cmd_demo)

    anchor = commands.add_parser("anchor", help="sign the audit chain's head (sequence and "
                                                "hash) with CQI_SIGNING_KEY_FILE and store it")
    anchor.add_argument("--new-key", action="store_true",
                        help="first create the key file (never overwrites one)")
    anchor.add_argument("--key-file", help="the key file (default CQI_SIGNING_KEY_FILE)")
    anchor.set_defaults(run=cmd_anchor)
    verify = commands.add_parser("verify", help="check the audit chain and its anchors; exit "
                                                "status 1 names the first bad sequence")
    verify.add_argument("--file", help="check an export made by `cqi export` instead")
    verify.add_argument("--public-key", help="the anchors' public key, in hex (default: the "
                                             "key in CQI_SIGNING_KEY_FILE, if present)")
    verify.set_defaults(run=cmd_verify)
    export = commands.add_parser("export", help="events and their links as NDJSON")
    export.add_argument("--initiative", help="only this initiative's events in full")
    export.add_argument("--output", "-o", help="write to this file (default: standard output)")
    export.set_defaults(run=cmd_export)
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
    except AuditError as error:
        print(f"Audit: {error}", file=sys.stderr)
        return 1
    except EmbeddedPostgresError as error:
        print(f"The embedded PostgreSQL did not start: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
