"""The commands on a PostgreSQL store: lock, kill -9, secrets, store safety, failures, status, check."""

from __future__ import annotations

import os
import random
import subprocess
import sys

import pytest
from click.testing import CliRunner

from hubspot_metrics.cli import cli
from hubspot_metrics.portal import PortalServer, generate_portal
from hubspot_metrics.store import open_store, sync_running
from hubspot_metrics.sync import SyncLock
from tests.conftest import PG_SECRET_PASSWORD, PG_SECRET_USER, pg_rows, psql
from tests.postgres.conftest import pg_config, store_dump
from tests.sync.conftest import NOW, TOKEN, run_sync, sync_killed_after


def write_config(tmp_path, schema: str):
    path = tmp_path / "config.toml"
    path.write_text("[hubspot]\nrequests_per_10s = 100000\nsearch_requests_per_second = 10000\n"
                    f'[store]\nschema = "{schema}"\n[sync]\nlookback_seconds = 0\n', encoding="utf-8")
    return path


def cli_env(server, url: str, config_path) -> dict[str, str]:
    return {"HUBSPOT_ACCESS_TOKEN": TOKEN, "HUBSPOT_API_BASE_URL": server.url, "HUBSPOT_METRICS_DB": url,
            "HUBSPOT_METRICS_CONFIG": str(config_path)}


def invoke(server, url: str, tmp_path, schema: str, *args):
    return CliRunner().invoke(cli, list(args), env=cli_env(server, url, write_config(tmp_path, schema)))


