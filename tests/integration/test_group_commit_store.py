"""Group commit against PostgreSQL: commands saved at the same moment by one process share a
transaction, and each gets its own version, notification id and idempotency row."""

from __future__ import annotations

import threading
import time
import uuid

import psycopg
from eventsourcing.persistence import OperationalError

from domain.initiative import Initiative
from service import audit, idempotency
from service.application import CQIApplication, eventsourcing_env

ACTOR = "tester"


def started(database_url: str) -> tuple[CQIApplication, str]:
    app = CQIApplication(env=eventsourcing_env(database_url, pool_size=4))
    app.write_mission(actor=ACTOR, mission="m", vision="v", revisit_every_months=None)
    app.add_value(actor=ACTOR, name="Safety", description="")
    return app, next(iter(app.known_value_ids()))


def slow_first_group(app: CQIApplication, seconds: float = 0.4) -> list[int]:
    """The first group's transaction waits before storing, so the saves arriving meanwhile
    queue behind it and form the next group. Returns the sizes of the groups stored."""
    group = app.recorder._group
    insert = group._insert
    sizes: list[int] = []

    def slow(saves):
        if not sizes:
            time.sleep(seconds)
        answers = insert(saves)
        sizes.append(len(saves))
        return answers

    group._insert = slow
    return sizes


def test_commands_saved_at_the_same_moment_share_one_transaction_and_keep_their_answers(
        database_url):
    app, value_id = started(database_url)
    try:
        ids = [app.open_initiative(actor=ACTOR, title=f"I{n}", problem="p", aim="a",
                                   value_ids=[value_id]).id for n in range(9)]
        sizes = slow_first_group(app)
        receipts: dict[uuid.UUID, object] = {}

        def revise(initiative_id: uuid.UUID, claim: idempotency.Claim | None) -> None:
            with idempotency.claiming(claim):
                receipts[initiative_id] = app.revise_charter(
                    initiative_id, actor=ACTOR, title=f"Revised {initiative_id}", problem="p",
                    aim="a", value_ids=[value_id])

        claims = [idempotency.Claim("someone", f"key-{n}", "fp") if n % 2 else None
                  for n in range(9)]
        first = threading.Thread(target=revise, args=(ids[0], claims[0]))
        first.start()
        time.sleep(0.1)
        others = [threading.Thread(target=revise, args=(ids[n], claims[n]))
                  for n in range(1, 9)]
        for t in others:
            t.start()
        for t in [first, *others]:
            t.join(30)
        # the first alone, the eight others together (two whose ids share a lock stripe
        # may land in consecutive groups)
        assert sizes[0] == 1 and sum(sizes) == 9 and len(sizes) <= 3, sizes
        with psycopg.connect(database_url) as conn:
            stored = dict(conn.execute(
                "SELECT originator_id, notification_id FROM cqi_events "
                "WHERE originator_version = 2").fetchall())
            keys = dict(conn.execute(
                "SELECT key, notification_id FROM cqi_idempotency").fetchall())
        for n, initiative_id in enumerate(ids):
            receipt = receipts[initiative_id]
            assert receipt.version == 2
            assert receipt.notification_id == stored[initiative_id]
            assert app.load(Initiative, initiative_id).title == f"Revised {initiative_id}"
            if claims[n] is not None:
                assert keys[f"key-{n}"] == receipt.notification_id
        assert len(keys) == 4
        with audit.connected(database_url) as conn:  # every grouped event is in the chain
            report = audit.verify_database(conn)
            stored_count = conn.execute("SELECT count(*) FROM cqi_events").fetchone()[0]
        assert report.ok, report.problems
        assert report.events == stored_count >= 18
    finally:
        app.close()


