"""A sync into PostgreSQL makes the same store as into SQLite, row for row, with BI types."""

from __future__ import annotations

import json
from dataclasses import replace

from hubspot_metrics.config import ChurnSettings, MetricsSettings
from hubspot_metrics.objects import OBJECTS
from hubspot_metrics.portal import PortalServer, generate_portal
from hubspot_metrics.portal.schema import Prop
from hubspot_metrics.store import open_store
from tests.conftest import pg_rows
from tests.postgres.conftest import pg_config, store_dump
from tests.sync.conftest import NOW, TOKEN, make_config, run_sync


STATE = "SELECT object_type, mode, list_after, cursor_ms, portal_total FROM sync_state ORDER BY object_type"


def assert_same_store(sqlite_path, pg_url: str, schema: str) -> None:
    expected, actual = store_dump(str(sqlite_path)), store_dump(pg_url, schema)
    assert sorted(actual) == sorted(expected)
    for table, (columns, rows) in expected.items():
        assert actual[table][0] == columns, table
        assert actual[table][1] == rows, table
    # The cursors too (the run's own times aside): the next incremental run starts at the same place.
    with open_store(str(sqlite_path), create=False) as lite, open_store(pg_url, schema=schema, create=False) as pg:
        assert pg.conn.execute(STATE).fetchall() == lite.conn.execute(STATE).fetchall()


def test_full_then_incremental_sync_into_postgresql_equals_the_sqlite_store(pg_server, pg_schema, tmp_path):
    portal = generate_portal(scale=300, seed=5, now=NOW)
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        sqlite_config = make_config(server, tmp_path / "store.db")
        config = pg_config(server, pg_server, pg_schema)
        assert run_sync(sqlite_config)[0].status == "ok"
        result, _ = run_sync(config)
        assert result.status == "ok"
        assert {n: r.mode for n, r in result.objects.items() if n in OBJECTS} == {n: "full" for n in OBJECTS}
        assert_same_store(tmp_path / "store.db", pg_server.url, pg_schema)

        contacts = [str(r["id"]) for r in portal.records("contacts")][:20]
        deals = [str(r["id"]) for r in portal.records("deals")][:5]
        tickets = [str(r["id"]) for r in portal.records("tickets")][:5]
        portal.advance_clock(seconds=3600)
        for cid in contacts[:3]:
            portal.update("contacts", cid, {"lifecyclestage": "customer", "firstname": "Zoë \"Z\" 50% [x]"})
        new_deal = portal.create("deals", {"dealname": "New", "amount": "1234.5", "pipeline": "default",
                                           "dealstage": "closedwon", "hs_is_closed_won": "true"})
        portal.associate("deals", new_deal, "contacts", contacts[6])
        portal.archive("tickets", tickets[0])
        portal.merge("contacts", contacts[10], contacts[11])
        portal.update("deals", deals[0], {"amount": "not a number", "closedate": "someday"})
        assert run_sync(sqlite_config)[0].status == "ok"
        result, _ = run_sync(config)
    assert result.status == "ok"
    assert {n: r.mode for n, r in result.objects.items() if n in OBJECTS} == {n: "incremental" for n in OBJECTS}
    assert_same_store(tmp_path / "store.db", pg_server.url, pg_schema)

    # What did not parse: the typed cell is NULL, value_issues keeps the text (as SQLite does).
    assert pg_rows(pg_server.url, f"SELECT amount, closedate FROM {pg_schema}.deals WHERE id = %s", [deals[0]]) == [
        (None, None)]
    assert pg_rows(pg_server.url, f"SELECT property, raw_value FROM {pg_schema}.value_issues WHERE record_id = %s "
                   "ORDER BY property", [deals[0]]) == [("amount", "not a number"), ("closedate", "someday")]
    assert pg_rows(pg_server.url, f"SELECT merged_into FROM {pg_schema}.contacts WHERE id = %s",
                   [contacts[11]]) == [(contacts[10],)]
    assert pg_rows(pg_server.url, f"SELECT archived FROM {pg_schema}.tickets WHERE id = %s", [tickets[0]]) == [(True,)]


