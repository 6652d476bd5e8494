"""`kpi_snapshots`: one row per (local day, period, KPI); a day's re-run replaces, history stays."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from hubspot_metrics.config import MetricsSettings
from hubspot_metrics.metrics import KPI_KEYS, compute_kpis
from hubspot_metrics.periods import closed_periods, named_period
from hubspot_metrics.portal import PortalServer, generate_portal
from hubspot_metrics.metrics.definition import definition_fingerprint
from hubspot_metrics.metrics.render import format_value
from hubspot_metrics.results.export import export_csv
from hubspot_metrics.results.report import build_report
from hubspot_metrics.results.snapshots import snapshot
from hubspot_metrics.store import open_store
from tests.sync.conftest import TOKEN, make_config, run_sync

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
NIGHTLY = ("month_to_date", "last_month", "last_quarter", "year_to_date")


@pytest.fixture
def synced(tmp_path):
    """A small simulated portal synced over sockets; yields (portal, server, config, db)."""
    portal = generate_portal(scale=300, seed=7, now=NOW)
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        config = make_config(server, tmp_path / "s.db")
        run_sync(config)
        db = open_store(config.store_path)
        yield portal, server, config, db
        db.conn.close()


def _rows(db, day=None):
    sql = ("SELECT snapshot_date, computed_at, period, grain, start, [end], key, value, n, reason, unit, "
           "definition_version, sync_run_id FROM kpi_snapshots")
    args = []
    if day:
        sql, args = sql + " WHERE snapshot_date = ?", [day]
    return db.conn.execute(sql + " ORDER BY snapshot_date, period, key", args).fetchall()


def test_a_snapshot_holds_exactly_what_compute_kpis_returned_with_its_provenance(synced):
    _, _, _, db = synced
    settings = MetricsSettings(timezone="America/New_York")
    # 03:00 UTC on the 21st is still the evening of the 20th in New York: that is the snapshot day.
    moment = datetime(2026, 11, 21, 3, 0, tzinfo=timezone.utc)
    october = named_period("last_month", settings.timezone, moment)
    assert snapshot(db, [october], settings, moment) == len(KPI_KEYS)

    kpis = compute_kpis(db, october, settings, now=moment)
    assert _rows(db) == sorted(
        ("2026-11-20", "2026-11-21T03:00:00.000Z", "2026-10", "month", "2026-10-01T00:00:00-04:00",
         "2026-11-01T00:00:00-04:00", key, k["value"], k["n"], k["reason"], k["unit"], "kpi-spec-v2", 1)
        for key, k in kpis["kpis"].items())
    # what the values meant, and how far they measured
    assert db.conn.execute("SELECT DISTINCT definition, as_of, partial FROM kpi_snapshots").fetchall() == [
        (definition_fingerprint(settings, october), "2026-11-01T00:00:00-04:00", 0)]
    assert sum(r[7] is not None for r in _rows(db)) > 20  # a real portal: most KPIs have values


def test_rerunning_a_day_replaces_it_and_earlier_days_keep_what_hubspot_said_then(synced):
    portal, server, config, db = synced
    settings = MetricsSettings(timezone="UTC")
    periods = [named_period(name, "UTC", NOW) for name in NIGHTLY]
    assert [p.label for p in periods] == ["2026-11-MTD", "2026-10", "2026-Q3", "2026-YTD"]
    assert snapshot(db, periods, settings, NOW - timedelta(hours=4)) == 4 * len(KPI_KEYS)
    first_run = _rows(db, "2026-11-20")
    assert snapshot(db, periods, settings, NOW) == 4 * len(KPI_KEYS)  # cron retried the same day
    day_one = _rows(db, "2026-11-20")
    assert len(day_one) == 4 * len(KPI_KEYS)
    assert {r[1] for r in day_one} == {"2026-11-20T12:00:00.000Z"}
    closed = lambda rows: [r[:1] + r[2:] for r in rows if r[2] in ("2026-10", "2026-Q3")]
    assert closed(day_one) == closed(first_run)  # same data, same values
    # The open month and year were measured 4 hours further the second time.
    assert db.conn.execute("SELECT DISTINCT period, as_of, partial FROM kpi_snapshots ORDER BY 1").fetchall() == [
        ("2026-10", "2026-11-01T00:00:00+00:00", 0), ("2026-11-MTD", "2026-11-20T12:00:00+00:00", 1),
        ("2026-Q3", "2026-10-01T00:00:00+00:00", 0), ("2026-YTD", "2026-11-20T12:00:00+00:00", 1)]

    # Overnight somebody corrects a deal won in October to 1,000,000 in HubSpot.
    october = closed_periods("month", 1, "UTC", NOW)[0]
    won_in_october = next(r for r in portal.records("deals") if r["properties"].get("hs_is_closed_won") == "true"
                          and (r["properties"].get("closedate") or "").startswith("2026-10"))
    before = compute_kpis(db, october, settings)["kpis"]["revenue"]["value"]
    old_amount = float(won_in_october["properties"]["amount_in_home_currency"])
    portal.advance_clock(hours=1)
    portal.update("deals", won_in_october["id"], {"amount": "1000000", "amount_in_home_currency": "1000000"})
    portal.advance_clock(hours=1)
    result, _ = run_sync(config)
    assert result.run_id == 2
    after = compute_kpis(db, october, settings)["kpis"]["revenue"]["value"]
    assert after == pytest.approx(before - old_amount + 1_000_000)

    assert snapshot(db, periods, settings, NOW + timedelta(days=1)) == 4 * len(KPI_KEYS)
    assert _rows(db, "2026-11-20") == day_one  # history is not rewritten by the edit
    revenue = db.conn.execute("SELECT snapshot_date, value, sync_run_id FROM kpi_snapshots "
                              "WHERE period = '2026-10' AND key = 'revenue' ORDER BY 1").fetchall()
    assert revenue == [("2026-11-20", before, 1), ("2026-11-21", after, 2)]
    # The export reads the newest snapshot of each period.
    n = compute_kpis(db, october, settings)["kpis"]["revenue"]["n"]
    lines = export_csv(db, settings, periods=1, now=NOW + timedelta(days=2)).split("\r\n")
    assert (f"2026-10,2026-10-01T00:00:00+00:00,2026-11-01T00:00:00+00:00,revenue,{after!r},{n},,currency,EUR,"
            "2026-11-21T12:00:00.000Z,snapshot") in lines


def test_export_and_report_read_one_history_and_a_definition_change_recomputes(synced):
    _, _, _, db = synced
    settings = MetricsSettings(timezone="UTC")
    october = closed_periods("month", 1, "UTC", NOW)[0]
    snapshot(db, [october], settings, NOW)
    # Later the store changes (a deal won in October is re-priced): history keeps the snapshot.
    before = compute_kpis(db, october, settings, now=NOW)["kpis"]["revenue"]
    db.conn.execute("UPDATE deals SET amount_in_home_currency = amount_in_home_currency + 1000 WHERE id = ("
                    "SELECT id FROM deals WHERE hs_is_closed_won = 1 AND closedate LIKE '2026-10-%' "
                    "AND amount_in_home_currency IS NOT NULL LIMIT 1)")
    db.conn.commit()
    assert compute_kpis(db, october, settings, now=NOW)["kpis"]["revenue"]["value"] == before["value"] + 1000

    def exported(settings):
        rows = export_csv(db, settings, periods=1, now=NOW).split("\r\n")[1:-1]
        return {r.split(",")[3]: r.split(",") for r in rows}

    rows = exported(settings)
    assert (rows["revenue"][4], rows["revenue"][-1]) == (repr(before["value"]), "snapshot")
    def reported_revenue(settings):
        report = build_report(db, settings, NOW)
        return re.search(r'<tr><td>Revenue</td><td class="num" data-label="2026-10">(.*?)</td>', report).group(1), report

    shown, report = reported_revenue(settings)
    assert shown == format_value(before["value"], "currency", "EUR")
    assert "<dt>History</dt><dd>1 of 12 closed months from snapshots, the others computed now</dd>" in report

    # Another gross margin is another definition: the month is computed again, with today's data.
    halved = MetricsSettings(timezone="UTC", gross_margin=0.5)
    rows = exported(halved)
    assert (rows["revenue"][4], rows["revenue"][-1]) == (repr(before["value"] + 1000), "computed")
    assert reported_revenue(halved)[0] == format_value(before["value"] + 1000, "currency", "EUR")
    clv = compute_kpis(db, october, halved, now=NOW)["kpis"]["customer_lifetime_value"]["value"]
    assert rows["customer_lifetime_value"][4] == repr(clv)