def test_a_stale_save_in_a_group_is_refused_alone_and_retried_while_the_others_are_stored(
        database_url):
    app, value_id = started(database_url)
    other = CQIApplication(env=eventsourcing_env(database_url, pool_size=2))
    try:
        ids = [app.open_initiative(actor=ACTOR, title=f"I{n}", problem="p", aim="a",
                                   value_ids=[value_id]).id for n in range(4)]
        for initiative_id in ids:  # cached by `app` at version 2
            app.add_team_member(initiative_id, actor=ACTOR, name="Ann", kind="staff",
                                role="notes")
        sizes = slow_first_group(app)
        check = app._for_command

        def stale_for_the_last(cls, initiative_id, values, read):
            aggregate, assumed = check(cls, initiative_id, values, read)
            if initiative_id == ids[3] and aggregate.version == 2:
                # another process stores version 3 after our copy was taken
                other.add_team_member(initiative_id, actor=ACTOR, name="Bob", kind="staff",
                                      role="notes")
            return aggregate, assumed

        app._for_command = stale_for_the_last
        errors: list[Exception] = []

        def add(initiative_id: uuid.UUID) -> None:
            try:
                app.add_team_member(initiative_id, actor=ACTOR, name="Cy", kind="staff",
                                    role="notes")
            except Exception as error:  # reported below
                errors.append(error)

        first = threading.Thread(target=add, args=(ids[0],))
        first.start()
        time.sleep(0.1)
        others = [threading.Thread(target=add, args=(i,)) for i in ids[1:]]
        for t in others:
            t.start()
        for t in [first, *others]:
            t.join(30)
        assert errors == []
        # the first alone; in the group of three's one transaction the stale save is left
        # out (checked before its insert could collide with the other process's version) and
        # the two others stored; then the stale one again, decided on the version stored
        assert sizes == [1, 3, 1], sizes
        for initiative_id in ids[:3]:
            assert [m.name for m in other.load(Initiative, initiative_id).team] == ["Ann", "Cy"]
        assert [m.name for m in other.load(Initiative, ids[3]).team] == ["Ann", "Bob", "Cy"]
    finally:
        other.close()
        app.close()


def test_a_save_whose_expected_versions_moved_on_is_left_out_and_the_others_are_stored(
        database_url):
    """Checked under the events table's lock: the stale save stores nothing and is answered
    with ExpectationFailed; the others, in the same call, are stored together."""
    app, value_id = started(database_url)
    try:
        mission = app.mission()
        assert mission is not None
        opened = [Initiative.open(actor=ACTOR, title=f"I{n}", problem="p", aim="a",
                                  value_ids=[value_id], team=[], known_value_ids={value_id})
                  for n in range(3)]
        saves = [([app.mapper.to_stored_event(e) for e in initiative.collect_events()], None,
                  expected)
                 for initiative, expected in zip(opened, [
                     {mission.id: mission.version}, {mission.id: mission.version - 1}, None],
                     strict=True)]
        answers = app.recorder._insert_saves(saves)
        assert isinstance(answers[1], idempotency.ExpectationFailed)
        assert all(isinstance(a, list) and len(a) == 1 for a in (answers[0], answers[2]))
        stored = {i.id: app.recorder.select_events(i.id) for i in opened}
        assert [len(stored[i.id]) for i in opened] == [1, 0, 1]
        with psycopg.connect(database_url) as conn:  # the two in one transaction
            xmins = {row[0] for row in conn.execute(
                "SELECT xmin::text FROM cqi_events WHERE originator_id = ANY(%s)",
                ([opened[0].id, opened[2].id],))}
        assert len(xmins) == 1
    finally:
        app.close()


