"""`sync --only` after an interrupted run keeps the association refreshes it does not do."""

from __future__ import annotations

import pytest

from hubspot_metrics.objects import ASSOCIATIONS
from hubspot_metrics.store import open_store

from .conftest import expected_associations, make_config, run_sync, stored_associations

CONTACTS_COMPANIES = next(p for p in ASSOCIATIONS if p.table == "associations_contacts_companies")


def pending_changes(db_path) -> set[tuple[str, str]]:
    with open_store(db_path, create=False) as db:
        return set(db.conn.execute("SELECT object_type, id FROM sync_changed"))


def test_only_deals_leaves_the_pending_contact_company_refresh_to_the_next_run(portal, server, tmp_path, monkeypatch):
    from hubspot_metrics.client import HubSpotClient

    config = make_config(server, tmp_path / "store.db")
    run_sync(config)
    linked = {(a, b) for a, b in expected_associations(portal, CONTACTS_COMPANIES)}
    contact = next(str(r["id"]) for r in portal.records("contacts"))
    company = next(str(r["id"]) for r in portal.records("companies") if (contact, str(r["id"])) not in linked)
    portal.advance_clock(seconds=3600)
    portal.associate("contacts", contact, "companies", company)

    real_search = HubSpotClient.search

    def die_at_deals(self, object_type, body):  # contacts and companies are read, then the run stops
        if object_type == "deals":
            raise KeyboardInterrupt
        return real_search(self, object_type, body)

    monkeypatch.setattr(HubSpotClient, "search", die_at_deals)
    with pytest.raises(KeyboardInterrupt):
        run_sync(config)
    monkeypatch.setattr(HubSpotClient, "search", real_search)
    pending = pending_changes(config.store_path)  # (the window's overlap re-reads a few more)
    assert {("contacts", contact), ("companies", company)} <= pending
    assert {object_type for object_type, _ in pending} == {"contacts", "companies"}

    run_sync(config, only=["deals"])
    assert pending_changes(config.store_path) == pending
    assert (contact, company) not in stored_associations(config.store_path, CONTACTS_COMPANIES)

    run_sync(config)
    assert pending_changes(config.store_path) == set()
    assert stored_associations(config.store_path, CONTACTS_COMPANIES) == expected_associations(portal, CONTACTS_COMPANIES)
    assert (contact, company) in stored_associations(config.store_path, CONTACTS_COMPANIES)
