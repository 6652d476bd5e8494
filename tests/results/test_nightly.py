"""`nightly` as cron runs it: a subprocess, one summary line on success, one reason and a
meaningful exit code on failure, and nothing half-written after a failed sync."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from hubspot_metrics.metrics import KPI_KEYS
from hubspot_metrics.periods import named_period
from hubspot_metrics.portal import PortalServer, generate_portal
from hubspot_metrics.sync import SyncLock
from tests.sync.conftest import TOKEN

NIGHTLY = ("month_to_date", "last_month", "last_quarter", "year_to_date")


@pytest.fixture(scope="module")
def portal():
    return generate_portal(scale=300, seed=5)


def nightly(tmp_path, server_url, token=TOKEN, config_extra="", export_path=None):
    """Run `hubspot-metrics nightly` the way cron does: no terminal, environment and a config file."""
    config = tmp_path / "hubspot-metrics.toml"
    export_path = export_path or tmp_path / "kpis.csv"
    config.write_text(f'[nightly]\nexport_path = "{export_path}"\nreport_path = "{tmp_path / "report.html"}"\n'
                      "[hubspot]\nrequests_per_10s = 100000\nsearch_requests_per_second = 1000\n" + config_extra)
    env = {**os.environ, "HUBSPOT_ACCESS_TOKEN": token, "HUBSPOT_API_BASE_URL": server_url,
           "HUBSPOT_METRICS_DB": str(tmp_path / "store.db"), "HUBSPOT_METRICS_CONFIG": str(config)}
    done = subprocess.run([sys.executable, "-m", "hubspot_metrics", "nightly"], capture_output=True, text=True,
                          env=env, stdin=subprocess.DEVNULL, timeout=120)
    return done.returncode, done.stdout, done.stderr


def test_nightly_syncs_snapshots_exports_reports_and_says_so_in_one_line(tmp_path, portal):
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        code, out, err = nightly(tmp_path, server.url)
    assert code == 0, err
    now = datetime.now(timezone.utc)
    labels = ", ".join(named_period(name, "UTC", now).label for name in NIGHTLY)
    conn = sqlite3.connect(tmp_path / "store.db")
    run_id, counts, requests = conn.execute("SELECT id, counts, requests FROM sync_runs").fetchone()
    records = sum(c["written"] for c in json.loads(counts).values())
    assert out == (f"nightly ok: synced {records:,} records in {requests:,} requests (0 retries, 0 rate-limited); "
                   f"snapshotted 4 periods × {len(KPI_KEYS)} KPIs ({labels}); exported {tmp_path / 'kpis.csv'}; "
                   f"report {tmp_path / 'report.html'}\n")
    assert err == ""  # progress stays off stderr: with stdout sent to a log, cron mails only failures
    assert conn.execute("SELECT count(*), count(DISTINCT period), min(sync_run_id), max(sync_run_id), "
                        "min(definition_version) FROM kpi_snapshots").fetchone() == (
        4 * len(KPI_KEYS), 4, run_id, run_id, "kpi-spec-v2")
    csv_lines = (tmp_path / "kpis.csv").read_bytes().split(b"\r\n")
    assert csv_lines[0] == b"period,start,end,key,value,n,reason,unit,currency,computed_at,source"
    assert len(csv_lines) == 1 + 12 * len(KPI_KEYS) + 1
    assert (tmp_path / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_a_night_with_retried_faults_still_prints_nothing_on_stderr(tmp_path, portal):
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        server.faults.configure(rate=0.1, kinds={"5xx", "reset", "truncate"}, seed=11)
        code, out, err = nightly(tmp_path, server.url)
        faults = sum(1 for r in server.request_log if r.fault)
    retries = sqlite3.connect(tmp_path / "store.db").execute("SELECT retries FROM sync_runs").fetchone()[0]
    assert code == 0 and faults > 0 and retries == faults
    assert err == "" and out.startswith("nightly ok: ") and f"({retries} retries, 0 rate-limited)" in out


def _fails_with(code_err, exit_code, message, tmp_path):
    # The reason is the whole output: nothing on stdout, one line on stderr, no traceback.
    assert code_err == (exit_code, "", message + "\n")
    # A failed sync snapshots nothing and overwrites no export or report.
    assert not (tmp_path / "kpis.csv").exists() and not (tmp_path / "report.html").exists()
    if (tmp_path / "store.db").exists():
        assert sqlite3.connect(tmp_path / "store.db").execute("SELECT count(*) FROM kpi_snapshots").fetchone() == (0,)


def test_a_rejected_token_exits_4(tmp_path, portal):
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        result = nightly(tmp_path, server.url, token="pat-na1-00000000-0000-0000-0000-000000000000")
    _fails_with(result, 4, "Error: the HubSpot token was rejected (HTTP 401); create a new private app token or "
                "service key in HubSpot (Settings > Integrations) and set HUBSPOT_ACCESS_TOKEN.", tmp_path)


def test_the_daily_quota_exits_5(tmp_path, portal):
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None, daily_limit=3) as server:
        result = nightly(tmp_path, server.url)
    _fails_with(result, 5, "Error: HubSpot's daily API limit is used up; what was synced so far is kept, and the "
                "next run after midnight (portal time) continues from there.", tmp_path)


def test_faults_past_the_retry_budget_exit_3(tmp_path, portal):
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        server.faults.configure(rate=1.0, kinds={"5xx"})
        result = nightly(tmp_path, server.url, config_extra="max_retries = 0\n")
    _fails_with(result, 3, "Error: HubSpot kept failing on the account details (HTTP 500) after 1 attempts; what was "
                "synced so far is kept, run the sync again later.", tmp_path)


def test_an_unreachable_hubspot_exits_3(tmp_path):
    _fails_with(nightly(tmp_path, "http://127.0.0.1:9"), 3,
                "Error: Cannot reach HubSpot at http://127.0.0.1:9 (NewConnectionError); check "
                "HUBSPOT_API_BASE_URL / [hubspot] base_url and the network.", tmp_path)


def test_a_sync_already_running_exits_6(tmp_path, portal):
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server, \
            SyncLock(str(tmp_path / "store.db")):
        result = nightly(tmp_path, server.url)
    _fails_with(result, 6, f"Error: Another sync is already running on {tmp_path / 'store.db'}; "
                "wait for it to finish.", tmp_path)


def test_an_unwritable_export_path_names_the_setting_to_fix(tmp_path, portal):
    missing = tmp_path / "missing" / "kpis.csv"
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        result = nightly(tmp_path, server.url, export_path=missing)
    assert result == (2, "", f"Error: Cannot write {missing} (No such file or directory); "
                      "choose another [nightly] export_path.\n")