def test_saves_refused_for_their_expectations_leave_the_connection_usable(database_url):
    """psycopg prepares a statement on its sixth run, and counts a statement skipped after an
    error in its pipeline as run: a refused save must leave no statement that psycopg takes for
    prepared but the server never made, or every later save on that connection would fail."""
    app = CQIApplication(env=eventsourcing_env(database_url, pool_size=1))  # one connection
    try:
        app.write_mission(actor=ACTOR, mission="m", vision="v", revisit_every_months=None)
        app.add_value(actor=ACTOR, name="Safety", description="")
        value_id = next(iter(app.known_value_ids()))
        mission = app.mission()
        assert mission is not None
        for n in range(8):  # whether psycopg counts skipped runs or not, a refused one is
            # the run on which its statements reach the threshold
            app.open_initiative(actor=ACTOR, title=f"Stored {n}", problem="p", aim="a",
                                value_ids=[value_id])
            initiative = Initiative.open(actor=ACTOR, title=f"Refused {n}", problem="p", aim="a",
                                         value_ids=[value_id], team=[],
                                         known_value_ids={value_id})
            events = [app.mapper.to_stored_event(e) for e in initiative.collect_events()]
            answers = app.recorder._insert_saves(
                [(events, None, {mission.id: mission.version - 1})])
            assert isinstance(answers[0], idempotency.ExpectationFailed), answers
        app.open_initiative(actor=ACTOR, title="Stored last", problem="p", aim="a",
                            value_ids=[value_id])
        with psycopg.connect(database_url) as conn:
            titles = [row[0] for row in conn.execute(
                "SELECT title FROM cqi_events e, LATERAL (SELECT convert_from(e.state, 'UTF8')"
                " AS title) t WHERE e.topic LIKE %s", ("%Initiative.Opened%",))]
        assert sum("Refused" in t for t in titles) == 0
        assert sum("Stored" in t for t in titles) == 9
    finally:
        app.close()


def test_a_save_expecting_what_an_earlier_save_of_its_group_writes_is_left_out(database_url):
    """Expected versions are checked before the group's insert: a save expecting an aggregate
    that an earlier save of the same group moves on was decided without that save, and must
    not be stored after it as if nothing had happened."""
    from eventsourcing.persistence import StoredEvent

    app = CQIApplication(env=eventsourcing_env(database_url, pool_size=2))
    try:
        moved, other = uuid.uuid4(), uuid.uuid4()
        app.recorder._insert_saves([([StoredEvent(moved, 1, "t:Made", b"{}")], None, None)])
        first = ([StoredEvent(moved, 2, "t:Moved", b"{}")], None, None)
        second = ([StoredEvent(other, 1, "t:Decided", b"{}")], None, [(moved, 1)])
        answers = app.recorder._insert_saves([first, second])
        assert isinstance(answers[0], list) and len(answers[0]) == 1
        assert isinstance(answers[1], idempotency.ExpectationFailed), answers
        assert app.recorder.select_events(other) == []
    finally:
        app.close()


def test_a_write_on_a_token_revoked_in_the_same_group_is_not_stored(database_url):
    """A revocation and a write vouched for by the revoked token (service/vouch.py), saved by
    one group: the revocation is stored, the write is not (its recheck finds the token no
    longer good)."""
    from service.vouch import PrincipalChanged, Vouch, vouching

    app, value_id = started(database_url)
    try:
        account = app.register_account(actor=ACTOR, login="member1", display_name="M",
                                       role="member", password_hash="x").id
        token = app.issue_token(account, actor=ACTOR).detail
        holder = app.account_for_token(token)
        assert holder is not None
        initiative = app.open_initiative(actor=ACTOR, title="Before", problem="p", aim="a",
                                         value_ids=[value_id]).id
        elsewhere = app.open_initiative(actor=ACTOR, title="o", problem="p", aim="a",
                                        value_ids=[value_id]).id
        sizes = slow_first_group(app)
        outcome: dict[str, object] = {}
        vouch = Vouch(account, holder.version, lambda: None)  # the token is no longer good

        def hold_the_lead() -> None:
            app.revise_charter(elsewhere, actor=ACTOR, title="slow", problem="p", aim="a",
                               value_ids=[value_id])

        def revoke() -> None:
            app.revoke_token(account, actor=ACTOR, token_id=token.split(".")[1])

        def write() -> None:
            with vouching(vouch):
                try:
                    app.revise_charter(initiative, actor=str(account), title="By the revoked",
                                       problem="p", aim="a", value_ids=[value_id])
                except PrincipalChanged as refused:
                    outcome["refused"] = refused

        threads = [threading.Thread(target=f) for f in (hold_the_lead, revoke, write)]
        for thread in threads:
            thread.start()
            time.sleep(0.1)  # the revocation queues before the write: one group, in that order
        for thread in threads:
            thread.join(30)
        assert sizes[:2] == [1, 2], sizes
        assert app.account_for_token(token) is None
        assert "refused" in outcome and not vouch.confirmed
        assert app.load(Initiative, initiative).title == "Before"
    finally:
        app.close()


