"""How the metrics read the store: any connection, odd column names, missing tables, and the
indexes the sync asks for."""

from __future__ import annotations

import bisect
import random
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from hubspot_metrics.config import MetricsSettings
from hubspot_metrics.metrics import compute_kpis, ensure_indexes
from hubspot_metrics.metrics.counts import CustomerCounts, counts_from_row
from hubspot_metrics.metrics.queries import Queries, _count_pair
from hubspot_metrics.metrics.sql import StoreView
from hubspot_metrics.periods import parse_period
from hubspot_metrics.store import open_store
from hubspot_metrics.values import format_instant

from .builder import StoreBuilder
from .conftest import kpi, kpis, with_default_pipeline

JANUARY = parse_period("2024-01", "UTC")
AFTER = datetime(2026, 1, 1, tzinfo=timezone.utc)


def add_won_deal(store, did="d1", amount=100):
    store.add("deals", did, createdate="2024-01-01", closedate="2024-01-05", pipeline="default",
              dealstage="closedwon", hs_is_closed_won=True, amount=amount)


def test_ensure_indexes_is_idempotent_and_skips_a_read_only_store(tmp_path):
    store = StoreBuilder(tmp_path / "s.db")
    store.add("contacts", "c1", hs_merged_object_ids="c2")
    add_won_deal(store)
    created = ensure_indexes(store.db)
    # deals have no hs_merged_object_ids column here: no index for it; the deals' two instants
    # get a raw-instant index, the contact (no datetime column) none
    assert created == ["idx_metrics_contacts_merged_ids", "idx_metrics_contacts_excluded", "idx_metrics_companies_excluded", "idx_metrics_deals_excluded",
                       "idx_metrics_tickets_excluded", "idx_metrics_feedback_submissions_excluded",
                       "idx_metrics_deals_createdate_raw", "idx_metrics_deals_closedate_raw"]
    assert ensure_indexes(store.db) == []
    store.close()
    readonly = open_store(tmp_path / "s.db", create=False, readonly=True)
    assert ensure_indexes(readonly) == []
    readonly.conn.close()


def test_a_plain_connection_with_uncommitted_rows_sees_them(tmp_path):
    store = StoreBuilder(tmp_path / "s.db")
    with_default_pipeline(store)
    add_won_deal(store, "d1")
    store.close()
    conn = sqlite3.connect(tmp_path / "s.db")  # Python's default: an implicit transaction on INSERT
    conn.execute("INSERT INTO deals (id, archived, createdate, closedate, pipeline, dealstage, hs_is_closed_won, amount)"
                 " VALUES ('d2', 0, '2024-01-02T00:00:00.000Z', '2024-01-06T00:00:00.000Z', 'default', 'closedwon', 1, 50)")
    assert conn.in_transaction
    result = compute_kpis(conn, JANUARY, MetricsSettings())
    assert result["kpis"]["revenue"] == kpi(150.0, 2, "currency")
    conn.rollback()
    conn.close()


def test_an_in_memory_store(tmp_path):
    db = open_store(tmp_path / "s.db")
    memory = sqlite3.connect(":memory:")
    db.conn.backup(memory)
    db.conn.close()
    # never synced: KPIs only with an explicit `now` (the CLI refuses such a store)
    assert compute_kpis(memory, JANUARY, MetricsSettings(), now=AFTER)["kpis"]["leads"] == kpi(0, 0, "count")


def test_a_property_whose_column_was_renamed_on_a_clash(store):
    with_default_pipeline(store)
    store.columns("deals", Amount="number")  # SQLite column names ignore case: `amount` becomes `amount__2`
    add_won_deal(store, amount=700)
    assert store.conn.execute("SELECT column_name FROM properties WHERE name = 'amount'").fetchone() == ("amount__2",)
    assert kpis(store, "2024-01")["kpis"]["revenue"] == kpi(700.0, 1, "currency")


