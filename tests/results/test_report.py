"""`report`: one self-contained HTML file; HubSpot's text escaped; arrows that mean good or bad."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner

import hubspot_metrics.results.history as history_module
import hubspot_metrics.results.report as report_module
from hubspot_metrics.cli import cli
from hubspot_metrics.config import MetricsSettings
from hubspot_metrics.metrics import KPI_KEYS, KPI_UNITS
from hubspot_metrics.portal import PortalServer, generate_portal
from hubspot_metrics.results.report import build_report
from hubspot_metrics.store import open_store, transaction
from tests.sync.conftest import TOKEN, make_config, run_sync

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
HOSTILE = '<script>alert("x")</script> & \'quotes\' 🚀'


@pytest.fixture(scope="module")
def synced_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "s.db"
    portal = generate_portal(scale=400, seed=11, now=NOW)
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        run_sync(make_config(server, path))
    return path


def test_the_report_loads_nothing_from_anywhere_and_has_its_four_sections(synced_store):
    db = open_store(synced_store, create=False, readonly=True)
    html = build_report(db, MetricsSettings(), NOW)
    db.conn.close()
    lowered = html.lower()
    # No resource can be fetched: no scripts, stylesheets, images, frames, fonts or CSS urls.
    for tag in ("<script", "<link", "<img", "<iframe", "<object", "<embed", "@import", "url(", "src=", "href="):
        assert tag not in lowered, tag
    assert not re.search(r"https?://", html)
    assert re.findall(r"<h2>(.*?)</h2>", html) == [
        "Last closed month against the one before", "Trends over the last 12 months", "Data quality", "Definitions"]
    assert "<h1>CRM KPIs: 2026-10</h1>" in html
    assert '<th class="num">2026-10</th>' in html and '<th class="num">2026-09</th>' in html
    # A comparison row and a definition for every KPI, a 12-month chart for the headline KPIs.
    assert len(re.findall(r"<tr><td>[^<]+</td><td class=\"num\">", html)) == len(KPI_KEYS)
    assert len(re.findall(r"<dt>.*?<code>(\w+)</code></dt>", html)) == len(KPI_KEYS)
    charts = re.findall(r"<svg .*?</svg>", html)
    assert len(charts) >= 10
    assert all(">2025-11</text>" in c and ">2026-10</text>" in c for c in charts)


def _empty_store(tmp_path, currency):
    db = open_store(tmp_path / "s.db")
    with transaction(db) as conn:
        conn.execute("INSERT INTO account (portalId, companyCurrency) VALUES (?, ?)", [123, currency])
    return db


def test_text_from_hubspot_is_escaped(tmp_path):
    db = _empty_store(tmp_path, HOSTILE)
    with transaction(db) as conn:
        conn.execute("INSERT INTO value_issues VALUES ('deals', '1', ?, 'x')", [HOSTILE])
    html = build_report(db, MetricsSettings(), NOW)
    escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#x27;quotes&#x27; 🚀"
    assert HOSTILE not in html and "<script" not in html
    assert f"home currency {escaped}, time zone UTC" in html
    assert f"<tr><td>deals</td><td>{escaped}</td><td class='num'>1</td></tr>" in html


def test_arrows_point_the_way_the_value_moved_and_are_coloured_by_whether_that_is_good(tmp_path, monkeypatch):
    # October against September, per key: (October, September).
    pairs = {"revenue": (150.0, 100.0), "churn_rate": (7.4, 4.0), "cac": (287.36, 333.33), "nps": (43.1, None),
             "win_rate": (50.0, 50.0), "deals_won": (3.0, 5.0)}

    def fake_compute(db, period, settings, now=None):
        slot = 0 if period.label == "2026-10" else 1
        kpis = {k: {"value": pairs[k][slot] if k in pairs else None, "n": 3, "reason": None if k in pairs else "x",
                    "unit": KPI_UNITS[k]} for k in KPI_KEYS}
        return {"period": period.label, "start": "", "end": "", "timezone": "UTC", "warnings": [], "kpis": kpis}

    # the report's months come through history.py, its data-quality warnings straight from compute_kpis
    monkeypatch.setattr(history_module, "compute_kpis", fake_compute)
    monkeypatch.setattr(report_module, "compute_kpis", fake_compute)
    html = build_report(_empty_store(tmp_path, "EUR"), MetricsSettings(), NOW)
    rows = {m.group(1): m.group(0) for m in re.finditer(r"<tr><td>([^<]+)</td>.*?</tr>", html)}

    def row(label, october, september, cell):
        return (f'<tr><td>{label}</td><td class="num">{october}</td><td class="num">{september}</td>'
                f'{cell}<td class="num">3</td></tr>')

    assert rows["Revenue"] == row("Revenue", "150.00 EUR", "100.00 EUR", '<td class="num up">▲</td>')
    assert rows["Churn rate"] == row("Churn rate", "7.4 %", "4.0 %", '<td class="num down">▲</td>')
    assert rows["Customer acquisition cost"] == row(
        "Customer acquisition cost", "287.36 EUR", "333.33 EUR", '<td class="num up">▼</td>')
    assert rows["Deals won"] == row("Deals won", "3", "5", '<td class="num down">▼</td>')
    assert rows["Win rate"] == row("Win rate", "50.0 %", "50.0 %", '<td class="num flat">→</td>')
    assert rows["Net Promoter Score"] == row("Net Promoter Score", "+43.1", "n/a: no value",
                                             '<td class="num flat"></td>')
    assert "No data-quality gaps in this month." in html


def test_the_report_command_writes_the_file(synced_store, tmp_path):
    out = tmp_path / "report.html"
    result = CliRunner().invoke(cli, ["--db", str(synced_store), "report", "--out", str(out)])
    assert (result.exit_code, result.output) == (0, f"wrote {out}\n")
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
    bad = CliRunner().invoke(cli, ["--db", str(synced_store), "report", "--out", str(tmp_path / "no" / "r.html")])
    assert (bad.exit_code, bad.output) == (
        2, f"Error: Cannot write {tmp_path / 'no' / 'r.html'} (No such file or directory); choose another --out path.\n")
