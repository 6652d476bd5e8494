"""The same numbers on both stores: one generated portal, with data-quality garbage injected,
synced once into SQLite and once into PostgreSQL; then every KPI, breakdown, warning, snapshot
and export must agree (floats within 1e-9, everything else exactly)."""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import replace

import pytest

from hubspot_metrics.config import ChurnSettings, MetricsSettings
from hubspot_metrics.metrics import BREAKDOWNS, compute_kpis, with_store_timezone
from hubspot_metrics.periods import parse_period, period_from_range
from hubspot_metrics.portal import PortalServer, generate_portal
from hubspot_metrics.results.export import export_csv
from hubspot_metrics.results.snapshots import snapshot
from hubspot_metrics.store import open_store
from tests.conftest import psql
from tests.postgres.conftest import pg_config
from tests.sync.conftest import NOW, TOKEN, make_config, run_sync

TOLERANCE = 1e-9
# What the portal's users typed where HubSpot expected an instant, a number or a boolean.
GARBAGE = {
    "contacts": {"hs_lifecyclestage_customer_date": "soon", "hs_v2_date_entered_customer": "2026-13-45",
                 "hs_lifecyclestage_lead_date": "yesterday", "hs_v2_date_entered_lead": "n/a", "churn_date": "tbd"},
    "companies": {"hs_lifecyclestage_customer_date": "n/a", "hs_v2_date_entered_lead": "??"},
    "deals": {"closedate": "someday", "amount": "lots", "hs_is_closed_won": "maybe", "hs_is_closed": "perhaps",
              "amount_in_home_currency": "x"},
    "tickets": {"first_agent_reply_date": "never", "hs_first_agent_message_sent_at": "later"},
    "feedback_submissions": {"hs_submission_timestamp": "whenever"},
}
PERIODS = ("2026-10", "2026-Q3", "2025", "2026-02-03..2026-05-17", "2026-11")  # the last one is open at NOW
UNITS = ("contacts", "companies")
CHURN_MODES = ("inactivity", "property")


def dirty_portal():
    portal = generate_portal(scale=400, seed=21, now=NOW)
    for table, values in GARBAGE.items():
        ids = [str(r["id"]) for r in portal.records(table)]
        for k, (prop, raw) in enumerate(values.items()):
            for record_id in ids[3 * k:3 * k + 3]:  # three records per property, none twice
                portal.update(table, record_id, {prop: raw})
    return portal