def test_columns_have_the_types_a_bi_tool_expects(pg_server, pg_schema, server):
    run_sync(pg_config(server, pg_server, pg_schema))
    types = dict(((t, c), d) for t, c, d in pg_rows(
        pg_server.url, "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = %s", [pg_schema]))
    assert {key: types[key] for key in [
        ("contacts", "id"), ("contacts", "archived"), ("contacts", "archived_at"), ("contacts", "merged_into"),
        ("contacts", "createdate"), ("deals", "amount"), ("deals", "hs_is_closed_won"), ("deals", "closedate"),
        ("associations_deals_contacts", "deal_id"), ("sync_state", "cursor_ms"), ("sync_runs", "started_at"),
        ("kpi_snapshots", "value"), ("kpi_snapshots", "computed_at"), ("kpi_snapshots", "partial"),
    ]} == {
        ("contacts", "id"): "text", ("contacts", "archived"): "boolean",
        ("contacts", "archived_at"): "timestamp with time zone", ("contacts", "merged_into"): "text",
        ("contacts", "createdate"): "timestamp with time zone", ("deals", "amount"): "double precision",
        ("deals", "hs_is_closed_won"): "boolean", ("deals", "closedate"): "timestamp with time zone",
        ("associations_deals_contacts", "deal_id"): "text", ("sync_state", "cursor_ms"): "bigint",
        ("sync_runs", "started_at"): "timestamp with time zone", ("kpi_snapshots", "value"): "double precision",
        ("kpi_snapshots", "computed_at"): "timestamp with time zone", ("kpi_snapshots", "partial"): "boolean",
    }
    # The same numbered migrations as SQLite's, recorded by name.
    assert pg_rows(pg_server.url, f"SELECT name FROM {pg_schema}.schema_migrations ORDER BY name") == [
        ("m001_initial",), ("m002_portal_totals",), ("m003_kpi_snapshots",), ("m004_pending_window",),
        ("m005_snapshot_definition",), ("m006_property_options",)]


def test_a_property_defined_after_its_values_were_stored_is_retyped_as_on_sqlite(pg_server, pg_schema, tmp_path):
    portal = generate_portal(scale=400, seed=3, now=NOW)
    contacts = portal.table("contacts")
    definition = contacts.props.pop("churn_date")  # served, but not defined yet: stored as text
    churn = MetricsSettings(churn=ChurnSettings(mode="property", property="churn_date"))
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        sqlite_config = replace(make_config(server, tmp_path / "store.db", objects=("contacts",)), metrics=churn)
        config = replace(pg_config(server, pg_server, pg_schema, objects=("contacts",)), metrics=churn)
        for c in (sqlite_config, config):
            run_sync(c)
        assert pg_rows(pg_server.url, f"SELECT count(*) > 0 FROM {pg_schema}.contacts WHERE churn_date LIKE '____-__-__'") == [
            (True,)]
        assert pg_rows(pg_server.url, "SELECT data_type FROM information_schema.columns WHERE table_schema = %s "
                       "AND table_name = 'contacts' AND column_name = 'churn_date'", [pg_schema]) == [("text",)]
        contacts.props["churn_date"] = definition  # now a date, no record changed
        for c in (sqlite_config, config):
            assert run_sync(c, full=True)[0].status == "ok"
    assert pg_rows(pg_server.url, "SELECT data_type FROM information_schema.columns WHERE table_schema = %s "
                   "AND table_name = 'contacts' AND column_name = 'churn_date'", [pg_schema]) == [
        ("timestamp with time zone",)]
    assert pg_rows(pg_server.url, f"SELECT count(*) > 0 FROM {pg_schema}.contacts WHERE churn_date IS NOT NULL") == [
        (True,)]
    assert_same_store(tmp_path / "store.db", pg_server.url, pg_schema)


