"""Snapshots, CSV export, HTML report and the nightly job."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from datetime import datetime, timezone

from click.testing import CliRunner

from hubspot_metrics.cli import cli
from hubspot_metrics.config import MetricsSettings
from hubspot_metrics.metrics import DEFINITION_VERSION, KPI_KEYS
from hubspot_metrics.metrics.definition import definition_fingerprint
from hubspot_metrics.periods import closed_periods, measured_up_to, named_period
from hubspot_metrics.portal import PortalServer, generate_portal
from hubspot_metrics.results.export import cell, export_csv
from hubspot_metrics.results.report import build_report
from hubspot_metrics.results.snapshots import COLUMNS, snapshot
from hubspot_metrics.store import open_store

TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


def test_cells_are_unformatted_and_formulas_neutralized():
    assert [cell(v) for v in (None, 2500.0, -40.0, 7, "=SUM(A1)", "+1", "-x", "@cmd", "plain", "a,b \"c\"\nd")] == [
        "", "2500.0", "-40.0", 7, "'=SUM(A1)", "'+1", "'-x", "'@cmd", "plain", "a,b \"c\"\nd"]


def _store_with_snapshots(tmp_path):
    db = open_store(tmp_path / "s.db")
    db.conn.execute("INSERT INTO sync_runs (started_at, status) VALUES ('2026-11-20T00:00:00.000Z', 'ok')")
    return db


def test_export_long_and_wide_exact_bytes(tmp_path):
    db = _store_with_snapshots(tmp_path)
    settings = MetricsSettings()
    months = closed_periods("month", 2, "UTC", NOW)
    rows = []
    for p in months:
        for key in KPI_KEYS:
            rows.append(("2026-11-20", "2026-11-20T12:00:00.000Z", p.label, "month", p.start.isoformat(),
                         p.end.isoformat(), key, -40.0 if key == "nps" else None, 3, "=evil,\"x\"" if key == "cac" else
                         None, "score" if key == "nps" else "count", DEFINITION_VERSION, 1,
                         definition_fingerprint(MetricsSettings(timezone="UTC"), p), p.end.isoformat(), 0))
    db.conn.executemany(f"INSERT INTO kpi_snapshots ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                        rows)
    text = export_csv(db, settings, grain="month", periods=2, now=NOW)
    lines = text.split("\r\n")
    assert lines[0] == "period,start,end,key,value,n,reason,unit,currency,computed_at,source"
    assert lines[1] == ("2026-09,2026-09-01T00:00:00+00:00,2026-10-01T00:00:00+00:00,cac,,3,\"'=evil,\"\"x\"\"\",count,,"
                        "2026-11-20T12:00:00.000Z,snapshot")
    assert ("2026-10,2026-10-01T00:00:00+00:00,2026-11-01T00:00:00+00:00,nps,-40.0,3,,score,,2026-11-20T12:00:00.000Z,"
            "snapshot") in lines
    assert len(lines) == 1 + 2 * len(KPI_KEYS) + 1 and lines[-1] == ""
    wide = export_csv(db, settings, grain="month", periods=2, wide=True, now=NOW).split("\r\n")
    assert wide[0] == "period,start,end,partial,currency,computed_at,source," + ",".join(KPI_KEYS)
    nps_column = 7 + KPI_KEYS.index("nps")
    assert [line.split(",")[nps_column] for line in wide[1:3]] == ["-40.0", "-40.0"]
    assert [line.split(",")[0] for line in wide[1:3]] == ["2026-09", "2026-10"]


def test_snapshots_replace_the_same_day_and_keep_history(tmp_path):
    portal = generate_portal(scale=200, seed=41, now=NOW)
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        from tests.sync.conftest import make_config, run_sync
        config = make_config(server, tmp_path / "s.db")
        run_sync(config)
    db = open_store(tmp_path / "s.db")
    periods = [named_period(n, "UTC", NOW) for n in ("month_to_date", "last_month", "last_quarter", "year_to_date")]
    settings = MetricsSettings(timezone="UTC")  # the portal's own is Europe/Berlin
    assert snapshot(db, periods, settings, NOW) == 4 * len(KPI_KEYS)
    assert snapshot(db, periods, settings, NOW.replace(hour=23)) == 4 * len(KPI_KEYS)  # same day again
    assert snapshot(db, periods, settings, datetime(2026, 11, 21, 8, tzinfo=timezone.utc)) == 4 * len(KPI_KEYS)
    counts = db.conn.execute("SELECT snapshot_date, count(*), count(DISTINCT period), max(sync_run_id), "
                             "min(definition_version) FROM kpi_snapshots GROUP BY 1 ORDER BY 1").fetchall()
    assert counts == [("2026-11-20", 4 * len(KPI_KEYS), 4, 1, "kpi-spec-v2"),
                      ("2026-11-21", 4 * len(KPI_KEYS), 4, 1, "kpi-spec-v2")]
    report = build_report(db, settings, NOW)
    assert not re.search(r"src=[\"']?(https?:)?//", report)  # nothing loads from the network
    # the only addresses are links a reader clicks: records' pages in HubSpot (issue 14)
    assert set(re.findall(r"href=\"(https?://[^/]+/contacts/\d+/record/0-\d+/)\d+\"", report)) == {
        f"https://app-eu1.hubspot.com/contacts/{db.conn.execute('SELECT portalId FROM account').fetchone()[0]}"
        f"/record/{t}/" for t in ("0-1", "0-3", "0-5", "0-19")}
    assert report.count("https://") == len(re.findall(r'href="https://', report))
    assert "<script" not in report.lower()
    assert f"<h1>CRM KPIs: 2026-10</h1>" in report
    # A trend chart per KPI card (the ten and LTV : CAC) but CAC and LTV : CAC: no spend is configured.
    assert report.count("<svg") == 9
    empty = re.findall(r'<p class="empty">No chart: no value in any of these 13 months \((.*?)\)\.</p>', report)
    assert len(empty) == 2 and empty[0] == "spend not configured"
    assert re.fullmatch(r"(spend not configured|no churn|no customers at start) in \d+(, .* in \d+)+", empty[1]), empty


def test_report_escapes_text_and_points_arrows(tmp_path, monkeypatch):
    import hubspot_metrics.results.history as history_module
    import hubspot_metrics.results.report as report_module

    def fake(db, period, settings, now=None):
        period = measured_up_to(period, now)
        value = 10.0 if period.label == "2026-10" else 5.0
        return {"period": period.label, "start": period.start.isoformat(), "end": period.end.isoformat(),
                "as_of": period.until.isoformat(), "partial": period.partial, "timezone": "UTC", "currency": None,
                "warnings": ["<script>x</script> \"q\""],
                "kpis": {k: {"value": value, "n": 1, "reason": None, "unit": "percent"} for k in KPI_KEYS}}

    monkeypatch.setattr(report_module, "compute_kpis", fake)
    monkeypatch.setattr(history_module, "compute_kpis", fake)
    db = open_store(tmp_path / "s.db")
    html = build_report(db, MetricsSettings(), NOW)
    assert "&lt;script&gt;x&lt;/script&gt; &quot;q&quot;" in html and "<script>" not in html
    card = lambda key: re.search(rf'<article class="card" id="kpi-{key}">.*?</article>', html, re.S).group(0)
    assert '<span class="change good"><span class="nowrap">▲ +5.0 pts</span></span>' in card("nps")  # higher is better
    assert '<span class="change bad"><span class="nowrap">▲ +5.0 pts</span></span>' in card("churn_rate")  # worse


def test_nightly_end_to_end_and_its_exit_codes(tmp_path):
    portal = generate_portal(scale=200, seed=42, now=NOW)
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        config = tmp_path / "c.toml"
        config.write_text(f'[nightly]\nexport_path = "{tmp_path / "k.csv"}"\nreport_path = "{tmp_path / "r.html"}"\n'
                          "[hubspot]\nrequests_per_10s = 100000\nsearch_requests_per_second = 1000\n")
        env = {"HUBSPOT_ACCESS_TOKEN": TOKEN, "HUBSPOT_API_BASE_URL": server.url,
               "HUBSPOT_METRICS_DB": str(tmp_path / "s.db"), "HUBSPOT_METRICS_CONFIG": str(config)}
        import os
        done = subprocess.run([sys.executable, "-m", "hubspot_metrics", "nightly"], capture_output=True,
                              env={**os.environ, **env})
        assert done.returncode == 0, done.stderr.decode()
        summary = done.stdout.decode().strip().splitlines()
        assert len(summary) == 1 and re.fullmatch(
            r"nightly ok: synced [\d,]+ records in [\d,]+ requests \(0 retries, 0 rate-limited\); snapshotted 4 periods"
            rf" × {len(KPI_KEYS)} KPIs \(.*\); exported .*k\.csv; report .*r\.html", summary[0]), summary
        assert (tmp_path / "k.csv").read_text().startswith(
            "period,start,end,key,value,n,reason,unit,currency,computed_at,source")
        bad = subprocess.run([sys.executable, "-m", "hubspot_metrics", "nightly"], capture_output=True,
                             env={**os.environ, **env, "HUBSPOT_ACCESS_TOKEN": "pat-na1-bad"})
        assert bad.returncode == 4
        assert bad.stderr.decode().strip().splitlines() == [
            "Error: the HubSpot token was rejected (HTTP 401); create a new private app token or service key in "
            "HubSpot (Settings > Integrations) and set HUBSPOT_ACCESS_TOKEN."]
    rows = sqlite3.connect(tmp_path / "s.db").execute("SELECT count(*) FROM kpi_snapshots").fetchone()
    assert rows == (4 * len(KPI_KEYS),)
