"""The audit trail on real PostgreSQL: the database chains every event, and `cqi verify` (run
as a person runs it, in a subprocess) finds what an attacker with write access changed."""

from __future__ import annotations

import json
import os
import pathlib
import stat
import uuid

import psycopg
import pytest

from service import audit
from service.application import CQIApplication, eventsourcing_env
from tests.integration.test_cli import cqi, environment


@pytest.fixture
def key_file(tmp_path: pathlib.Path) -> pathlib.Path:
    return tmp_path / "keys" / "anchor.pem"


@pytest.fixture
def cli_env(database_url: str, tmp_path: pathlib.Path, key_file: pathlib.Path
            ) -> dict[str, str]:
    return environment(tmp_path / "data", DATABASE_URL=database_url,
                       CQI_SIGNING_KEY_FILE=str(key_file))


@pytest.fixture
async def history(agency) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """A few events written through the API: values, two initiatives."""
    first = await agency.initiative(title="Families at the table")
    second = await agency.initiative(title="Faster permanency")
    await agency.value("Child safety")
    return {"first": first, "second": second}


def sql(database_url: str, statement: str, *params: object) -> list[tuple]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        cursor = conn.execute(statement, params or None)
        return cursor.fetchall() if cursor.description else []


def sequence_of(database_url: str, notification_id: int) -> int:
    return sql(database_url, "SELECT sequence FROM cqi_audit_chain WHERE notification_id = %s",
               notification_id)[0][0]


def an_initiative_event(database_url: str, initiative: str) -> int:
    return sql(database_url, "SELECT min(notification_id) FROM cqi_events WHERE "
                             "originator_id = %s", uuid.UUID(initiative))[0][0]