def test_properties_past_postgresqls_column_limit_are_kept_as_json(pg_server, pg_schema):
    portal = generate_portal(scale=40, seed=5, now=NOW)
    contacts = portal.table("contacts")
    custom = [f"custom_{i:04d}" for i in range(1700)]
    for name in custom:
        contacts.add_column(Prop(name, "number" if name.endswith("7") else "string", "text", name, "custom",
                                 hubspot_defined=False))
    rid = sorted((str(r["id"]) for r in portal.records("contacts")), key=int)[0]
    portal.update("contacts", rid, {custom[0]: "first", custom[-1]: "last", custom[-3]: "17"})
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        config = pg_config(server, pg_server, pg_schema, objects=("contacts",), all_properties=True)
        result, _ = run_sync(config)
        overflow = [name for (name,) in pg_rows(pg_server.url, f"SELECT name FROM {pg_schema}.properties WHERE "
                                                "column_name = '_more_properties' ORDER BY name")]
        assert result.status == "ok"
        assert result.warnings == [
            f"contacts has more properties than PostgreSQL allows columns (1600); {len(overflow)} of them are kept "
            f"as JSON in the column _more_properties (e.g. {overflow[0]})."]
        assert pg_rows(pg_server.url, "SELECT count(*) FROM information_schema.columns WHERE table_schema = %s AND "
                       "table_name = 'contacts'", [pg_schema]) == [(1600,)]
        assert custom[-1] in overflow and custom[-3] in overflow and custom[0] not in overflow
        (first, more), = pg_rows(pg_server.url, f'SELECT "{custom[0]}", _more_properties::text '
                                 f"FROM {pg_schema}.contacts WHERE id = %s", [rid])
        assert (first, custom_values(more)) == ("first", {custom[-3]: 17.0, custom[-1]: "last"})

        portal.advance_clock(seconds=3600)
        portal.update("contacts", rid, {custom[-1]: None, custom[-2]: "later"})  # cleared, and a new value
        assert run_sync(config)[0].status == "ok"
    (more,), = pg_rows(pg_server.url, f"SELECT _more_properties::text FROM {pg_schema}.contacts WHERE id = %s", [rid])
    assert custom_values(more) == {custom[-3]: 17.0, custom[-2]: "later"}


def custom_values(more: str) -> dict:
    """The custom properties of a `_more_properties` object (the portal's own wide ones aside)."""
    return {k: v for k, v in json.loads(more).items() if k.startswith("custom_")}


def test_reference_fields_that_are_not_whole_numbers_do_not_stop_a_sync_into_postgresql(pg_server, pg_schema):
    """Owners' user ids and pipelines' display order are integer columns on PostgreSQL: a value
    HubSpot sent that is no whole number is stored empty with one warning per kind of data
    (SQLite keeps it as it came), and digits in text are read as the number."""
    from tests.sync.tamper import TamperingProxy

    portal = generate_portal(scale=60, seed=9, now=NOW)
    owners = [str(o["id"]) for o in portal.owners if o.get("userId") is not None][:3]

    def spoil(method, path, payload):
        if path == "/crm/v3/owners":
            spoiled = {owners[0]: "not a number", owners[1]: [1], owners[2]: "42"}
            return {**payload, "results": [{**o, "userId": spoiled.get(str(o.get("id")), o.get("userId"))}
                                           for o in payload["results"]]}
        if path == "/crm/v3/pipelines/deals":
            return {"results": [{**p, "displayOrder": 1.5} for p in payload["results"]]}
        return None

    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server, \
            TamperingProxy(server.url, spoil) as proxy:
        config = pg_config(server, pg_server, pg_schema)
        config = replace(config, hubspot=replace(config.hubspot, base_url=proxy.url))
        result, _ = run_sync(config)
    assert result.status == "ok"
    assert [w for w in result.warnings if "whole number" in w] == [
        "HubSpot sent owners with a field that should be a whole number but is not; it is stored empty.",
        "HubSpot sent deals pipelines with a field that should be a whole number but is not; it is stored empty."]
    assert pg_rows(pg_server.url, f"SELECT id, \"userId\" FROM {pg_schema}.owners WHERE id = ANY(%s) ORDER BY id",
                   [owners]) == sorted([(owners[0], None), (owners[1], None), (owners[2], 42)])
    assert {r[0] for r in pg_rows(pg_server.url, f"SELECT display_order FROM {pg_schema}.pipelines "
                                  "WHERE object_type = 'deals'")} == {None}
