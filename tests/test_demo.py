"""`hubspot-metrics demo`: the README's first command works offline with no token."""

import sqlite3
from datetime import datetime, timezone

from click.testing import CliRunner

from hubspot_metrics.cli import _register, cli
from hubspot_metrics.periods import named_period

_register()

TEN_KPIS = ["Customer acquisition cost", "Customer retention rate", "Customer lifetime value",
            "Lead → customer conversion", "Churn rate", "Net Promoter Score", "Customer satisfaction (CSAT)",
            "Average first response", "Average sales cycle", "Pipeline velocity"]


def test_demo_syncs_a_simulated_portal_and_prints_last_months_kpis(tmp_path):
    folder = tmp_path / "demo"
    env = {"HUBSPOT_ACCESS_TOKEN": "pat-na1-real-token-must-be-ignored", "HUBSPOT_API_BASE_URL": "http://127.0.0.1:1"}
    result = CliRunner().invoke(cli, ["demo", "--dir", str(folder), "--scale", "600"], env=env)
    assert result.exit_code == 0, result.output
    label = named_period("last_month", "UTC", datetime.now(timezone.utc)).label
    lines = result.output.splitlines()
    assert f"KPIs for {label}: " in result.output
    rows = [next(line for line in lines if line.startswith(name)) for name in TEN_KPIS]
    assert all("n/a" not in row for row in rows), rows  # every KPI has a value on the demo portal
    assert lines[-3] == f"Report: {(folder / 'report.html').resolve()}"
    assert (folder / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert lines[-2] == f"Store: {folder / 'demo.db'} (query it with sqlite3); took " + lines[-2].split("took ")[1]
    conn = sqlite3.connect(folder / "demo.db")
    assert conn.execute("SELECT count(*) FROM contacts WHERE archived = 0").fetchone()[0] > 500
    assert conn.execute("SELECT status FROM sync_runs").fetchall() == [("ok",)]
    # A second run starts from a fresh store.
    again = CliRunner().invoke(cli, ["demo", "--dir", str(folder), "--scale", "600"], env=env)
    assert again.exit_code == 0
    assert sqlite3.connect(folder / "demo.db").execute("SELECT count(*) FROM sync_runs").fetchone() == (1,)