def test_each_process_saves_with_its_own_lock_timeout_whoever_made_the_function_last(
        database_url):
    """The save function is shared by every process of the store and made again by each at
    start-up: a lock timeout kept in it would be the last starter's, for all of them."""
    impatient = CQIApplication(env={**eventsourcing_env(database_url, pool_size=1),
                                    "POSTGRES_LOCK_TIMEOUT": "1"})
    patient = CQIApplication(env=eventsourcing_env(database_url, pool_size=1))  # no timeout
    recorder = impatient.recorder
    try:
        with psycopg.connect(database_url) as holder:
            holder.execute("LOCK TABLE cqi_events IN EXCLUSIVE MODE")
            limit = threading.Timer(6, holder.rollback)  # the test's own limit
            limit.start()
            started_at = time.monotonic()
            try:
                # One attempt (the recorder retries a failed one): an empty group still
                # takes the events table's lock.
                recorder._save_once([[] for _ in range(15)] + [recorder.lock_timeout])
            except OperationalError as error:
                assert "lock timeout" in str(error)
                waited = time.monotonic() - started_at
            else:
                raise AssertionError("the save did not wait for the events table's lock")
            finally:
                limit.cancel()
            holder.rollback()
        assert waited < 3, f"waited {waited:.1f} s: not this process's timeout of 1 s"
    finally:
        impatient.close()
        patient.close()


def team_member_events(database_url: str, initiative_id: uuid.UUID) -> list[tuple[int, int]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT originator_version, notification_id FROM cqi_events WHERE originator_id = %s"
            " AND topic LIKE %s ORDER BY originator_version",
            (initiative_id, "%TeamMemberAdded")).fetchall()


def with_dropped_connection(database_url: str, after_commit: bool):  # type: ignore[no-untyped-def]
    """An app whose first save statement loses its connection, after its transaction
    committed or before; an initiative; the statements that ran, with their row counts."""
    app, value_id = started(database_url)
    initiative_id = app.open_initiative(actor=ACTOR, title="T", problem="p", aim="a",
                                        value_ids=[value_id]).id
    save_once = app.recorder._save_once
    statements: list[int] = []

    def dropping(params):
        first = not statements
        rows = save_once(params) if after_commit or not first else []
        statements.append(len(rows))
        if first:
            raise OperationalError("server closed the connection unexpectedly")
        return rows

    app.recorder._save_once = dropping
    return app, initiative_id, statements


def test_a_save_whose_answer_was_lost_after_its_commit_is_answered_not_stored_again(
        database_url):
    """The connection drops after the transaction committed, before its answer arrived: the
    next try finds the events stored as sent and answers with them. Run again, the statement
    would have found its version taken, and the command would have been decided and stored a
    second time."""
    app, initiative_id, statements = with_dropped_connection(database_url, after_commit=True)
    try:
        with idempotency.claiming(idempotency.Claim("someone", "key-1", "fp")):
            receipt = app.add_team_member(initiative_id, actor=ACTOR, name="Dana Brooks",
                                          kind="staff", role="liaison")
        stored = team_member_events(database_url, initiative_id)
        assert stored == [(2, receipt.notification_id)] and receipt.version == 2
        assert statements == [1]  # the statement ran once
        with psycopg.connect(database_url) as conn:
            assert conn.execute("SELECT count(*) FROM cqi_idempotency").fetchone()[0] == 1
    finally:
        app.close()


def test_a_save_whose_connection_dropped_before_its_commit_is_stored_on_the_next_try(
        database_url):
    app, initiative_id, statements = with_dropped_connection(database_url, after_commit=False)
    try:
        receipt = app.add_team_member(initiative_id, actor=ACTOR, name="Dana Brooks",
                                      kind="staff", role="liaison")
        assert team_member_events(database_url, initiative_id) == [
            (2, receipt.notification_id)]
        assert statements == [0, 1]  # nothing ran the first time; stored the second
    finally:
        app.close()
