"""`kpis`, `export`, `report` and `nightly` through the CLI on a postgresql:// store: each prints
and writes exactly what it does on a SQLite store synced from the same portal."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import pytest
from click.testing import CliRunner

from hubspot_metrics.cli import cli
from hubspot_metrics.metrics import KPI_KEYS
from hubspot_metrics.portal import PortalServer, generate_portal
from tests.conftest import pg_rows, psql
from tests.postgres.conftest import pg_config
from tests.sync.conftest import TOKEN, make_config, run_sync


@pytest.fixture(scope="module")
def portal():
    # Generated as of the real clock, so that the running month and year have data too.
    return generate_portal(scale=300, seed=23)


@pytest.fixture(scope="module")
def twins(pg_server, portal, tmp_path_factory):
    """A SQLite store and a PostgreSQL schema synced from the same portal, as (folder, schema).

    The two syncs start a moment apart; the PostgreSQL run is given the SQLite run's times, so
    that both stores are complete to the same instant (the `now` of every command)."""
    folder = tmp_path_factory.mktemp("twins")
    schema = f"cli{os.getpid()}_{folder.name}"  # one per module that uses the fixture (twins0, twins1, ...)
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        assert run_sync(make_config(server, folder / "store.db"))[0].status == "ok"
        assert run_sync(pg_config(server, pg_server, schema))[0].status == "ok"
    conn = sqlite3.connect(folder / "store.db")
    started, ended = conn.execute("SELECT started_at, ended_at FROM sync_runs WHERE status = 'ok'").fetchone()
    conn.close()
    psql(pg_server, f"UPDATE {schema}.sync_runs SET started_at = '{started}', ended_at = '{ended}'")
    return folder, schema


def config_file(folder, schema: str | None, extra: str = "") -> str:
    path = folder / f"config-{schema or 'sqlite'}.toml"
    path.write_text((f'[store]\nschema = "{schema}"\n' if schema else "") + extra, encoding="utf-8")
    return str(path)


def on_both(pg_server, twins, *args):
    """The CLI's (exit code, output) on the SQLite store, then on the PostgreSQL one."""
    folder, schema = twins
    results = []
    for db, chosen in ((str(folder / "store.db"), None), (pg_server.url, schema)):
        env = {"HUBSPOT_METRICS_DB": db, "HUBSPOT_METRICS_CONFIG": config_file(folder, chosen)}
        result = CliRunner().invoke(cli, list(args), env=env)
        results.append((result.exit_code, result.output))
    return results


@pytest.mark.parametrize("args", [
    ("--period", "last_month", "--format", "json"),
    ("--period", "month_to_date", "--format", "json"),
    ("--period", "last_quarter", "--format", "csv", "--by", "owner"),
    ("--period", "year_to_date", "--format", "table", "--compare"),
], ids=["closed-month-json", "open-month-json", "quarter-by-owner-csv", "open-year-table-compare"])
def test_kpis_on_postgresql_prints_what_it_prints_on_sqlite(pg_server, twins, args):
    on_sqlite, on_postgres = on_both(pg_server, twins, "kpis", *args)
    assert on_sqlite[0] == 0, on_sqlite[1]
    assert on_postgres == on_sqlite
    if args[-1] == "json":
        result = json.loads(on_sqlite[1])
        assert result["partial"] is (args[1] == "month_to_date")
        assert sum(1 for k in result["kpis"].values() if k["value"] is not None) > 15


@pytest.mark.parametrize("wide", [False, True], ids=["long", "wide"])
def test_export_on_postgresql_writes_the_file_it_writes_on_sqlite(pg_server, twins, tmp_path, wide):
    files = [tmp_path / "sqlite.csv", tmp_path / "postgres.csv"]
    folder, schema = twins
    outputs = []
    for out, (db, chosen) in zip(files, ((str(folder / "store.db"), None), (pg_server.url, schema))):
        env = {"HUBSPOT_METRICS_DB": db, "HUBSPOT_METRICS_CONFIG": config_file(folder, chosen)}
        result = CliRunner().invoke(cli, ["export", "--out", str(out), "--periods", "6", *(["--wide"] * wide)], env=env)
        outputs.append((result.exit_code, result.output.replace(str(out), "OUT")))
    assert outputs[1] == outputs[0] == (0, f"wrote OUT: 6 months, {'wide' if wide else 'long'} format; "
                                           "0 from snapshots, 6 computed now\n")
    assert files[1].read_bytes() == files[0].read_bytes()
    assert len(files[0].read_bytes().split(b"\r\n")) == 1 + 6 * (1 if wide else len(KPI_KEYS)) + 1


