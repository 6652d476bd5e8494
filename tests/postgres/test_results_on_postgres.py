"""nightly and demo on a PostgreSQL store: snapshots, export and report, and the secrets in none of them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from click.testing import CliRunner

from hubspot_metrics.cli import cli
from hubspot_metrics.metrics import KPI_KEYS
from tests.conftest import PG_SECRET_PASSWORD, pg_rows, psql
from tests.sync.conftest import TOKEN

def test_nightly_snapshots_exports_and_reports_from_postgresql(pg_server, pg_schema, server, tmp_path):
    config = tmp_path / "hubspot-metrics.toml"
    config.write_text(f'[nightly]\nexport_path = "{tmp_path / "kpis.csv"}"\nreport_path = "{tmp_path / "report.html"}"\n'
                      "[hubspot]\nrequests_per_10s = 100000\nsearch_requests_per_second = 1000\n"
                      f'[store]\nschema = "{pg_schema}"\n')
    env = {**os.environ, "HUBSPOT_ACCESS_TOKEN": TOKEN, "HUBSPOT_API_BASE_URL": server.url,
           "HUBSPOT_METRICS_DB": pg_server.password_url, "HUBSPOT_METRICS_CONFIG": str(config)}
    done = subprocess.run([sys.executable, "-m", "hubspot_metrics", "-v", "nightly"], capture_output=True, text=True,
                          env=env, stdin=subprocess.DEVNULL, timeout=180)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("nightly ok: synced ")
    (run_id,), = pg_rows(pg_server.url, f"SELECT id FROM {pg_schema}.sync_runs")
    assert pg_rows(pg_server.url, f"SELECT count(*), count(DISTINCT period), min(sync_run_id), max(sync_run_id) "
                   f"FROM {pg_schema}.kpi_snapshots") == [(4 * len(KPI_KEYS), 4, run_id, run_id)]
    export = (tmp_path / "kpis.csv").read_text()
    assert export.splitlines()[0] == "period,start,end,key,value,n,reason,unit,currency,computed_at,source"
    report = (tmp_path / "report.html").read_text()
    assert report.startswith("<!DOCTYPE html>")
    snapshots = json.dumps(pg_rows(pg_server.url, f"SELECT s::text FROM {pg_schema}.kpi_snapshots s"))
    for secret in (PG_SECRET_PASSWORD, TOKEN):
        for text in (done.stdout, done.stderr, export, report, snapshots):
            assert secret not in text


def test_demo_into_a_postgresql_schema_and_again(pg_server, pg_schema, tmp_path):
    folder = tmp_path / "demo"
    args = ["demo", "--dir", str(folder), "--scale", "300", "--db", pg_server.url, "--schema", pg_schema]
    for _ in range(2):  # the second run replaces the first one's store
        result = CliRunner().invoke(cli, args, env={"HUBSPOT_ACCESS_TOKEN": None})
        assert result.exit_code == 0, result.output
        assert (folder / "report.html").read_text().startswith("<!DOCTYPE html>")
        assert not (folder / "demo.db").exists()
        assert pg_rows(pg_server.url, f"SELECT status FROM {pg_schema}.sync_runs") == [("ok",)]
    assert f"Store: {pg_server.url}, schema {pg_schema} (query it with psql or a BI tool); took " in result.output


def test_the_demo_leaves_a_schema_it_did_not_make_alone(pg_server, pg_schema, tmp_path):
    psql(pg_server, f"CREATE SCHEMA {pg_schema}; CREATE TABLE {pg_schema}.invoices (id int)")
    result = CliRunner().invoke(cli, ["demo", "--dir", str(tmp_path / "demo"), "--scale", "60",
                                      "--db", pg_server.url, "--schema", pg_schema])
    assert (result.exit_code, result.output) == (2, (
        f"Error: Schema {pg_schema} of {pg_server.url} holds tables the demo did not make, and it is left as it is; "
        "give the demo another schema with --schema.\n"))
    assert pg_rows(pg_server.url, "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                   [pg_schema]) == [("invoices",)]
    assert not (tmp_path / "demo").exists()