def test_a_database_without_crm_tables_gives_empty_kpis(tmp_path):
    conn = sqlite3.connect(tmp_path / "other.db")
    conn.execute("CREATE TABLE notes (id TEXT)")
    result = compute_kpis(conn, JANUARY, MetricsSettings(), now=AFTER)
    assert result["kpis"]["deals_won"] == kpi(0, 0, "count")
    assert result["kpis"]["nps"] == kpi(None, 0, "score", "no_responses")
    assert result["warnings"] == []
    conn.close()


def test_raw_instants_are_listed_only_when_the_sql_can_hold_them(tmp_path):
    store = StoreBuilder(tmp_path / "s.db")
    with_default_pipeline(store)
    add_won_deal(store, "d1")
    store.add("deals", "d2", createdate="not a date", closedate="a\x00b", pipeline="default", dealstage="closedwon",
              hs_is_closed_won=True, amount=5)
    ensure_indexes(store.db)
    view = StoreView.open(store.db)
    assert view.raw_instants("deals", "createdate") == ("not a date",)
    assert view.raw_instants("deals", "closedate") is None  # the pattern decides
    result = compute_kpis(store.db, JANUARY, MetricsSettings())
    assert result["kpis"]["revenue"] == kpi(100.0, 1, "currency")
    assert result["data_quality"]["deals"]["unparsable"] == {"closedate": 1, "createdate": 1}
    store.close()


@pytest.mark.parametrize("size", [0, 1, 2, 3, 12, 13, 26, 27, 157])
def test_a_value_is_placed_among_the_cut_points_as_bisect_places_it(size):
    """Queries._ladder (a binary search in nested CASEs) numbers a value by how many points are
    <= it, as CellPlaces and bisect do: below, on and between the points, above them all, NULL."""
    points = [f"2025-{k:04d}" for k in range(0, 2 * size, 2)]
    sql = "SELECT " + Queries._ladder(":fact", points, "p")
    params = {f"p{k}": point for k, point in enumerate(points)}
    conn = sqlite3.connect(":memory:")
    for fact in [None, "2024", *(f"2025-{k:04d}" for k in range(-1, 2 * size + 1)), "2026"]:
        expected = -1 if fact is None else bisect.bisect_right(points, fact)
        assert conn.execute(sql, {**params, "fact": fact}).fetchone()[0] == expected, fact


def test_two_counts_share_one_aggregate_and_split_back():
    """queries._count_pair counts the rows meeting the first condition in the low 32 bits and,
    of those, the rows meeting the second above them; counts_from_row splits the "a+b" name."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (lead INTEGER, customer INTEGER)")
    conn.executemany("INSERT INTO t VALUES (?, ?)", [(1, 1), (1, 0), (1, 1), (0, 1), (1, None), (0, 0)])
    packed = conn.execute(f"SELECT {_count_pair('lead = 1', 'customer = 1')} FROM t").fetchone()[0]
    counts = counts_from_row(CustomerCounts, {"leads+converted": packed, "new_customers+new_with_createdate": None})
    assert (counts.leads, counts.converted) == (4, 2)
    assert (counts.new_customers, counts.new_with_createdate) == (0, 0)  # no row met the first: NULL


def test_milliseconds_between_two_instants_are_exact():
    """SqlFlavour.ms_between subtracts julian days before rounding: the result equals the
    difference of the two instants' epoch milliseconds, from 1 ms to decades apart."""
    conn = sqlite3.connect(":memory:")
    sql = StoreView.open(conn).sql
    rng = random.Random(7)
    base = datetime(1990, 1, 1, tzinfo=timezone.utc)
    moments = [base + timedelta(milliseconds=rng.randrange(0, 60 * 365 * 86_400_000)) for _ in range(2_000)]
    moments += [moments[0] + timedelta(milliseconds=1), moments[0]]
    for later, earlier in zip(moments, reversed(moments)):
        expected = (later - earlier) // timedelta(milliseconds=1)
        got = conn.execute(f"SELECT {sql.ms_between(':a', ':b')}",
                           {"a": format_instant(later), "b": format_instant(earlier)}).fetchone()[0]
        assert got == expected, (later, earlier)
