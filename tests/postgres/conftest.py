"""Fixtures for the PostgreSQL store tests: one generated portal per module, served over real
sockets, and a dump of any store (SQLite or PostgreSQL) in one comparable shape."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from hubspot_metrics.dialect import dialect_of
from hubspot_metrics.portal import PortalServer, generate_portal
from hubspot_metrics.store import open_store
from hubspot_metrics.values import format_instant, parse_instant
from tests.sync.conftest import NOW, TOKEN, make_config

# Bookkeeping that differs from run to run by nature (times, run ids, the migrations' own table).
RUN_TABLES = {"sync_runs", "sync_state", "sync_changed", "kpi_snapshots", "_sqlite_migrations", "sqlite_sequence",
              "schema_migrations"}
JSON_COLUMNS = {("owners", "teams"), ("account", "additionalCurrencies"), ("pipeline_stages", "metadata")}


@pytest.fixture(scope="module")
def portal():
    return generate_portal(scale=300, seed=11, now=NOW)


@pytest.fixture(scope="module")
def server(portal):
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as srv:
        yield srv


def pg_config(server, pg_server, schema: str, url: str | None = None, **sync_overrides):
    return replace(make_config(server, url or pg_server.url, **sync_overrides), store_schema=schema)


def store_dump(location: str, schema: str = "hubspot_metrics") -> dict[str, tuple[list[str], list[tuple]]]:
    """Every data table of a store, rows sorted, JSON parsed: equal for equal stores of either kind.

    The one documented difference is normalised: SQLite keeps a value that did not parse in its
    typed cell, PostgreSQL leaves the cell NULL; both list it in `value_issues`, which is compared."""
    with open_store(location, schema=schema, create=False) as db:
        dialect = dialect_of(db)
        unparsed = set(db.conn.execute(
            "SELECT v.object_type, v.record_id, p.column_name FROM value_issues v JOIN properties p "
            "ON p.object_type = v.object_type AND p.name = v.property").fetchall())
        dump = {}
        for name in sorted(dialect.table_names(db.conn) - RUN_TABLES):
            columns = sorted(dialect.column_names(db.conn, name))
            rows = []
            for values in db.conn.execute(f"SELECT {', '.join(f'[{c}]' for c in columns)} FROM [{name}]"):
                row = dict(zip(columns, values))
                rows.append(tuple(None if (name, row.get("id"), c) in unparsed else _normal(name, c, v)
                                  for c, v in row.items()))
            dump[name] = (columns, sorted(rows, key=repr))
    return dump


def _normal(table: str, column: str, value):
    if column == "archived_at" and value is not None:  # SQLite keeps HubSpot's text, PostgreSQL an instant
        return format_instant(parse_instant(value))
    if isinstance(value, str) and ((table, column) in JSON_COLUMNS or column in ("types", "_more_properties")):
        return json.loads(value)
    return value