def test_report_on_postgresql_writes_the_page_it_writes_on_sqlite(pg_server, twins, tmp_path):
    folder, schema = twins
    pages = []
    for name, db, chosen in (("sqlite", str(folder / "store.db"), None), ("postgres", pg_server.url, schema)):
        out = tmp_path / f"{name}.html"
        env = {"HUBSPOT_METRICS_DB": db, "HUBSPOT_METRICS_CONFIG": config_file(folder, chosen)}
        result = CliRunner().invoke(cli, ["report", "--out", str(out)], env=env)
        assert (result.exit_code, result.output) == (0, f"wrote {out}\n")
        pages.append(out.read_text(encoding="utf-8"))
    assert pages[1] == pages[0]
    assert "<h2>Data quality</h2>" in pages[0] and len(pages[0]) > 20_000


def nightly(folder, server_url: str, db: str, schema: str | None):
    folder.mkdir(exist_ok=True)
    config = config_file(folder, schema, f'[nightly]\nexport_path = "{folder / "kpis.csv"}"\n'
                                         f'report_path = "{folder / "report.html"}"\n'
                                         "[hubspot]\nrequests_per_10s = 100000\nsearch_requests_per_second = 1000\n")
    env = {**os.environ, "HUBSPOT_ACCESS_TOKEN": TOKEN, "HUBSPOT_API_BASE_URL": server_url,
           "HUBSPOT_METRICS_DB": db, "HUBSPOT_METRICS_CONFIG": config}
    done = subprocess.run([sys.executable, "-m", "hubspot_metrics", "nightly"], capture_output=True, text=True,
                          env=env, stdin=subprocess.DEVNULL, timeout=180)
    return done.returncode, done.stdout, done.stderr


SNAPSHOT_VALUES = "SELECT period, grain, key, value, n, reason, unit, definition FROM {schema}kpi_snapshots"


def test_nightly_on_postgresql_syncs_snapshots_exports_and_reports_as_on_sqlite(pg_server, portal, tmp_path):
    schema = f"nightly{os.getpid()}"
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        on_sqlite = nightly(tmp_path / "sqlite", server.url, str(tmp_path / "sqlite" / "store.db"), None)
        on_postgres = nightly(tmp_path / "postgres", server.url, pg_server.url, schema)
    assert on_sqlite[0] == 0, on_sqlite[2]
    assert on_postgres[0] == 0, on_postgres[2]
    assert on_postgres[2] == ""

    def summary(outcome, folder):
        return outcome[1].replace(str(folder), "FOLDER")
    assert summary(on_postgres, tmp_path / "postgres") == summary(on_sqlite, tmp_path / "sqlite")
    assert on_postgres[1].startswith("nightly ok: synced ") and f"× {len(KPI_KEYS)} KPIs" in on_postgres[1]

    conn = sqlite3.connect(tmp_path / "sqlite" / "store.db")
    expected = sorted(conn.execute(SNAPSHOT_VALUES.format(schema="")).fetchall())
    conn.close()
    assert len(expected) == 4 * len(KPI_KEYS)
    actual = sorted(pg_rows(pg_server.url, SNAPSHOT_VALUES.format(schema=f"{schema}.")))
    # Closed periods are equal to the last digit; the open ones (grain "range": month and year to
    # date) are measured up to each run's own start, so only their keys, n and reasons must agree.
    assert [r for r in actual if r[1] != "range"] == [r for r in expected if r[1] != "range"]
    assert [r[:3] + r[4:] for r in actual if r[1] == "range"] == [r[:3] + r[4:] for r in expected if r[1] == "range"]
    run_id, = pg_rows(pg_server.url, f"SELECT id FROM {schema}.sync_runs WHERE status = 'ok'")[0]
    assert pg_rows(pg_server.url, f"SELECT DISTINCT sync_run_id FROM {schema}.kpi_snapshots") == [(run_id,)]
    for name in ("kpis.csv", "report.html"):
        assert (tmp_path / "postgres" / name).stat().st_size > 1000
    assert (tmp_path / "postgres" / "kpis.csv").read_bytes().count(b"\r\n") == 1 + 12 * len(KPI_KEYS)
