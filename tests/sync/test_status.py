"""`status` and `check` as a user sees them."""

from __future__ import annotations

from click.testing import CliRunner

from hubspot_metrics.cli import cli
from hubspot_metrics.portal import PortalServer, generate_portal

from .conftest import NOW, TOKEN, make_config, run_sync



def invoke(server, db_path, *args):
    env = {"HUBSPOT_ACCESS_TOKEN": TOKEN, "HUBSPOT_API_BASE_URL": server.url, "HUBSPOT_METRICS_DB": str(db_path),
           "HUBSPOT_METRICS_CONFIG": ""}
    return CliRunner().invoke(cli, list(args), env=env)


def test_status_shows_runs_counts_completeness_and_warnings(portal, server, tmp_path):
    db_path = tmp_path / "s.db"
    run_sync(make_config(server, db_path))
    portal.archive("contacts", next(iter(portal.records("contacts")))["id"])  # HubSpot now has one fewer
    result = invoke(server, db_path, "status")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"Store: {db_path} (HubSpot portal {portal.portal_id})"
    assert lines[2] == "Last runs:"
    assert lines[3].startswith("  #1 ") and lines[3].endswith(" ok: " + lines[3].split(" ok: ")[1])
    live = {name: sum(1 for _ in portal.records(name)) for name in ("contacts", "deals")}
    contacts_row = next(line for line in lines if line.startswith("contacts "))
    fields = contacts_row.split()
    assert fields[1] == str(live["contacts"] + 1)       # the store still has the just-archived one as live
    assert fields[4] == str(live["contacts"])           # HubSpot's own total, asked live
    assert contacts_row.endswith("⚠ incomplete")
    deals_row = next(line for line in lines if line.startswith("deals "))
    assert deals_row.split()[1] == deals_row.split()[4] == str(live["deals"]) and "incomplete" not in deals_row
    assert "Warnings:" in lines
    assert "KPI time zone: Europe/Berlin (the portal's, from its account details)" in lines


def test_status_without_a_store(tmp_path, server):
    result = invoke(server, tmp_path / "none.db", "status")
    assert result.exit_code == 2
    assert result.output == (f"Error: No store at {tmp_path / 'none.db'}; run `hubspot-metrics sync` first "
                             "(or point --db / HUBSPOT_METRICS_DB at it).\n")


def test_check_maps_missing_scopes_to_kpis(tmp_path):
    portal = generate_portal(scale=100, seed=31, now=NOW)
    with PortalServer(portal, token=TOKEN, scopes={"crm.objects.contacts.read", "crm.objects.companies.read",
                                                    "crm.objects.deals.read"}) as server:
        result = invoke(server, tmp_path / "s.db", "check")
    assert result.exit_code == 4
    assert result.output.splitlines()[2:] == [
        "  contacts               readable",
        "  companies              readable",
        "  deals                  readable",
        "  tickets                NOT readable: needs tickets",
        "  feedback_submissions   NOT readable: needs crm.objects.feedback_submissions.read",
        "  owners                 NOT readable: needs crm.objects.owners.read (only --by owner needs it)",
        "",
        "KPI time zone: Europe/Berlin (the portal's)",
        "",
        "KPIs that cannot be computed: avg_first_response_hours, csat, nps",
        "Error: The token cannot read everything the KPIs need; add the scopes listed above to the private app.",
    ]


def test_a_killed_run_shows_as_interrupted_not_running(portal, server, tmp_path):
    from hubspot_metrics.store import open_store
    from hubspot_metrics.sync import SyncLock

    db_path = tmp_path / "s.db"
    run_sync(make_config(server, db_path))
    db = open_store(db_path)
    db.conn.execute("INSERT INTO sync_runs (started_at, status, mode, pid) "
                    "VALUES ('2026-11-20T12:00:00.000Z', 'running', 'auto', 1)")  # what kill -9 leaves
    db.conn.close()
    runs = lambda result: [line for line in result.output.splitlines() if line.startswith("  #")]
    assert runs(invoke(server, db_path, "status", "--no-live"))[0] == (
        "  #2 2026-11-20T12:00:00.000Z → … interrupted: 0 requests, 0 × 429, 0 retries, 0 errors")
    with SyncLock(str(db_path)):  # while a sync holds the lock, the row is its own
        assert runs(invoke(server, db_path, "status", "--no-live"))[0].endswith(" running: 0 requests, 0 × 429, "
                                                                               "0 retries, 0 errors")
