"""One store, one portal: a sync against another portal is refused before anything is written."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from hubspot_metrics.cli import cli
from hubspot_metrics.portal import PortalServer, generate_portal
from hubspot_metrics.store import open_store

from .conftest import NOW, TOKEN, full_store_dump



def everything(db_path) -> dict:
    """Every table, bookkeeping included."""
    with open_store(db_path, create=False) as db:
        tables = [name for (name,) in db.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {name: sorted(db.conn.execute(f"SELECT * FROM [{name}]").fetchall(), key=repr) for name in tables}


def invoke(server, db_path, *args):
    env = {"HUBSPOT_ACCESS_TOKEN": TOKEN, "HUBSPOT_API_BASE_URL": server.url, "HUBSPOT_METRICS_DB": str(db_path),
           "HUBSPOT_METRICS_CONFIG": ""}
    return CliRunner().invoke(cli, list(args), env=env)


@pytest.fixture
def sandbox():
    """A second portal (another account: a sandbox beside production) with the same token."""
    with PortalServer(generate_portal(scale=100, seed=9, now=NOW), token=TOKEN, requests_per_10s=None,
                      search_per_second=None) as srv:
        yield srv


@pytest.mark.parametrize("command", [["sync"], ["sync", "--full"], ["nightly"]])
def test_a_store_refuses_another_portal_untouched(portal, server, sandbox, tmp_path, command):
    db_path = tmp_path / "prod.db"
    first = invoke(server, db_path, "sync")
    assert first.exit_code == 0, first.output
    before = everything(db_path)
    production, other = portal.portal_id, sandbox.portal.portal_id
    assert production != other

    result = invoke(sandbox, db_path, *command)
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (f"Error: The store {db_path} holds HubSpot portal {production}, but the token reads "
                             f"portal {other}; give that portal a store of its own with another --db path.\n")
    assert everything(db_path) == before
    assert [r.path for r in sandbox.request_log] == ["/account-info/v3/details"]  # nothing else was asked

    status = invoke(server, db_path, "status", "--no-live")
    assert status.output.splitlines()[0] == f"Store: {db_path} (HubSpot portal {production})"


def test_the_same_portal_syncs_on_and_another_store_takes_the_other(portal, server, sandbox, tmp_path):
    assert invoke(server, tmp_path / "prod.db", "sync").exit_code == 0
    assert invoke(server, tmp_path / "prod.db", "sync").exit_code == 0
    result = invoke(sandbox, tmp_path / "sandbox.db", "sync")
    assert result.exit_code == 0, result.output
    db = open_store(tmp_path / "sandbox.db", create=False)
    assert db.conn.execute("SELECT portalId FROM account").fetchall() == [(sandbox.portal.portal_id,)]
    db.conn.close()
    assert full_store_dump(tmp_path / "prod.db") != full_store_dump(tmp_path / "sandbox.db")