@pytest.fixture(scope="module")
def stores(pg_server, tmp_path_factory):
    """(SQLite path, PostgreSQL URL, schema) of one sync of the same portal each."""
    sqlite_path = tmp_path_factory.mktemp("parity") / "store.db"
    schema = f"parity{os.getpid()}_{sqlite_path.parent.name}"  # one per module that uses the fixture
    # The contacts' churn date is synced (as with churn mode "property"), so both modes can read the store.
    metrics = MetricsSettings(churn=replace(ChurnSettings(), mode="property"))
    with PortalServer(dirty_portal(), token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        assert run_sync(replace(make_config(server, sqlite_path), metrics=metrics))[0].status == "ok"
        assert run_sync(replace(pg_config(server, pg_server, schema), metrics=metrics))[0].status == "ok"
    return str(sqlite_path), pg_server.url, schema


def both(stores, *, readonly=True):
    sqlite_path, url, schema = stores
    return open_store(sqlite_path, readonly=readonly), open_store(url, schema=schema, create=False, readonly=readonly)


def settings_for(db, unit: str, mode: str) -> MetricsSettings:
    return with_store_timezone(db, MetricsSettings(customer_object=unit, churn=replace(ChurnSettings(), mode=mode)))


def period_of(text: str, timezone: str):
    return period_from_range(*text.split(".."), timezone) if ".." in text else parse_period(text, timezone)


def assert_equal(actual, expected, where: str = "") -> None:
    """Equal, floats within TOLERANCE (relative to their size), ints, strings and None exactly."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and list(actual) == list(expected), where
        for key in expected:
            assert_equal(actual[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), where
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_equal(a, e, f"{where}[{i}]")
    elif isinstance(expected, float) and not isinstance(actual, bool) and isinstance(actual, (int, float)):
        assert math.isclose(actual, expected, rel_tol=TOLERANCE, abs_tol=TOLERANCE), (where, actual, expected)
    else:
        assert (type(actual), actual) == (type(expected), expected), where


@pytest.mark.parametrize("unit", UNITS)
@pytest.mark.parametrize("mode", CHURN_MODES)
def test_every_kpi_warning_and_data_quality_figure_is_the_same_on_both_stores(stores, unit, mode):
    sqlite_db, pg_db = both(stores)
    with sqlite_db, pg_db:
        settings = settings_for(sqlite_db, unit, mode)
        assert settings_for(pg_db, unit, mode) == settings
        for text in PERIODS:
            period = period_of(text, settings.timezone)
            expected = compute_kpis(sqlite_db, period, settings, now=NOW)
            assert_equal(compute_kpis(pg_db, period, settings, now=NOW), expected, f"{unit}/{mode}/{text}")
    # The comparison is not an empty one: the open period is open, the garbage was seen.
    assert (expected["period"], expected["partial"]) == ("2026-11", True)
    assert sum(1 for k in expected["kpis"].values() if k["value"] is not None) > 20
    quality = expected["data_quality"]
    assert set(quality["deals"]["unparsable"]) == set(GARBAGE["deals"])
    assert set(quality["tickets"]["unparsable"]) == set(GARBAGE["tickets"])
    assert set(quality["feedback_submissions"]["unparsable"]) == set(GARBAGE["feedback_submissions"])
    churn = {"churn_date"} if (unit, mode) == ("contacts", "property") else set()
    assert set(quality[unit]["unparsable"]) == set(GARBAGE[unit]) - {"churn_date"} | churn
    assert any("unparsable closedate" in w for w in expected["warnings"])


@pytest.mark.parametrize("by", BREAKDOWNS)
def test_breakdowns_are_the_same_on_both_stores(stores, by):
    sqlite_db, pg_db = both(stores)
    most_groups = 0
    with sqlite_db, pg_db:
        for unit in UNITS:
            for mode in CHURN_MODES:
                settings = settings_for(sqlite_db, unit, mode)
                for text in ("2026-Q3", "2026-11"):
                    period = period_of(text, settings.timezone)
                    expected = compute_kpis(sqlite_db, period, settings, by=by, now=NOW)
                    actual = compute_kpis(pg_db, period, settings, by=by, now=NOW)
                    assert_equal(actual, expected, f"{by}/{unit}/{mode}/{text}")
                    most_groups = max(most_groups, len(expected["breakdown"]["groups"]))
    assert most_groups >= 3


def test_snapshots_and_exports_are_the_same_on_both_stores(stores):
    sqlite_db, pg_db = both(stores, readonly=False)
    with sqlite_db, pg_db:
        settings = settings_for(sqlite_db, "contacts", "inactivity")
        periods = [parse_period(p, settings.timezone) for p in ("2026-09", "2026-10", "2026-11")]
        written = snapshot(sqlite_db, periods, settings, now=NOW)
        assert snapshot(pg_db, periods, settings, now=NOW) == written
        snapshots = [snapshot_rows(db) for db in (sqlite_db, pg_db)]
        exports = [[parsed_csv(export_csv(db, settings, grain=grain, periods=4, wide=wide, now=NOW))
                    for grain, wide in (("month", False), ("month", True), ("quarter", False))]
                   for db in (sqlite_db, pg_db)]
    assert written == len(snapshots[0]) > 0
    assert_equal(snapshots[1], snapshots[0], "kpi_snapshots")
    assert_equal(exports[1], exports[0], "export")
    # The closed months came from the snapshots just taken, on both stores.
    long_rows = exports[0][0]
    assert {(r[0], r[-1]) for r in long_rows[1:]} == {("2026-07", "computed"), ("2026-08", "computed"),
                                                      ("2026-09", "snapshot"), ("2026-10", "snapshot")}


def snapshot_rows(db) -> list[list]:
    cursor = db.conn.execute("SELECT snapshot_date, computed_at, period, grain, start, [end], key, value, n, reason, "
                             "unit, definition_version, sync_run_id, definition, as_of, partial FROM kpi_snapshots "
                             "ORDER BY period, key")
    return [list(row) for row in cursor]


def parsed_csv(text: str) -> list[list]:
    """The cells, numbers as numbers (so that they compare within the tolerance)."""
    def cell(value: str):
        try:
            return float(value)
        except ValueError:
            return value
    return [[cell(v) for v in row] for row in csv.reader(io.StringIO(text))]


def test_both_lanes_of_a_postgresql_reader_read_its_one_snapshot(stores, pg_server):
    """The deal queries run on a second session (compute._in_two_lanes); it must see the
    reader's snapshot, not the rows a sync committed since the reader opened."""
    _, url, schema = stores
    reader = open_store(url, schema=schema, create=False, readonly=True)
    with reader:
        settings = settings_for(reader, "contacts", "inactivity")
        october = parse_period("2026-10", settings.timezone)
        before = compute_kpis(reader, october, settings, now=NOW)
        psql(pg_server, f"INSERT INTO {schema}.deals (id, closedate, createdate, hs_is_closed_won, hs_is_closed, amount, "
                        "pipeline, dealstage) VALUES ('999000001', '2026-10-15T10:00:00Z', '2026-10-01T10:00:00Z', "
                        "true, true, 1000, 'default', 'closedwon')")
        try:
            assert compute_kpis(reader, october, settings, now=NOW) == before
            with open_store(url, schema=schema, create=False, readonly=True) as fresh:
                after = compute_kpis(fresh, october, settings, now=NOW)
        finally:
            psql(pg_server, f"DELETE FROM {schema}.deals WHERE id = '999000001'")
    assert after["kpis"]["deals_won"]["value"] == before["kpis"]["deals_won"]["value"] + 1
