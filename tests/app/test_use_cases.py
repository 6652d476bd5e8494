"""The application layer: each use case returns its result and prints nothing; the CLI
package registers every command on import."""

from __future__ import annotations

import csv
import subprocess
import sys

import pytest

from hubspot_metrics import app
from hubspot_metrics.client import HubSpotClient, RunStats
from hubspot_metrics.errors import StoreError
from hubspot_metrics.metrics import KPI_KEYS
from hubspot_metrics.results.export import LONG_COLUMNS, export_history
from hubspot_metrics.store import open_store
from tests.sync.conftest import make_config, portal, server  # noqa: F401  (fixtures)


def test_importing_the_cli_alone_registers_every_command():
    # A fresh interpreter: within the test run other modules may already have been imported.
    done = subprocess.run([sys.executable, "-c", "from hubspot_metrics.cli import cli; print(' '.join(sorted(cli.commands)))"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["check", "demo", "explain", "export", "kpis", "nightly", "report", "sandbox", "status",
                                     "sync"]


def test_use_cases_return_results_and_print_nothing(server, tmp_path, capfd):
    config = make_config(server, tmp_path / "store.db")
    synced = app.sync(config, client=HubSpotClient(config.hubspot, stats=RunStats(), sleep=lambda s: None))
    assert synced.result.status == "ok"
    assert synced.warnings == []
    assert synced.summary.startswith("sync ok: ")
    assert synced.stats.requests > 0

    kpis = app.kpis(config, period="2026-10")
    assert (kpis["period"], sorted(kpis["kpis"])) == ("2026-10", sorted(KPI_KEYS))
    explained = app.explain(config, "deals_won", period="2026-10")
    assert (explained.kpi, len(explained.rows)) == (kpis["kpis"]["deals_won"], kpis["kpis"]["deals_won"]["n"])

    out = tmp_path / "kpis.csv"
    exported = app.export(config, str(out), periods=3)
    assert exported == app.ExportOutcome(str(out), 3, 0)
    db = open_store(config.store_path, create=False, readonly=True)
    try:  # the file holds exactly what the export module makes of this store (but the instant it ran)
        expected = export_history(db, config.metrics, periods=3)[0]
    finally:
        db.conn.close()
    assert _without_computed_at(out.read_bytes().decode("utf-8")) == _without_computed_at(expected)
    assert len({row["period"] for row in _without_computed_at(expected)}) == 3

    assert app.report(config, str(tmp_path / "report.html")) == str(tmp_path / "report.html")
    assert (tmp_path / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert "contacts" in app.status(config, live=False)

    captured = capfd.readouterr()
    assert (captured.out, captured.err) == ("", "")


def _without_computed_at(text: str) -> list[dict]:
    rows = list(csv.DictReader(text.splitlines()))
    assert rows and list(rows[0]) == list(LONG_COLUMNS)
    return [{k: v for k, v in row.items() if k != "computed_at"} for row in rows]


def test_a_store_never_synced_is_refused_in_one_sentence(tmp_path):
    from hubspot_metrics.config import Config

    with pytest.raises(StoreError) as refused:
        app.kpis(Config(store_path=str(tmp_path / "absent.db")), period="2026-10")
    assert str(refused.value).endswith(".")
    assert "\n" not in str(refused.value)