def tables_of(url: str, schema: str) -> list[str]:
    return [name for (name,) in pg_rows(url, "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                                        "ORDER BY table_name", [schema])]


# --- one sync per store -------------------------------------------------------------------------

def test_a_second_sync_on_the_same_schema_exits_6_and_touches_nothing(pg_server, pg_schema, server, tmp_path):
    env = {**os.environ, **cli_env(server, pg_server.url, write_config(tmp_path, pg_schema))}
    with SyncLock(pg_server.url, pg_schema):
        done = subprocess.run([sys.executable, "-m", "hubspot_metrics", "sync"], capture_output=True, env=env,
                              timeout=120)
    assert done.returncode == 6
    assert done.stderr.decode() == (f"Error: Another sync is already running on schema {pg_schema} of "
                                    f"{pg_server.url}; wait for it to finish.\n")
    assert tables_of(pg_server.url, pg_schema) == []  # refused before anything was created
    # Another schema of the same database is another store, with a lock of its own.
    with SyncLock(pg_server.url, pg_schema):
        assert run_sync(pg_config(server, pg_server, pg_schema + "_other"))[0].status == "ok"


def test_status_and_kpis_can_tell_whether_a_sync_holds_the_schema(pg_server, pg_schema):
    assert not sync_running(pg_server.url, pg_schema)
    with SyncLock(pg_server.url, pg_schema):
        assert sync_running(pg_server.url, pg_schema)
        assert not sync_running(pg_server.url, pg_schema + "_other")
    assert not sync_running(pg_server.url, pg_schema)


# --- kill -9, then run again ----------------------------------------------------------------------

@pytest.mark.slow
def test_a_sync_killed_at_random_points_resumes_into_the_store_of_a_clean_sync(pg_server, tmp_path):
    """kill -9 at 6 seeded points (3 in full syncs, 3 in incremental ones), then a plain rerun."""
    rng = random.Random(16)
    portal = generate_portal(scale=150, seed=16, now=NOW)
    base = f"crash{os.getpid()}"
    killed = 0

    def env_for(schema: str) -> dict[str, str]:
        folder = tmp_path / schema
        folder.mkdir(exist_ok=True)
        return {**os.environ, **cli_env(server, pg_server.url, write_config(folder, schema))}

    def sync(schema: str) -> None:
        done = subprocess.run([sys.executable, "-m", "hubspot_metrics", "sync"], env=env_for(schema),
                              capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr.decode()

    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        server.reset_log()
        sync(f"{base}_reference")
        full_requests = len(server.request_log)
        expected = store_dump(pg_server.url, f"{base}_reference")
        for point in range(3):
            killed += sync_killed_after(server, env_for(f"{base}_{point}"), rng.randrange(1, full_requests))
            sync(f"{base}_{point}")
            assert store_dump(pg_server.url, f"{base}_{point}") == expected, f"full sync killed at point {point}"

        portal.advance_clock(seconds=3600)
        contacts = [r["id"] for r in portal.records("contacts")]
        for cid in contacts[:30]:
            portal.update("contacts", cid, {"lifecyclestage": "customer"})
        portal.archive("contacts", contacts[50])
        portal.merge("contacts", contacts[60], contacts[61])
        portal.bulk_touch("tickets", 150)
        server.reset_log()
        sync(f"{base}_reference")
        incremental_requests = len(server.request_log)
        expected = store_dump(pg_server.url, f"{base}_reference")
        for point in range(3):
            killed += sync_killed_after(server, env_for(f"{base}_{point}"), rng.randrange(1, incremental_requests))
            sync(f"{base}_{point}")
            assert store_dump(pg_server.url, f"{base}_{point}") == expected, f"incremental sync killed at point {point}"
    assert killed >= 5


# --- secrets ----------------------------------------------------------------------------------

def test_the_password_and_the_token_appear_in_no_output_log_or_table(pg_server, pg_schema, server, tmp_path):
    url = pg_server.password_url
    outputs = []
    for args in (["-vv", "sync"], ["-vv", "sync"], ["status"], ["check"]):
        result = invoke(server, url, tmp_path, pg_schema, *args)
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
    bad = invoke(server, url.replace(PG_SECRET_PASSWORD, PG_SECRET_PASSWORD + "x"), tmp_path, pg_schema, "sync")
    assert bad.exit_code == 2
    outputs.append(bad.output)
    masked = f"postgresql://{PG_SECRET_USER}:***@/postgres?host={pg_server.socket_dir}"
    assert outputs[2].splitlines()[0].startswith(f"Store: {masked} (HubSpot portal ")
    assert bad.output.startswith(f"Error: PostgreSQL refused the login for {masked} (")
    # Every table the store holds, every cell, as text.
    cells = "\n".join(str(row) for table in tables_of(pg_server.url, pg_schema)
                      for row in pg_rows(pg_server.url, f'SELECT t::text FROM {pg_schema}."{table}" t'))
    assert pg_rows(pg_server.url, f"SELECT status FROM {pg_schema}.sync_runs ORDER BY id") == [("ok",), ("ok",)]
    for secret in (PG_SECRET_PASSWORD, TOKEN):
        for text in (*outputs, cells):
            assert secret not in text


def test_the_password_may_come_from_pgpassword(pg_server, pg_schema, server, tmp_path):
    url = pg_server.password_url.replace(f":{PG_SECRET_PASSWORD}@", "@")
    env = {**cli_env(server, url, write_config(tmp_path, pg_schema)), "PGPASSWORD": PG_SECRET_PASSWORD}
    outputs = [CliRunner().invoke(cli, args, env=env) for args in (["-vv", "sync"], ["status"])]
    assert [r.exit_code for r in outputs] == [0, 0], outputs[0].output
    assert outputs[1].output.splitlines()[0].startswith(f"Store: {url} (HubSpot portal ")
    assert all(PG_SECRET_PASSWORD not in r.output for r in outputs)
    refused = CliRunner().invoke(cli, ["sync"], env={**env, "PGPASSWORD": "wrong"})
    assert refused.exit_code == 2 and refused.output.startswith(f"Error: PostgreSQL refused the login for {url} (")


# --- store safety -----------------------------------------------------------------------------

def test_a_schema_holding_other_tables_is_refused_and_left_as_it_is(pg_server, pg_schema, server, tmp_path):
    psql(pg_server, f"CREATE SCHEMA {pg_schema}; CREATE TABLE {pg_schema}.invoices (id int); "
                    f"INSERT INTO {pg_schema}.invoices VALUES (7)")
    result = invoke(server, pg_server.url, tmp_path, pg_schema, "sync")
    assert (result.exit_code, result.output) == (2, (
        f"Error: Schema {pg_schema} of {pg_server.url} holds tables that are not a hubspot-metrics store, and it is "
        "left as it is; choose another schema with [store] schema.\n"))
    assert tables_of(pg_server.url, pg_schema) == ["invoices"]
    assert pg_rows(pg_server.url, f"SELECT id FROM {pg_schema}.invoices") == [(7,)]


def test_other_tables_in_the_database_are_fine_and_each_schema_holds_one_portal(pg_server, pg_schema, server,
                                                                                  portal, tmp_path):
    psql(pg_server, f"CREATE TABLE IF NOT EXISTS public.crm_notes_{pg_schema} (id int)")
    assert invoke(server, pg_server.url, tmp_path, pg_schema, "sync").exit_code == 0
    other = generate_portal(scale=60, seed=99, now=NOW)
    with PortalServer(other, token=TOKEN, requests_per_10s=None, search_per_second=None) as second:
        refused = invoke(second, pg_server.url, tmp_path, pg_schema, "sync")
        assert (refused.exit_code, refused.output) == (2, (
            f"Error: The store {pg_server.url} holds HubSpot portal {portal.portal_id}, but the token reads portal "
            f"{other.portal_id}; give that portal a store of its own with another --db path.\n"))
        assert invoke(second, pg_server.url, tmp_path, pg_schema + "_b", "sync").exit_code == 0
    assert pg_rows(pg_server.url, f'SELECT "portalId" FROM {pg_schema}.account') == [(portal.portal_id,)]
    assert pg_rows(pg_server.url, f'SELECT "portalId" FROM {pg_schema}_b.account') == [(other.portal_id,)]


# --- connection failures ------------------------------------------------------------------------

def test_a_server_that_cannot_be_reached_exits_3_in_one_sentence(pg_schema, server, tmp_path):
    requests_before = len(server.request_log)
    for url, where in (("postgresql://hm:s3cret-pw@127.0.0.1:1/crm", "postgresql://hm:***@127.0.0.1:1/crm"),
                       ("postgresql://hm:s3cret-pw@no-such-host.invalid/crm", "postgresql://hm:***@no-such-host.invalid/crm")):
        result = invoke(server, url, tmp_path, pg_schema, "sync")
        assert result.exit_code == 3, result.output
        assert result.output.startswith(f"Error: Cannot reach the PostgreSQL server of {where} (")
        assert result.output.endswith("); check the host and port and that the server is running.\n")
        assert result.output.count("\n") == 1 and "s3cret-pw" not in result.output
    assert len(server.request_log) == requests_before  # (the store is opened before HubSpot is asked)


def test_a_missing_database_or_privilege_exits_2_in_one_sentence(pg_server, pg_schema, server, tmp_path):
    missing = pg_server.url_for(database="no_such_db")
    result = invoke(server, missing, tmp_path, pg_schema, "sync")
    assert result.exit_code == 2
    assert result.output.startswith(f"Error: PostgreSQL has no such database for {missing} (")
    assert result.output.endswith("); create it or fix the URL.\n") and result.output.count("\n") == 1

    psql(pg_server, "DO $$ BEGIN CREATE ROLE hm_no_create LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
    result = invoke(server, pg_server.url_for(user="hm_no_create"), tmp_path, pg_schema, "sync")
    assert result.exit_code == 2
    assert result.output.startswith(f"Error: The PostgreSQL user of {pg_server.url_for(user='hm_no_create')} lacks a "
                                    "privilege the store needs (permission denied for database postgres); grant it "
                                    f"CREATE on the database (or on schema {pg_schema}) and USAGE on the schema.\n")
    assert tables_of(pg_server.url, pg_schema) == []


def test_without_the_driver_a_postgresql_url_names_the_extra_to_install(monkeypatch, pg_schema, server, tmp_path):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if psycopg were not installed
    result = invoke(server, "postgresql://hm@db.example/crm", tmp_path, pg_schema, "sync")
    assert (result.exit_code, result.output) == (2, "Error: A PostgreSQL store needs the PostgreSQL driver; install "
                                                    "it with pip install 'hubspot-metrics[postgres]'.\n")


# --- status, check, readers ---------------------------------------------------------------------

def test_status_and_check_on_a_postgresql_store(pg_server, pg_schema, server, portal, tmp_path):
    missing = invoke(server, pg_server.url, tmp_path, pg_schema, "status")
    assert (missing.exit_code, missing.output) == (2, (
        f"Error: No store in schema {pg_schema} of {pg_server.url}; run `hubspot-metrics sync` first "
        "(or set [store] schema).\n"))
    assert invoke(server, pg_server.url, tmp_path, pg_schema, "sync").exit_code == 0
    result = invoke(server, pg_server.url, tmp_path, pg_schema, "status")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"Store: {pg_server.url} (HubSpot portal {portal.portal_id})"
    assert lines[3].startswith("  #1 ") and " ok: " in lines[3]
    live = sum(1 for _ in portal.records("contacts"))
    archived = sum(1 for _ in portal.records("contacts", archived=True))
    contacts_row = next(line for line in lines if line.startswith("contacts ")).split()
    assert contacts_row[1:5] == [str(live), str(archived), "0", str(live)]
    assert "KPI time zone: Europe/Berlin (the portal's, from its account details)" in lines
    check = invoke(server, pg_server.url, tmp_path, pg_schema, "check")
    assert check.exit_code == 0 and check.output.splitlines()[-1] == "Every KPI can be computed with this token."


def test_a_reader_sees_one_state_while_a_writer_commits(pg_server, pg_schema, server):
    run_sync(pg_config(server, pg_server, pg_schema))
    with open_store(pg_server.url, schema=pg_schema, create=False, readonly=True) as db:
        before = db.conn.execute("SELECT count(*) FROM contacts").fetchone()[0]
        psql(pg_server, f"DELETE FROM {pg_schema}.contacts WHERE id IN (SELECT id FROM {pg_schema}.contacts LIMIT 5)")
        assert db.conn.execute("SELECT count(*) FROM contacts").fetchone()[0] == before
    with open_store(pg_server.url, schema=pg_schema, create=False, readonly=True) as db:
        assert db.conn.execute("SELECT count(*) FROM contacts").fetchone()[0] == before - 5
