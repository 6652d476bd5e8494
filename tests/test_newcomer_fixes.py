"""Small things a newcomer met: help that reads in full, a config file given as the store,
the [metrics] tables in the list of keys, and the demo folder kept out of git (status's
wording: tests/sync/test_status_wording.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from click.testing import CliRunner

from hubspot_metrics.cli import cli
from hubspot_metrics.config import load_config
from hubspot_metrics.cli.demo import demo
from hubspot_metrics.errors import ConfigError
from hubspot_metrics.store import open_store

REPO = Path(__file__).resolve().parent.parent


def test_top_level_help_shows_each_command_description_whole():
    result = CliRunner().invoke(cli, ["--help"], terminal_width=80)
    assert result.exit_code == 0
    commands = result.output.split("Commands:\n", 1)[1]
    assert "..." not in commands
    flat = " ".join(commands.split())
    for line in ("demo See the whole product work: simulated portal → sync → KPIs (no token, no network).",
                 "nightly For cron: sync, snapshot the KPIs of [nightly] periods, export and report; one summary line.",
                 "sync Pull HubSpot data into the SQLite store (full the first time, incremental after).",
                 "sandbox Serve a simulated HubSpot portal that changes as a real one does, until Ctrl-C."):
        assert line in flat
    wide = CliRunner().invoke(cli, ["--help"], terminal_width=200).output
    assert ("  export   Write KPI history as CSV (each closed period from its latest snapshot under today's "
            "definitions, else computed).\n" in wide)


def test_every_export_option_has_help():
    result = CliRunner().invoke(cli, ["export", "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert ("  --grain [month|quarter|year]  Length of the periods: one row (or one set of rows) per calendar month, "
            "quarter or year.  [default: month]") in result.output
    export = cli.get_command(None, "export")
    assert all(param.help for param in export.params if param.name != "help")


def _config_file(tmp_path, name="hubspot-metrics.toml", text='[hubspot]\nbase_url = "http://127.0.0.1:1"\n') -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return str(path)


def test_a_config_file_given_as_the_store_says_to_use_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config_file = _config_file(tmp_path)
    result = CliRunner().invoke(cli, ["--db", config_file, "status"], env={"HUBSPOT_METRICS_CONFIG": ""})
    assert result.exit_code == 2
    assert result.output == (f"Error: {config_file}, given as --db, looks like a config file, not a store; pass it "
                             "with --config, and give --db the SQLite store's path (default hubspot-metrics.db).\n")
    assert Path(config_file).read_text(encoding="utf-8") == '[hubspot]\nbase_url = "http://127.0.0.1:1"\n'
    # The same from the environment, and a config file under another name.
    other = _config_file(tmp_path, "settings.cfg", '[metrics]\ntimezone = "UTC"\n')
    try:
        load_config(env={"HUBSPOT_METRICS_DB": other})
    except ConfigError as exc:
        message = str(exc)
    assert message == (f"{other}, given as HUBSPOT_METRICS_DB, looks like a config file, not a store; pass it with "
                       "--config, and give HUBSPOT_METRICS_DB the SQLite store's path (default hubspot-metrics.db).")


def test_a_store_a_new_path_or_a_broken_file_is_not_taken_for_a_config(tmp_path):
    store = tmp_path / "real.db"
    open_store(str(store)).conn.close()
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"\x00\x01 not a database")
    for path in (store, tmp_path / "new.db", broken):
        assert load_config(db_option=str(path), env={}).store_path == str(path)


def test_an_unknown_metrics_key_lists_the_churn_and_csat_tables(tmp_path):
    path = _config_file(tmp_path, "c.toml", '[metrics]\nchrun = 1\n')
    try:
        load_config(path, env={})
    except ConfigError as exc:
        message = str(exc)
    assert message == (f"Unknown key 'chrun' in [metrics] of {path}; remove it or use one of: timezone, "
                       "customer_object, gross_margin, deal_pipelines, ticket_pipelines, or the tables "
                       "[metrics.churn] and [metrics.csat].")


def test_the_demo_folder_is_ignored_by_git():
    folder = next(p.default for p in demo.params if p.name == "folder")
    for name in ("demo.db", "demo.db-wal", "report.html"):
        found = subprocess.run(["git", "check-ignore", "--no-index", "-q", f"{folder}/{name}"], cwd=REPO)
        assert found.returncode == 0, f"{folder}/{name} is not ignored"
