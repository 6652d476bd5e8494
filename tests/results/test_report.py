"""`report`: a summary first, the KPIs as grouped cards with their numbers, supporting metrics
grouped below; one self-contained file; HubSpot's text escaped; colour that means good or bad."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

import hubspot_metrics.results.history as history_module
import hubspot_metrics.results.report as report_module
from hubspot_metrics.cli import cli
from hubspot_metrics.config import MetricsSettings
from hubspot_metrics.metrics import KPI_KEYS, KPI_UNITS, LABELS, complete_to
from hubspot_metrics.periods import measured_up_to
from hubspot_metrics.portal import PortalServer, generate_portal
from hubspot_metrics.results.report import Comparison, build_report, compare_kpi, gather_history, largest_moves
from hubspot_metrics.store import open_store, transaction
from tests.sync.conftest import TOKEN, make_config, run_sync

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
HOSTILE = '<script>alert("x")</script> & \'quotes\' 🚀'
ESCAPED = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#x27;quotes&#x27; 🚀"
CARDS = ["cac", "conversion_rate", "ltv_to_cac", "customer_retention_rate", "churn_rate", "customer_lifetime_value",
         "avg_sales_cycle_days", "pipeline_velocity", "nps", "csat", "avg_first_response_hours"]


@pytest.fixture(scope="module")
def synced_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "s.db"
    portal = generate_portal(scale=400, seed=11, now=NOW)
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        run_sync(make_config(server, path))
    return path


def test_the_report_loads_nothing_from_anywhere_and_opens_with_its_summary(synced_store):
    db = open_store(synced_store, create=False, readonly=True)
    html = build_report(db, MetricsSettings(), NOW)
    portal_id, = db.conn.execute("SELECT portalId FROM account").fetchone()
    ended, = db.conn.execute("SELECT ended_at FROM sync_runs WHERE status = 'ok'").fetchone()
    db.conn.close()
    lowered = html.lower()
    # No resource can be fetched: no scripts, stylesheets, images, frames, fonts or CSS urls.
    for tag in ("<script", "<link", "<img", "<iframe", "<object", "<embed", "@import", "url(", "src="):
        assert tag not in lowered, tag
    # The only links (issue 14): to a section of the page, or to a record's page in HubSpot.
    links = re.findall(r'<a (?:class="evidence" )?href="([^"]*)"', html)
    assert html.count("href=") == len(links) > 0
    record = rf"https://app-eu1\.hubspot\.com/contacts/{portal_id}/record/0-(1|2|3|5|19)/\d+"
    assert all(re.fullmatch(r"#behind-\w+", link) or re.fullmatch(record, link) for link in links), links
    assert len(re.findall(r"https?://", html)) == sum(not link.startswith("#") for link in links)
    assert "<h1>CRM KPIs: 2026-10</h1>" in html
    # NOW is the instant the store is complete to: the open month is measured up to it, and
    # every moment is shown in the portal's own zone (Berlin, an hour ahead of UTC in November).
    berlin = ZoneInfo("Europe/Berlin")
    last_sync = datetime.fromisoformat(ended.replace("Z", "+00:00")).astimezone(berlin).strftime("%Y-%m-%d %H:%M")
    assert re.search(r"<dl>.*?</dl>", html, re.S).group(0) == (
        "<dl>\n"
        "<dt>Period</dt><dd>2026-10 (2026-10-01 00:00 to 2026-11-01 00:00), closed, against 2026-09</dd>\n"
        "<dt>Open month</dt><dd>2026-11, as of 2026-11-20 13:00 (shown hollow and dashed in the charts)</dd>\n"
        f"<dt>Portal</dt><dd>{portal_id}, home currency EUR</dd>\n"
        "<dt>Time zone</dt><dd>Europe/Berlin, the portal's own</dd>\n"
        f"<dt>Last sync</dt><dd>{last_sync} (Europe/Berlin)</dd>\n"
        "<dt>History</dt><dd>0 of 12 closed months from snapshots, the others computed now</dd>\n"
        "</dl>")
    assert len(re.findall(r'<ol class="moves">\n(?:<li>.*?</li>\n){3}</ol>', html)) == 1
    assert re.findall(r"<h2>(.*?)</h2>", html) == ["The ten KPIs", "Supporting metrics", "Behind the numbers",
                                                   "Data quality", "Fix in HubSpot", "Definitions"]
    assert re.findall(r"<h3>(.*?)</h3>", html) == ["Acquisition", "Retention and value", "Sales", "Service"]
    assert re.findall(r'<article class="card" id="kpi-(\w+)">', html) == CARDS
    assert re.findall(r'<tbody>\n<tr><th colspan="5">(.*?)</th></tr>', html) == [
        "Acquisition", "Retention and value", "Sales", "Service"]
    supporting = re.findall(r'<tr><td>([^<]*)</td><td class="num" data-label', html)
    assert supporting == [LABELS[k] for k in (
        "leads", "new_customers", "spend", "lead_to_customer_days", "customers_at_start", "customers_retained",
        "active_customers", "paying_customers", "revenue_per_customer", "arpa", "monthly_churn_rate", "revenue",
        "revenue_per_day", "deals_won", "deals_lost", "win_rate", "avg_deal_size", "new_deals",
        "open_deals_at_start", "median_sales_cycle_days", "deal_throughput", "pipeline_speed", "open_deals",
        "open_pipeline_value", "nps_responses", "csat_responses", "tickets_created", "tickets_unanswered",
        "median_first_response_hours")]
    assert len(supporting) + len(CARDS) == len(KPI_KEYS)  # every KPI once: a card or a row
    assert len(re.findall(r"<dt>.*?<code>(\w+)</code></dt>", html)) == len(KPI_KEYS)
    # A chart per card but CAC and LTV : CAC (no spend configured): 12 closed months and the open one.
    charts = re.findall(r'<svg class="chart".*?</svg>', html, re.S)
    assert len(charts) == 9
    for chart in charts:
        assert re.findall(r'class="axis x-label" text-anchor="middle">(.*?)</text>', chart) == [
            "Nov 25", "Feb", "May", "Aug", "Nov"]
        assert len(re.findall(r'class="axis y-label"', chart)) == 3
        # The open month: a hollow point (a hollow triangle when beyond the scale) on a dashed step.
        series = chart.count('<g class="series')  # velocity is drawn with revenue per day
        assert len(re.findall(r'class="point[^"]* open"', chart)) == series == chart.count('class="dashed"')


def _store(tmp_path, currency="EUR", zone="Europe/Berlin"):
    db = open_store(tmp_path / "s.db")
    with transaction(db) as conn:
        conn.execute("INSERT INTO account (portalId, timeZone, companyCurrency) VALUES (?, ?, ?)",
                     [123, zone, currency])
    return db


def test_text_from_hubspot_is_escaped(tmp_path):
    db = _store(tmp_path, HOSTILE, HOSTILE)
    with transaction(db) as conn:
        conn.execute("INSERT INTO value_issues VALUES ('deals', '1', ?, 'x')", [HOSTILE])
    html = build_report(db, MetricsSettings(timezone="UTC"), NOW)  # the portal's "zone" is no zone at all
    assert HOSTILE not in html and "<script" not in html
    # v2 reads the home currency as an upper-case code.
    assert ("<dt>Portal</dt><dd>123, home currency &lt;SCRIPT&gt;ALERT(&quot;X&quot;)&lt;/SCRIPT&gt; &amp; "
            "&#x27;QUOTES&#x27; 🚀</dd>") in html
    assert f"<dd>UTC (the portal's own zone is {ESCAPED})</dd>" in html
    assert f'<tr><td>deals</td><td>{ESCAPED}</td><td class="num">1</td></tr>' in html


# (October, September) per key; every other key has no value.
PAIRS = {"revenue": (3100.0, 100.0), "churn_rate": (7.4, 4.0), "cac": (287.36, 333.33), "nps": (43.1, None),
         "conversion_rate": (12.0, 10.0), "csat": (80.0, 80.0), "win_rate": (50.0, 50.0), "deals_won": (3.0, 5.0),
         "spend": (2000.0, 1000.0), "pipeline_velocity": (130.0, 100.0), "revenue_per_day": (100.0, 3.333333),
         "arpa": (1250.5, 1200.0)}


@pytest.fixture
def faked(monkeypatch):
    def fake_compute(db, period, settings, now=None):
        period = measured_up_to(period, now)
        slot = {"2026-10": 0, "2026-09": 1}.get(period.label)
        kpis = {k: {"value": PAIRS[k][slot] if k in PAIRS and slot is not None else None, "n": 3,
                    "reason": None if k in PAIRS and slot is not None else "no_won_deals", "unit": KPI_UNITS[k]}
                for k in KPI_KEYS}
        return {"period": period.label, "start": period.start.isoformat(), "end": period.end.isoformat(),
                "as_of": period.until.isoformat(), "partial": period.partial, "timezone": settings.timezone,
                "currency": "EUR", "warnings": [], "kpis": kpis}

    # the report's months come through history.py, its data-quality warnings straight from compute_kpis
    monkeypatch.setattr(history_module, "compute_kpis", fake_compute)
    monkeypatch.setattr(report_module, "compute_kpis", fake_compute)


def test_each_kpi_shows_both_values_and_the_change_coloured_by_what_it_means(tmp_path, faked):
    html = build_report(_store(tmp_path), MetricsSettings(), NOW)
    rows = {m.group(1): m.group(0) for m in re.finditer(r"<tr><td>([^<]+)</td>.*?</tr>", html)}

    def row(label, october, september, change, n=3):
        return (f'<tr><td>{label}</td><td class="num" data-label="2026-10">{october}</td>'
                f'<td class="num" data-label="2026-09">{september}</td><td class="num" data-label="Change">{change}</td>'
                f'<td class="num" data-label="n">{n}</td></tr>')

    assert rows["Revenue"] == row("Revenue", "3,100.00 EUR", "100.00 EUR", '<span class="change good"><span class='
                                  '"nowrap">▲ +3,000.00 EUR</span> <span class="nowrap">(+3000.0 %)</span></span>')
    # Counts and spend are grey whichever way they move; a rate moves in points, with no per cent.
    assert rows["Deals won"] == row("Deals won", "3", "5", '<span class="change neutral"><span class="nowrap">▼ -2'
                                    '</span> <span class="nowrap">(-40.0 %)</span></span>')
    assert rows["Sales and marketing spend"] == row(
        "Sales and marketing spend", "2,000.00 EUR", "1,000.00 EUR", '<span class="change neutral"><span class='
        '"nowrap">▲ +1,000.00 EUR</span> <span class="nowrap">(+100.0 %)</span></span>')
    assert rows["Win rate"] == row("Win rate", "50.0 %", "50.0 %",
                                   '<span class="change neutral"><span class="nowrap">= +0.0 pts</span></span>')
    # ARPA is money per active customer per month.
    assert rows["Revenue per active customer (ARPA)"] == row(
        "Revenue per active customer (ARPA)", "1,250.50 EUR/month", "1,200.00 EUR/month", '<span class="change good"><span '
        'class="nowrap">▲ +50.50 EUR/month</span> <span class="nowrap">(+4.2 %)</span></span>')
    assert rows["Leads"] == row("Leads", "n/a: no won deals", "n/a: no won deals",
                                '<span class="change none">no comparison</span>')

    card = lambda key: re.search(rf'<article class="card" id="kpi-{key}">.*?</article>', html, re.S).group(0)
    assert ('<div class="value">7.4 %</div>\n<div class="facts">\n<span>2026-09: 4.0 %</span>\n'
            '<span><span class="change bad"><span class="nowrap">▲ +3.4 pts</span></span></span>') in card("churn_rate")
    assert ('<span>2026-09: 333.33 EUR</span>\n<span><span class="change good"><span class="nowrap">▼ -45.97 EUR'
            '</span> <span class="nowrap">(-13.8 %)</span></span></span>') in card("cac")
    assert '<span>2026-09: n/a: no value</span>\n<span><span class="change none">no comparison</span>' in card("nps")
    # No value in any month, the open one included: no chart, the reason instead.
    assert ('<p class="empty">No chart: no value in any of these 13 months (no won deals).</p>'
            in card("ltv_to_cac"))
    # Velocity stands beside the revenue actually won per day (3,100 EUR over October's 31 days).
    assert ("<br><span>Actual revenue per day: 100.00 EUR/day</span>\n<span>2026-09: 3.33 EUR/day</span> "
            '<span><span class="change good"><span class="nowrap">▲ +96.67 EUR/day</span> '
            '<span class="nowrap">(+2900.0 %)</span></span></span>') in card("pipeline_velocity")
    # The three largest moves of the ten KPIs (revenue is not one of them), each with its numbers.
    assert re.search(r'<ol class="moves">.*?</ol>', html, re.S).group(0) == (
        '<ol class="moves">\n'
        '<li><span class="bad">Churn rate: 4.0 % → 7.4 %, ▲ +3.4 pts</span> '
        '<a class="evidence" href="#behind-churn_rate">behind this number</a></li>\n'
        '<li><span class="good">Pipeline velocity: 100.00 EUR/day → 130.00 EUR/day, ▲ +30.00 EUR/day (+30.0 %)'
        '</span> <a class="evidence" href="#behind-pipeline_velocity">behind this number</a></li>\n'
        '<li><span class="good">Lead → customer conversion: 10.0 % → 12.0 %, ▲ +2.0 pts</span> '
        '<a class="evidence" href="#behind-conversion_rate">behind this number</a></li>\n'
        '</ol>')
    assert "No data-quality gaps in this month." in html
    # Colour is explained on the page itself.
    assert '<span class="good">green is good news</span> and <span class="bad">red is bad news</span>' in html


def test_comparisons_in_numbers():
    kpi = lambda key, value: {"value": value, "n": 4, "reason": None if value is not None else "no_responses",
                              "unit": KPI_UNITS[key]}
    assert compare_kpi("nps", kpi("nps", -10.0), kpi("nps", -30.0), "EUR") == Comparison(
        "nps", "Net Promoter Score", "score", "-10.0", "-30.0", "+20.0", "", "▲", "good", 4, 20.0 / 30.0)
    assert compare_kpi("avg_first_response_hours", kpi("avg_first_response_hours", 6.0),
                       kpi("avg_first_response_hours", 4.0), None) == Comparison(
        "avg_first_response_hours", "Average first response", "hours", "6.00 h", "4.00 h", "+2.00 h", "+50.0 %",
        "▲", "bad", 4, 0.5)
    # A previous value of 0 has no relative change, but the move still counts.
    grew = compare_kpi("ltv_to_cac", kpi("ltv_to_cac", 2.0), kpi("ltv_to_cac", 0.0), None)
    assert (grew.change, grew.relative, grew.tone) == ("+2.00", "", "good")
    missing = compare_kpi("csat", kpi("csat", None), kpi("csat", 80.0), None)
    assert (missing.current, missing.previous, missing.change, missing.arrow, missing.tone) == (
        "n/a: no responses", "80.0 %", "", "", "none")
    assert [c.key for c in largest_moves([missing, grew, compare_kpi("csat", kpi("csat", 81.0), kpi("csat", 80.0),
                                                                     None)])] == ["ltv_to_cac", "csat"]


def _sync(db, started, status="ok"):
    with transaction(db) as conn:
        conn.execute("INSERT INTO sync_runs (started_at, ended_at, status) VALUES (?, ?, ?)",
                     [started, started, status])


def test_the_open_month_is_measured_up_to_the_start_of_the_last_completed_sync(tmp_path):
    db = _store(tmp_path)
    settings = MetricsSettings(timezone="Europe/Berlin")
    _sync(db, "2026-10-31T23:00:00.000Z")  # midnight in Berlin: November has not begun to be measured
    history = gather_history(db, settings, complete_to(db))
    assert (history.closed[-1]["period"], history.open) == ("2026-10", None)
    _sync(db, "2026-11-18T06:00:00.000Z")
    _sync(db, "2026-11-19T06:00:00.000Z", "error")
    history = gather_history(db, settings, complete_to(db))
    assert [r["period"] for r in history.closed] == [
        "2025-11", "2025-12", "2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06", "2026-07", "2026-08",
        "2026-09", "2026-10"]
    assert {k: history.open[k] for k in ("period", "start", "end", "partial", "as_of", "source")} == {
        "period": "2026-11", "start": "2026-11-01T00:00:00+01:00", "end": "2026-12-01T00:00:00+01:00",
        "partial": True, "as_of": "2026-11-18T07:00:00+01:00", "source": "computed"}
    html = build_report(db, MetricsSettings())  # the portal's zone, measured up to the last completed sync
    assert ("<dt>Open month</dt><dd>2026-11, as of 2026-11-18 07:00 (shown hollow and dashed in the charts)</dd>"
            in html)


def test_the_report_command_writes_the_file(synced_store, tmp_path):
    out = tmp_path / "report.html"
    result = CliRunner().invoke(cli, ["--db", str(synced_store), "report", "--out", str(out)])
    assert (result.exit_code, result.output) == (0, f"wrote {out}\n")
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
    bad = CliRunner().invoke(cli, ["--db", str(synced_store), "report", "--out", str(tmp_path / "no" / "r.html")])
    assert (bad.exit_code, bad.output) == (
        2, f"Error: Cannot write {tmp_path / 'no' / 'r.html'} (No such file or directory); choose another --out path.\n")