def verified(env: dict[str, str], *args: str) -> str:
    result = cqi(env, "verify", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("OK: "), result.stdout
    return result.stdout


def refused(env: dict[str, str], *args: str) -> str:
    result = cqi(env, "verify", *args)
    assert result.returncode == 1, result.stdout + result.stderr
    return result.stdout


def anchored(env: dict[str, str], *args: str) -> int:
    result = cqi(env, "anchor", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return int(result.stdout.split("at sequence ")[1].split()[0])


# --- the chain ----------------------------------------------------------------------------


async def test_the_database_links_every_event_written_through_the_app_in_a_dense_sequence(
    history, database_url
):
    events = sql(database_url, "SELECT notification_id, originator_id, originator_version, "
                               "topic, state FROM cqi_events ORDER BY notification_id")
    links = sql(database_url, "SELECT sequence, notification_id, link FROM cqi_audit_chain "
                              "ORDER BY sequence")
    assert len(events) >= 8
    assert [s for s, _, _ in links] == list(range(1, len(events) + 1))
    assert [n for _, n, _ in links] == [e[0] for e in events]
    previous = audit.GENESIS
    for (sequence, _, link), (_, originator_id, version, topic, state) in zip(
            links, events, strict=True):
        digest = audit.event_digest(originator_id, version, topic, bytes(state))
        assert bytes(link) == audit.next_link(previous, sequence, digest)  # SQL == Python
        previous = bytes(link)


async def test_an_untouched_store_verifies_and_says_how_many_events_it_checked(
    history, cli_env, database_url
):
    count = sql(database_url, "SELECT count(*) FROM cqi_events")[0][0]
    assert f"OK: {count} events chained, head at sequence {count}" in verified(cli_env)


async def test_a_store_that_predates_the_chain_gets_its_links_once_when_the_app_opens_it(
    history, cli_env, database_url
):
    sql(database_url, "DROP TRIGGER cqi_audit_chain_append ON cqi_events")
    sql(database_url, "DROP TABLE cqi_audit_chain")
    app = CQIApplication(env=eventsourcing_env(database_url, pool_size=1))
    app.close()
    count = sql(database_url, "SELECT count(*) FROM cqi_events")[0][0]
    assert sql(database_url, "SELECT count(*), max(sequence) FROM cqi_audit_chain")[0] == (
        count, count)
    verified(cli_env)


def chain_is_sound(database_url: str) -> int:
    """Every event linked, in notification order, each link as Python computes it; the count."""
    events = sql(database_url, "SELECT notification_id, originator_id, originator_version, "
                               "topic, state FROM cqi_events ORDER BY notification_id")
    links = sql(database_url, "SELECT sequence, notification_id, link FROM cqi_audit_chain "
                              "ORDER BY sequence")
    assert [(s, n) for s, n, _ in links] == [(k + 1, e[0]) for k, e in enumerate(events)]
    previous = audit.GENESIS
    for (sequence, _, link), (_, originator_id, version, topic, state) in zip(
            links, events, strict=True):
        previous = audit.next_link(previous, sequence,
                                   audit.event_digest(originator_id, version, topic, state))
        assert bytes(link) == previous
    return len(events)


def insert_events(database_url: str, rows: int) -> None:
    """One INSERT statement of `rows` events, in the reverse of their notification order."""
    sql(database_url,
        "INSERT INTO cqi_events (originator_id, originator_version, topic, state) "
        "SELECT gen_random_uuid(), 1, 'domain.initiative:Initiative.Created', "
        "convert_to('{\"n\": ' || n || '}', 'UTF8') FROM generate_series(1, %s) AS n "
        "ORDER BY n DESC", rows)


def chain_trigger(database_url: str) -> list[tuple]:
    return sql(database_url, "SELECT tgtype & 1 = 1 AS per_row, tgfoid::regproc::text "
                             "FROM pg_trigger WHERE tgname = 'cqi_audit_chain_append'")


async def test_one_insert_of_many_events_is_linked_once_in_notification_order(
    history, cli_env, database_url
):
    before = sql(database_url, "SELECT count(*) FROM cqi_events")[0][0]
    insert_events(database_url, 40)
    assert chain_is_sound(database_url) == before + 40
    assert chain_trigger(database_url) == [(False, "cqi_audit_append_rows")]
    verified(cli_env)


async def test_a_store_with_the_older_row_trigger_gets_the_statement_trigger_at_start_up(
    history, cli_env, database_url
):
    """Stores made before the chain's trigger ran once per statement: the row-level trigger
    (one lock, head read and insert per event) is replaced when the app opens the store, and
    the chain goes on from where it stood."""
    sql(database_url, "DROP TRIGGER cqi_audit_chain_append ON cqi_events")
    sql(database_url, """
        CREATE FUNCTION cqi_audit_append() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE s bigint; l bytea;
        BEGIN
          LOCK TABLE cqi_audit_chain IN EXCLUSIVE MODE;
          SELECT sequence, link INTO s, l FROM cqi_audit_chain ORDER BY sequence DESC LIMIT 1;
          INSERT INTO cqi_audit_chain VALUES (s + 1, NEW.notification_id, NEW.originator_id,
            NEW.originator_version, cqi_audit_link(l, s + 1, cqi_audit_event_digest(
              NEW.originator_id, NEW.originator_version, NEW.topic, NEW.state)));
          RETURN NULL;
        END $$""")
    sql(database_url, "CREATE TRIGGER cqi_audit_chain_append AFTER INSERT ON cqi_events "
                      "FOR EACH ROW EXECUTE FUNCTION cqi_audit_append()")
    insert_events(database_url, 3)  # linked by the old trigger
    assert chain_trigger(database_url) == [(True, "cqi_audit_append")]
    app = CQIApplication(env=eventsourcing_env(database_url, pool_size=1))
    app.close()
    assert chain_trigger(database_url) == [(False, "cqi_audit_append_rows")]
    assert sql(database_url, "SELECT count(*) FROM pg_proc WHERE proname = 'cqi_audit_append'"
               ) == [(0,)]
    before = sql(database_url, "SELECT count(*) FROM cqi_events")[0][0]
    insert_events(database_url, 5)  # linked by the new one
    assert chain_is_sound(database_url) == before + 5
    verified(cli_env)


# --- what an attacker with write access could do ----------------------------------------


async def test_a_one_byte_change_to_a_stored_event_is_named_by_its_sequence(
    history, cli_env, database_url
):
    target = an_initiative_event(database_url, history["second"])
    sql(database_url, "UPDATE cqi_events SET state = set_byte(state, 20, get_byte(state, 20) "
                      "# 1) WHERE notification_id = %s", target)
    out = refused(cli_env)
    assert out.startswith(f"FAILED at sequence {sequence_of(database_url, target)}: ")
    assert "does not match its link" in out


async def test_a_changed_snapshot_is_named_and_an_untouched_one_counted(
    agency, cli_env, database_url
):
    """Past states start from snapshots, which are outside the chain: verify rebuilds each
    snapshotted aggregate from its events and compares."""
    iid = await agency.initiative(title="Before the snapshot")
    for k in range(100):  # the 100th event is snapshotted
        agency.ok(await agency.client.post(
            f"/api/v1/initiatives/{iid}/team", headers=agency.member,
            json={"name": f"Member {k}", "kind": "staff", "role": "caseworker"}))
    snapshots = sql(database_url, "SELECT count(*) FROM cqi_snapshots")[0][0]
    assert snapshots >= 1
    assert f"; {snapshots} snapshots match their events" in verified(cli_env)
    sql(database_url,
        "UPDATE cqi_snapshots SET state = convert_to(replace(convert_from(state, 'UTF8'),"
        " 'Before the snapshot', 'Forged title'), 'UTF8') WHERE originator_id = %s",
        uuid.UUID(iid))
    out = refused(cli_env)
    assert f"the snapshot of {iid} at version 100 does not match its events" in out
    assert "title" in out
    sql(database_url, "UPDATE cqi_snapshots SET state = convert_to('x', 'UTF8')")
    result = cqi(cli_env, "verify")
    assert result.returncode == 1 and "Traceback" not in result.stdout + result.stderr
    assert f"the snapshot of {iid} at version 0 does not match" in result.stdout
    assert "a snapshot cannot be read" in result.stdout


async def test_a_deleted_event_is_named_by_its_sequence(history, cli_env, database_url):
    target = an_initiative_event(database_url, history["first"])
    sequence = sequence_of(database_url, target)
    sql(database_url, "DELETE FROM cqi_events WHERE notification_id = %s", target)
    out = refused(cli_env)
    assert out.startswith(f"FAILED at sequence {sequence}: ")
    assert "deleted" in out.splitlines()[0]


async def test_an_event_written_around_the_chain_is_reported(history, cli_env, database_url):
    sql(database_url, "ALTER TABLE cqi_events DISABLE TRIGGER cqi_audit_chain_append")
    sql(database_url, "INSERT INTO cqi_events (originator_id, originator_version, topic, state) "
                      "VALUES (%s, 1, 'domain.initiative:Initiative.Created', '{}')",
        uuid.uuid4())
    assert "has no link" in refused(cli_env)


async def test_a_truncated_tail_is_detected_against_an_anchor(history, cli_env, database_url,
                                                              key_file):
    head = anchored(cli_env, "--new-key")
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert "1 anchors verified" in verified(cli_env)
    sql(database_url, "DELETE FROM cqi_events WHERE notification_id IN (SELECT notification_id "
                      "FROM cqi_audit_chain WHERE sequence > %s)", head - 2)
    sql(database_url, "DELETE FROM cqi_audit_chain WHERE sequence > %s", head - 2)
    out = refused(cli_env)
    assert out.startswith(f"FAILED at sequence {head - 1}: ")
    assert "truncated" in out


async def test_a_rewritten_history_with_recomputed_links_is_caught_by_the_anchor(
    history, cli_env, database_url
):
    head = anchored(cli_env, "--new-key")
    target = an_initiative_event(database_url, history["first"])
    sequence = sequence_of(database_url, target)
    sql(database_url, "UPDATE cqi_events SET state = set_byte(state, 20, get_byte(state, 20) "
                      "# 1) WHERE notification_id = %s", target)
    sql(database_url, """
        DO $$ DECLARE r record; previous bytea := decode(repeat('00', 32), 'hex'); BEGIN
          FOR r IN SELECT c.sequence, e.* FROM cqi_audit_chain c JOIN cqi_events e
                   USING (notification_id) ORDER BY c.sequence LOOP
            previous := cqi_audit_link(previous, r.sequence, cqi_audit_event_digest(
                r.originator_id, r.originator_version, r.topic, r.state));
            UPDATE cqi_audit_chain SET link = previous WHERE sequence = r.sequence;
          END LOOP; END $$""")
    out = refused(cli_env)
    assert out.startswith(f"FAILED at sequence {head}: ")
    assert "differs from the signed head" in out
    assert sequence <= head


async def test_a_tampered_anchor_signature_is_detected(history, cli_env, database_url):
    head = anchored(cli_env, "--new-key")
    sql(database_url, "UPDATE cqi_audit_anchors SET signature = set_byte(signature, 0, "
                      "get_byte(signature, 0) # 1)")
    out = refused(cli_env)
    assert out.startswith(f"FAILED at sequence {head}: ")
    assert "signature does not match" in out


async def test_an_anchor_is_refused_while_the_chain_does_not_verify(history, cli_env,
                                                                    database_url):
    target = an_initiative_event(database_url, history["first"])
    sql(database_url, "DELETE FROM cqi_events WHERE notification_id = %s", target)
    result = cqi(cli_env, "anchor", "--new-key")
    assert result.returncode == 1
    assert "Not anchored" in result.stderr
    assert sql(database_url, "SELECT count(*) FROM cqi_audit_anchors")[0][0] == 0


def test_an_anchor_without_a_key_file_setting_says_which_variable_to_set(cli_env):
    env = {k: v for k, v in cli_env.items() if k != "CQI_SIGNING_KEY_FILE"}
    result = cqi(env, "anchor")
    assert result.returncode == 2
    assert "CQI_SIGNING_KEY_FILE is not set" in result.stderr


# --- export ------------------------------------------------------------------------------


def without_database(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k != "DATABASE_URL"}


async def test_an_export_verifies_without_the_database_and_a_tampered_line_is_named(
    history, cli_env, database_url, tmp_path
):
    anchored(cli_env, "--new-key")
    export = tmp_path / "all.ndjson"
    made = cqi(cli_env, "export", "--output", str(export))
    assert made.returncode == 0, made.stderr
    offline = without_database(cli_env)
    count = sql(database_url, "SELECT count(*) FROM cqi_events")[0][0]
    assert f"OK: {count} events chained" in verified(offline, "--file", str(export))
    assert not (tmp_path / "data").exists()  # no embedded database was started for it

    lines = export.read_text().splitlines()
    number = next(i for i, line in enumerate(lines) if '"Families at the table"' in line
                  or "Families at the table" in line)
    record = json.loads(lines[number])
    record["state"] = record["state"].replace("Families", "Fami1ies")
    lines[number] = json.dumps(record)
    export.write_text("\n".join(lines) + "\n")
    out = refused(offline, "--file", str(export))
    assert out.startswith(f"FAILED at sequence {record['sequence']}: ")


async def test_an_exported_initiative_holds_only_its_own_events_and_still_verifies(
    history, cli_env, tmp_path
):
    anchored(cli_env, "--new-key")
    export = tmp_path / "one.ndjson"
    made = cqi(cli_env, "export", "--initiative", history["first"], "-o", str(export))
    assert made.returncode == 0, made.stderr
    records = [json.loads(line) for line in export.read_text().splitlines()]
    full = [r for r in records if r["kind"] == "event"]
    assert full and {r["originator_id"] for r in full} == {history["first"]}
    assert not any("Faster permanency" in line for line in export.read_text().splitlines())
    verified(without_database(cli_env), "--file", str(export))

    cut = export.read_text().splitlines()[:-3]  # the tail, anchor and closing line gone
    export.write_text("\n".join(cut) + "\n")
    assert "truncated" in refused(without_database(cli_env), "--file", str(export))


def test_an_export_of_an_unknown_initiative_writes_nothing(cli_env, tmp_path):
    out = tmp_path / "none.ndjson"
    result = cqi(cli_env, "export", "--initiative", str(uuid.uuid4()), "-o", str(out))
    assert result.returncode == 1
    assert "No initiative has id" in result.stderr
    assert not out.exists()


# --- the audit page ------------------------------------------------------------------------


async def test_leaders_and_auditors_see_the_latest_anchor_ready_to_copy(
    history, agency, cli_env, database_url
):
    page = await agency.client.get("/audit", headers=agency.leader)
    assert page.status_code == 200, page.text
    assert "No anchor yet" in page.text
    head = anchored(cli_env, "--new-key")
    signature = bytes(sql(database_url, "SELECT signature FROM cqi_audit_anchors")[0][0]).hex()
    for who in (agency.leader, agency.auditor):
        page = await agency.client.get("/audit", headers=who)
        assert page.status_code == 200
        assert f"cqi audit anchor v1: sequence {head}, head " in page.text
        assert f"signature: {signature}" in page.text
        assert '<code id="anchor-text">' in page.text
    for who in (agency.member, agency.viewer):
        assert (await agency.client.get("/audit", headers=who)).status_code == 403
