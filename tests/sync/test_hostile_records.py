"""Junk inside a well-formed 200: the sync keeps what it can, says what it skipped, and never
shows a traceback; the next clean run ends in the store a clean sync gives.

A tampering proxy sits between the real client and the simulated portal and spoils chosen
answers; a reference store synced without it is the oracle.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from hubspot_metrics.errors import HubSpotError
from hubspot_metrics.objects import ASSOCIATIONS
from hubspot_metrics.store import open_store

from .conftest import (
    expected_associations, full_store_dump, make_config, run_sync, stored_associations)
from .tamper import TamperingProxy

CONTACTS_COMPANIES = next(p for p in ASSOCIATIONS if p.table == "associations_contacts_companies")


def through(config, proxy):
    return replace(config, hubspot=replace(config.hubspot, base_url=proxy.url))


def rows(db_path, sql: str) -> list[tuple]:
    with open_store(db_path, create=False) as db:
        return db.conn.execute(sql).fetchall()


def test_junk_records_in_search_pages_are_skipped_and_counted(portal, server, tmp_path):
    config = make_config(server, tmp_path / "store.db")
    reference = make_config(server, tmp_path / "reference.db")
    run_sync(config)
    run_sync(reference)
    portal.advance_clock(seconds=3600)
    for record in list(portal.records("contacts"))[:250]:  # two search pages
        portal.update("contacts", record["id"], {"firstname": "edited"})
    junk = ["a string", {"properties": {"email": "no-id@example.com"}}, {"id": {"nested": 1}, "properties": {}},
            {"id": True}]

    def spoil(method, path, payload):
        if path == "/crm/v3/objects/contacts/search" and len(payload.get("results", [])) > 1:
            return {**payload, "results": junk + payload["results"]}
        return None

    with TamperingProxy(server.url, spoil) as proxy:
        result, _ = run_sync(through(config, proxy))
    assert result.status == "ok"
    assert result.warnings == ["HubSpot returned 4 contacts without an id; they were skipped."] * 2
    run_sync(reference)
    assert full_store_dump(config.store_path) == full_store_dump(reference.store_path)


def test_junk_records_in_list_pages_are_skipped_and_counted(portal, server, tmp_path):
    def spoil(method, path, payload):
        if path == "/crm/v3/objects/deals" and payload.get("results"):
            return {**payload, "results": [*payload["results"], 42, {"id": ""}, {"id": [1], "properties": "x"}]}
        return None

    config = make_config(server, tmp_path / "store.db", objects=("deals",))
    with TamperingProxy(server.url, spoil) as proxy:
        result, _ = run_sync(through(config, proxy))
    assert result.status == "ok"
    assert set(result.warnings) == {"HubSpot returned 3 deals without an id; they were skipped."}
    reference = make_config(server, tmp_path / "reference.db", objects=("deals",))
    run_sync(reference)
    assert full_store_dump(config.store_path) == full_store_dump(reference.store_path)


def test_an_association_entry_that_is_not_a_list_keeps_what_is_stored_until_a_clean_read(portal, server, tmp_path):
    config = make_config(server, tmp_path / "store.db")
    run_sync(config)
    linked = expected_associations(portal, CONTACTS_COMPANIES)
    contact = next(a for a, _ in sorted(linked))
    company = next(str(r["id"]) for r in portal.records("companies") if (contact, str(r["id"])) not in linked)
    before = stored_associations(config.store_path, CONTACTS_COMPANIES)
    portal.advance_clock(seconds=3600)
    portal.associate("contacts", contact, "companies", company)

    def spoil(method, path, payload):
        if path == "/crm/v4/associations/contacts/companies/batch/read":
            return {**payload, "results": [{**item, "to": {"toObjectId": company}} if item["from"]["id"] == contact
                                           else item for item in payload["results"]]}
        return None

    with TamperingProxy(server.url, spoil) as proxy:
        result, _ = run_sync(through(config, proxy))
    assert result.status == "ok"
    assert result.warnings == ["HubSpot's answer held 1 unreadable contacts-companies associations entries; the "
                               "associations stored for those records are kept."]
    assert stored_associations(config.store_path, CONTACTS_COMPANIES) == before
    assert rows(config.store_path, "SELECT object_type, id FROM sync_changed") == [("contacts", contact)]
    run_sync(config)
    assert stored_associations(config.store_path, CONTACTS_COMPANIES) == expected_associations(portal, CONTACTS_COMPANIES)
    assert (contact, company) in stored_associations(config.store_path, CONTACTS_COMPANIES)


def test_an_association_answer_without_a_results_list_fails_the_run_and_deletes_nothing(portal, server, tmp_path):
    config = make_config(server, tmp_path / "store.db")
    run_sync(config)
    before = {pair.table: stored_associations(config.store_path, pair) for pair in ASSOCIATIONS}
    portal.advance_clock(seconds=3600)
    for record in list(portal.records("deals"))[:5]:
        portal.update("deals", record["id"], {"dealname": "edited"})

    def spoil(method, path, payload):
        return {"results": {"not": "a list"}} if path.startswith("/crm/v4/associations/") else None

    with TamperingProxy(server.url, spoil) as proxy, pytest.raises(HubSpotError) as info:
        run_sync(through(config, proxy))
    # (a page whose results are not a list is malformed: asked again under the one retry policy, then the run fails)
    assert str(info.value) == (
        "HubSpot kept failing on the companies-deals associations (a 200 answer that is not a well-formed reply: "
        "'{\"results\": {\"not\": \"a list\"}}') after 9 attempts; what was synced so far is kept, run the sync "
        "again later.")
    assert info.value.exit_code == 3
    assert {pair.table: stored_associations(config.store_path, pair) for pair in ASSOCIATIONS} == before
    run_sync(config)
    for pair in ASSOCIATIONS:
        assert stored_associations(config.store_path, pair) == expected_associations(portal, pair), pair.table


def test_json_nested_too_deeply_to_read_ends_in_one_sentence(portal, server, tmp_path):
    def spoil(method, path, payload):
        if path == "/crm/v3/objects/deals":
            return b'{"results": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}"
        return None

    config = make_config(server, tmp_path / "store.db", objects=("deals",))
    with TamperingProxy(server.url, spoil) as proxy, pytest.raises(HubSpotError) as info:
        run_sync(through(config, proxy))
    assert str(info.value) == ("HubSpot kept failing on the deals list (an incomplete or malformed response body) "
                               "after 9 attempts; what was synced so far is kept, run the sync again later.")
    assert rows(config.store_path, "SELECT status, message FROM sync_runs") == [("failed", str(info.value))]
    result, _ = run_sync(config)
    assert result.status == "ok"


def test_account_details_as_a_list_fail_the_run_and_non_scalar_reference_fields_are_kept_as_text(portal, server,
                                                                                                 tmp_path):
    config = make_config(server, tmp_path / "store.db")
    run_sync(config)
    account = rows(config.store_path, "SELECT * FROM account")
    owner = portal.owners[0]["id"]

    # Without a portalId the store's portal cannot be checked: the answer is malformed, asked
    # again under the one retry policy, and the run fails with the stored account untouched.
    as_list = lambda method, path, payload: [payload] if path == "/account-info/v3/details" else None
    with TamperingProxy(server.url, as_list) as proxy, pytest.raises(HubSpotError) as info:
        run_sync(through(config, proxy))
    assert info.value.exit_code == 3
    assert str(info.value).startswith("HubSpot kept failing on the account details (a 200 answer that is not a "
                                      "well-formed reply: '[{\"portalId\": ")
    assert rows(config.store_path, "SELECT * FROM account") == account

    def spoil(method, path, payload):
        if path == "/crm/v3/owners":
            return {**payload, "results": [{**o, "email": {"primary": o.get("email")}, "userId": [1]}
                                           if str(o.get("id")) == str(owner) else o for o in payload["results"]]}
        if path == "/crm/v3/pipelines/deals":
            return {"results": [{**p, "label": {"en": p["label"]}} for p in payload["results"]]}
        return None

    portal.advance_clock(seconds=3600)
    with TamperingProxy(server.url, spoil) as proxy:
        result, _ = run_sync(through(config, proxy))
    assert result.status == "ok"
    assert result.warnings == [
        "HubSpot sent owners with a list or object where text or a number belongs; those fields are stored as JSON "
        "text.",
        "HubSpot sent deals pipelines with a list or object where text or a number belongs; those fields are stored "
        "as JSON text."]
    assert rows(config.store_path, "SELECT * FROM account") == account
    email = next(o["email"] for o in portal.owners if o["id"] == owner)
    assert rows(config.store_path, f"SELECT email, userId FROM owners WHERE id = '{owner}'") == [
        (f'{{"primary": "{email}"}}', "[1]")]
    reference = make_config(server, tmp_path / "reference.db")
    run_sync(reference)
    run_sync(config)  # a clean night puts everything right
    assert full_store_dump(config.store_path) == full_store_dump(reference.store_path)
