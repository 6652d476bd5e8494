"""`hubspot-metrics demo`: the README's first command works offline with no token."""

import sqlite3
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from click.testing import CliRunner

from hubspot_metrics import app
from hubspot_metrics.cli import cli
from hubspot_metrics.config import Config, MetricsSettings
from hubspot_metrics.periods import named_period


TEN_KPIS = ["Customer acquisition cost", "Customer retention rate", "Customer lifetime value",
            "Lead → customer conversion", "Churn rate", "Net Promoter Score", "Customer satisfaction (CSAT)",
            "Average first response", "Average sales cycle", "Pipeline velocity"]


def test_demo_syncs_a_simulated_portal_and_prints_last_months_kpis(tmp_path):
    folder = tmp_path / "demo"
    env = {"HUBSPOT_ACCESS_TOKEN": "pat-na1-real-token-must-be-ignored", "HUBSPOT_API_BASE_URL": "http://127.0.0.1:1"}
    result = CliRunner().invoke(cli, ["demo", "--dir", str(folder), "--scale", "600"], env=env)
    assert result.exit_code == 0, result.output
    last_month = named_period("last_month", "Europe/Berlin", datetime.now(timezone.utc))  # the portal's zone
    lines = result.output.splitlines()
    assert (f"KPIs for {last_month.label}: {last_month.start:%Y-%m-%d} 00:00 to {last_month.end:%Y-%m-%d} 00:00 "
            "(time zone Europe/Berlin, end exclusive)") in lines
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


def test_a_rerun_deletes_only_the_demos_own_files(tmp_path):
    folder = tmp_path / "demo"
    (folder / "notes").mkdir(parents=True)
    (folder / "notes" / "keep.txt").write_text("mine")
    (folder / "budget.xlsx").write_bytes(b"mine too")
    (folder / "demo.db").write_bytes(b"an old demo store")
    for stale in ("demo.db-wal", "demo.db-shm", "demo.db.lock", "report.html"):
        (folder / stale).write_bytes(b"stale")
    result = CliRunner().invoke(cli, ["demo", "--dir", str(folder), "--scale", "50"])
    assert result.exit_code == 0, result.output
    assert (folder / "notes" / "keep.txt").read_text() == "mine"
    assert (folder / "budget.xlsx").read_bytes() == b"mine too"
    assert (folder / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert sqlite3.connect(folder / "demo.db").execute("SELECT status FROM sync_runs").fetchall() == [("ok",)]
    # The stale WAL and shared memory of the old store must not be applied to the new one.
    for name in ("demo.db-wal", "demo.db-shm", "demo.db.lock"):
        assert not (folder / name).exists() or (folder / name).read_bytes() != b"stale", name


def test_dir_a_file_is_one_sentence_and_the_file_is_untouched(tmp_path):
    path = tmp_path / "demo.txt"
    path.write_bytes(b"not a folder")
    result = CliRunner().invoke(cli, ["demo", "--dir", str(path)])
    assert (result.exit_code, result.output) == (
        2, f"Error: {path} is a file, not a folder; give --dir a folder for the demo (a missing one is created).\n")
    assert path.read_bytes() == b"not a folder"


def test_dir_a_folder_of_other_files_is_refused_and_left_alone(tmp_path):
    (tmp_path / "report.html").write_text("someone's report")
    result = CliRunner().invoke(cli, ["demo", "--dir", str(tmp_path)])
    assert (result.exit_code, result.output) == (
        2, f"Error: {tmp_path} exists and is not a demo folder; choose another --dir.\n")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
    assert (tmp_path / "report.html").read_text() == "someone's report"


def test_the_demos_table_is_last_month_in_the_portals_time_zone_as_kpis_reads_it(tmp_path):
    outcome = app.demo(str(tmp_path / "demo"), scale=300)
    label = named_period("last_month", "Europe/Berlin", datetime.now(timezone.utc)).label
    assert outcome.last_month.label == label
    # `kpis` on the demo's store, with the demo's spend for that month, prints the very same period and values.
    config = Config(store_path=str(outcome.store_path),
                    metrics=MetricsSettings(spend={label: app.DEMO_MONTHLY_SPEND}))
    same = app.kpis(config, period=label)
    first = datetime.fromisoformat(same["start"])
    assert (first.day, first.hour, first.utcoffset()) == (1, 0, ZoneInfo("Europe/Berlin").utcoffset(first))
    assert {k: outcome.kpis[k] for k in ("period", "start", "end", "timezone", "kpis")} == {
        k: same[k] for k in ("period", "start", "end", "timezone", "kpis")}
    assert same["timezone"] == "Europe/Berlin"
