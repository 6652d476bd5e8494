"""The sync against the simulated portal: exact store contents and exact request counts."""

from __future__ import annotations

import json
import math
from collections import Counter
from datetime import datetime, timezone

import pytest

from hubspot_metrics.objects import ASSOCIATIONS, OBJECTS
from hubspot_metrics.store import open_store

from .conftest import (
    assert_rows_equal, expected_associations, expected_rows, make_config, request_counts, run_sync,
    stored_associations, stored_rows)


def assert_store_matches_portal(portal, db_path):
    for name in OBJECTS:
        expected = expected_rows(portal, name)
        actual = stored_rows(db_path, name)
        assert_rows_equal(actual, expected, name)
        # HubSpot stops listing a merged-away record; the store keeps it, flagged with the survivor.
        merged = merged_away(portal, name)
        extra = set(actual) - set(expected)
        assert {rid: actual[rid]["merged_into"] for rid in extra} == {rid: merged.get(rid) for rid in extra}, name
    for pair in ASSOCIATIONS:
        assert stored_associations(db_path, pair) == expected_associations(portal, pair), pair.table


def merged_away(portal, name) -> dict[str, str]:
    survivors = {}
    for record in portal.records(name):
        for mid in (record["properties"].get("hs_merged_object_ids") or "").split(";"):
            if mid.strip():
                survivors[mid.strip()] = record["id"]
    return survivors


def interrupt_at_the_second_search(config, monkeypatch) -> None:
    """One sync, interrupted when it sends its second search: after the first page committed."""
    from hubspot_metrics.client import HubSpotClient

    real_search, calls = HubSpotClient.search, []

    def search_then_die(self, object_type, body):
        calls.append(object_type)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_search(self, object_type, body)

    monkeypatch.setattr(HubSpotClient, "search", search_then_die)
    with pytest.raises(KeyboardInterrupt):
        run_sync(config)
    monkeypatch.setattr(HubSpotClient, "search", real_search)


def live_count(portal, name):
    return sum(1 for _ in portal.records(name, archived=False))


def archived_count(portal, name):
    return sum(1 for _ in portal.records(name, archived=True))


def association_requests(portal, pair) -> int:
    """v4 batch reads for a full pass: 1,000 ids a request, plus one round per 500 more targets."""
    live = sorted(str(r["id"]) for r in portal.records(pair.from_object, archived=False))
    per_record = {}
    for a, _ in expected_associations(portal, pair):
        per_record[a] = per_record.get(a, 0) + 1
    total = 0
    for i in range(0, len(live), 1000):
        batch = live[i:i + 1000]
        total += 1 + max([math.ceil(per_record.get(r, 0) / 500) - 1 for r in batch] + [0])
    return total


def test_full_sync_stores_every_object_exactly_with_minimal_requests(portal, server, tmp_path):
    db_path = tmp_path / "store.db"
    result, stats = run_sync(make_config(server, db_path))
    assert result.status == "ok" and result.warnings == []
    assert_store_matches_portal(portal, db_path)

    counts = request_counts(server)
    for name in OBJECTS:
        pages = math.ceil(live_count(portal, name) / 100) + max(1, math.ceil(archived_count(portal, name) / 100))
        assert counts[("GET", f"/crm/v3/objects/{name}")] == pages, name
        assert counts[("POST", f"/crm/v3/objects/{name}/search")] == 1, name  # the cursor probe
        assert counts[("GET", f"/crm/v3/properties/{name}")] == 1, name
    for pair in ASSOCIATIONS:
        path = f"/crm/v4/associations/{pair.from_object}/{pair.to_object}/batch/read"
        assert counts[("POST", path)] == association_requests(portal, pair), pair.table
    assert counts[("GET", "/account-info/v3/details")] == 1
    assert counts[("GET", "/crm/v3/pipelines/deals")] == 1
    assert counts[("GET", "/crm/v3/pipelines/tickets")] == 1
    assert stats.requests == sum(counts.values()) and stats.retries == 0 and stats.rate_limited == 0

    db = open_store(db_path, create=False)
    run = db.conn.execute("SELECT status, requests, rate_limited, retries, counts FROM sync_runs").fetchall()
    assert [(r[0], r[1], r[2], r[3]) for r in run] == [("ok", stats.requests, 0, 0)]
    assert json.loads(run[0][4])["contacts"] == {
        "written": live_count(portal, "contacts"), "archived": archived_count(portal, "contacts"), "mode": "full"}
    account = db.conn.execute("SELECT companyCurrency, timeZone FROM account").fetchall()
    assert account == [(portal.home_currency, portal.time_zone)]
    stages = db.conn.execute("SELECT id, is_closed, probability FROM pipeline_stages WHERE pipeline_id = 'default' "
                             "AND object_type = 'deals' ORDER BY display_order").fetchall()
    assert ("closedwon", 1, 1.0) in stages and ("closedlost", 1, 0.0) in stages
    assert db.conn.execute("SELECT count(*) FROM owners WHERE archived = 1").fetchone()[0] >= 1
    db.conn.close()


def test_incremental_sync_applies_every_kind_of_change_with_few_requests(portal, server, tmp_path):
    db_path = tmp_path / "store.db"
    config = make_config(server, db_path)
    run_sync(config)
    contacts = [str(r["id"]) for r in portal.records("contacts")][:40]
    deals = [str(r["id"]) for r in portal.records("deals")][:10]
    tickets = [str(r["id"]) for r in portal.records("tickets")][:10]

    portal.advance_clock(seconds=3600)
    for cid in contacts[:5]:
        portal.update("contacts", cid, {"lifecyclestage": "customer", "firstname": "Zoë \"Z\" =1+1"})
    new_deal = portal.create("deals", {"dealname": "New", "amount": "1234.5", "pipeline": "default",
                                       "dealstage": "closedwon", "hs_is_closed_won": "true"})
    portal.associate("deals", new_deal, "contacts", contacts[6])
    portal.archive("tickets", tickets[0])
    portal.merge("contacts", contacts[10], contacts[11])
    portal.update("deals", deals[0], {"amount": "not a number"})
    server.reset_log()

    result, stats = run_sync(config)
    assert result.status == "ok"
    assert_store_matches_portal(portal, db_path)
    assert {n: r.mode for n, r in result.objects.items() if n in OBJECTS} == {n: "incremental" for n in OBJECTS}
    counts = request_counts(server)
    # No list re-read of live records: search pages for the changes, the archived list, nothing else.
    for name in OBJECTS:
        assert counts[("POST", f"/crm/v3/objects/{name}/search")] == 1, name
        assert counts[("GET", f"/crm/v3/objects/{name}")] == max(1, math.ceil(archived_count(portal, name) / 100))
        assert counts[("GET", f"/crm/v3/properties/{name}")] == 0  # definitions are cached
    db = open_store(db_path, create=False)
    assert db.conn.execute("SELECT merged_into FROM contacts WHERE id = ?", [contacts[11]]).fetchone() == (contacts[10],)
    assert db.conn.execute("SELECT archived FROM tickets WHERE id = ?", [tickets[0]]).fetchone() == (1,)
    assert db.conn.execute("SELECT raw_value FROM value_issues WHERE object_type = 'deals' AND record_id = ? "
                           "AND property = 'amount'", [deals[0]]).fetchone() == ("not a number",)
    db.conn.close()


def test_more_than_ten_thousand_changes_in_one_millisecond(tmp_path):
    from hubspot_metrics.portal import PortalServer, generate_portal
    from .conftest import NOW, TOKEN

    portal = generate_portal(scale=200, seed=5, now=NOW)
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        db_path = tmp_path / "store.db"
        config = make_config(server, db_path, objects=("contacts",))
        run_sync(config)
        portal.advance_clock(seconds=60)
        touched = portal.bulk_touch("contacts", 10_050, same_millisecond=True)
        server.reset_log()
        run_sync(config)
        assert_rows_equal(stored_rows(db_path, "contacts"), expected_rows(portal, "contacts"), "contacts")
        stored = stored_rows(db_path, "contacts")
        assert set(touched) <= set(stored)
        # Keyset paging: ceil(10,050 / 200) searches, never an offset past 10,000; the changed
        # contacts' company associations in batches of 1,000 (207: some have no company).
        statuses = Counter((r.method, r.path.rstrip("/"), r.status) for r in server.request_log)
        assert statuses == Counter({
            ("POST", "/crm/v3/objects/contacts/search", 200): 51,
            ("POST", "/crm/v4/associations/contacts/companies/batch/read", 207): 11,
            ("GET", "/crm/v3/owners", 200): 2, ("GET", "/account-info/v3/details", 200): 1,
            ("GET", "/crm/v3/objects/contacts", 200): 1})
        assert max(int(r.body.get("after") or 0) for r in server.request_log if r.path.endswith("/search")) == 0


def test_a_bulk_import_at_the_cursor_is_not_read_again_every_night(portal, server, tmp_path):
    config = make_config(server, tmp_path / "store.db", objects=("contacts",), lookback_seconds=300)
    run_sync(config)
    portal.advance_clock(seconds=3600)
    portal.bulk_touch("contacts", 350, same_millisecond=True)   # the newest change: the next cursor
    portal.advance_clock(seconds=3600)
    run_sync(config)
    portal.advance_clock(seconds=3600)
    changed = sorted((r["id"] for r in portal.records("contacts")), key=int)[-3:]
    for cid in changed:  # edits a minute apart, stamped on the clock that also dates the answers
        portal.update("contacts", cid, {"firstname": "edited tonight"})
        portal.advance_clock(seconds=60)
    server.reset_log()
    run_sync(config)
    searches = [r.body for r in server.request_log if r.path.endswith("/contacts/search")]
    # The import was older than the lookback at the last run's start, so all of it was read
    # then; the edits prove that HubSpot's Date runs on the records' clock: one search page
    # for the three edits, not two more for the 350 imported contacts.
    assert len(searches) == 1 and searches[0]["filterGroups"][0]["filters"][0]["operator"] == "GTE"
    stored = stored_rows(config.store_path, "contacts")
    assert [stored[cid]["firstname"] for cid in changed] == ["edited tonight"] * 3
    db = open_store(config.store_path, create=False)
    assert db.conn.execute("SELECT mode FROM sync_state WHERE object_type = 'clock'").fetchone() == ("proven",)
    db.conn.close()


def test_an_edit_in_the_cursors_millisecond_is_caught_when_the_clock_stands_still(portal, server, tmp_path):
    config = make_config(server, tmp_path / "store.db", objects=("contacts",))
    run_sync(config)
    portal.advance_clock(seconds=3600)
    first, second = sorted((r["id"] for r in portal.records("contacts")), key=int)[:2]
    portal.update("contacts", first, {"firstname": "before the run"})
    run_sync(config)
    portal.update("contacts", second, {"firstname": "after the run, same millisecond"})  # no clock tick
    run_sync(config)
    stored = stored_rows(config.store_path, "contacts")
    assert stored[first]["firstname"] == "before the run"
    assert stored[second]["firstname"] == "after the run, same millisecond"


@pytest.mark.parametrize("bulk", [0, 250], ids=["few at the cursor", "bulk import at the cursor"])
@pytest.mark.parametrize("seconds_behind", [-3, 0, 2 * 3600, 23 * 3600, 25 * 3600, 180 * 86_400])
def test_an_edit_in_the_cursors_millisecond_is_caught_when_date_runs_on_another_clock(tmp_path, monkeypatch,
                                                                                    seconds_behind, bulk):
    # A portal whose Date header is the wall clock while its records are stamped by a clock
    # that stands still, a little ahead of it or some time behind (as a simple simulation
    # might be). Such a clock never proves that Date runs on it.
    import email.utils
    import time
    from datetime import timedelta

    import hubspot_metrics.portal.server as portal_server
    from hubspot_metrics.portal import PortalServer, generate_portal
    from .conftest import TOKEN

    monkeypatch.setattr(portal_server, "http_date", lambda ms: email.utils.formatdate(time.time(), usegmt=True))
    frozen = datetime.now(timezone.utc) - timedelta(seconds=seconds_behind)
    portal = generate_portal(scale=200, seed=9, now=frozen)
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        config = make_config(server, tmp_path / "store.db", objects=("contacts",), lookback_seconds=600)
        ids = sorted((r["id"] for r in portal.records("contacts")), key=int)
        if bulk:
            portal.bulk_touch("contacts", bulk)  # more than a search page shares the frozen millisecond
        for night, cid in enumerate(ids[:3]):  # each edit shares the frozen millisecond of the one before
            portal.update("contacts", cid, {"firstname": f"edited before night {night + 1}"})
            run_sync(config)
        stored = stored_rows(config.store_path, "contacts")
        assert [stored[cid]["firstname"] for cid in ids[:3]] == [f"edited before night {n}" for n in (1, 2, 3)]
        db = open_store(config.store_path, create=False)
        assert db.conn.execute("SELECT count(*) FROM sync_state WHERE object_type = 'clock'").fetchone() == (0,)
        db.conn.close()


def test_a_resumed_incremental_rereads_what_changed_while_it_was_interrupted(portal, server, tmp_path, monkeypatch):
    config = make_config(server, tmp_path / "store.db", objects=("contacts",))
    run_sync(config)
    contacts = sorted((r["id"] for r in portal.records("contacts")), key=int)
    portal.advance_clock(seconds=3600)
    assert len(contacts) > 250
    for cid in contacts[:250]:  # two search pages of changes
        portal.update("contacts", cid, {"firstname": "first edit"})
    interrupt_at_the_second_search(config, monkeypatch)
    portal.advance_clock(seconds=60)
    portal.update("contacts", contacts[0], {"firstname": "edited while interrupted"})    # below the saved id floor
    portal.advance_clock(seconds=60)
    portal.update("contacts", contacts[-1], {"firstname": "edited later"})               # above it
    run_sync(config)  # resumes the interrupted run
    run_sync(config)  # the next night
    stored = stored_rows(config.store_path, "contacts")
    assert stored[contacts[0]]["firstname"] == "edited while interrupted"
    assert stored[contacts[-1]]["firstname"] == "edited later"


def test_a_newly_configured_property_is_filled_for_every_record(portal, server, tmp_path):
    from dataclasses import replace

    config = make_config(server, tmp_path / "store.db", objects=("deals",))
    run_sync(config)
    wider = replace(config, sync=replace(config.sync, extra_properties={"deals": ("hs_deal_stage_probability",)}))
    run_sync(wider)
    db = open_store(config.store_path, create=False)
    filled = db.conn.execute("SELECT count(hs_deal_stage_probability) FROM deals WHERE archived = 0").fetchone()[0]
    expected = sum(1 for r in portal.records("deals") if r["properties"].get("hs_deal_stage_probability"))
    assert filled == expected > 100


def test_a_property_deleted_in_hubspot_is_named_in_a_warning_and_its_column_stays(portal, server, tmp_path):
    from dataclasses import replace

    deals = sorted((r["id"] for r in portal.records("deals")), key=int)
    portal.update("deals", deals[0], {"renewal_risk": "high"})   # a custom property, defined on first use
    base = make_config(server, tmp_path / "store.db", objects=("deals",))
    config = replace(base, sync=replace(base.sync, extra_properties={"deals": ("renewal_risk",)}))
    run_sync(config)
    portal.delete_property("deals", "renewal_risk")
    portal.advance_clock(seconds=3600)
    portal.update("deals", deals[1], {"dealname": "edited after the deletion"})
    result, _ = run_sync(config, full=True)
    assert result.status == "ok"
    assert result.warnings == ["HubSpot does not define the deals property renewal_risk named in the config "
                               "(deleted, or misspelled?); its column stays, empty in every record read from now on."]
    db = open_store(config.store_path, create=False)
    rows = dict(db.conn.execute("SELECT id, renewal_risk FROM deals WHERE id IN (?, ?)", deals[:2]).fetchall())
    names = dict(db.conn.execute("SELECT id, dealname FROM deals WHERE id IN (?, ?)", deals[:2]).fetchall())
    db.conn.close()
    # The store mirrors HubSpot: a full re-read finds no value for the deleted property.
    assert rows == {deals[0]: None, deals[1]: None}
    assert names[deals[1]] == "edited after the deletion"


def test_a_quiet_object_does_not_read_its_bulk_import_again_night_after_night(portal, server, tmp_path):
    config = make_config(server, tmp_path / "store.db", objects=("contacts", "companies"), lookback_seconds=600)
    run_sync(config)
    portal.advance_clock(seconds=3600)
    portal.bulk_touch("contacts", 450, same_millisecond=True)   # then no contact changes again
    searches_per_night = []
    for night in range(4):
        portal.advance_clock(seconds=86_400)
        for company in sorted((r["id"] for r in portal.records("companies")), key=int)[2 * night:2 * night + 2]:
            portal.update("companies", company, {"name": f"edited on night {night}"})
            portal.advance_clock(seconds=60)
        server.reset_log()
        run_sync(config)
        searches_per_night.append(sum(1 for r in server.request_log if r.path.endswith("/contacts/search")))
    # Night 0 reads the import (3 pages of 200), and the company edits prove HubSpot's Date;
    # after that one empty page a night, although the import still holds the contacts' newest
    # modified date.
    assert searches_per_night == [3, 1, 1, 1]


def test_a_resumed_run_keeps_its_window_when_a_bulk_import_sits_at_the_cursor(tmp_path, monkeypatch):
    # Date on the wall clock, records on a clock 48 h behind that moves only when told to:
    # HubSpot's Date is never proven, so the bulk import's millisecond gets a search of its
    # own. The first page re-stamps some of it; the resume must not choose another window.
    import email.utils
    import time
    from datetime import timedelta

    import hubspot_metrics.portal.server as portal_server
    from hubspot_metrics.portal import PortalServer, generate_portal
    from .conftest import TOKEN

    wall = [time.time()]
    monkeypatch.setattr(portal_server, "http_date", lambda ms: email.utils.formatdate(wall[0], usegmt=True))
    portal = generate_portal(scale=1000, seed=3, now=datetime.now(timezone.utc) - timedelta(hours=48))

    def night():
        portal.advance_clock(seconds=86_400)
        wall[0] += 86_400

    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        config = make_config(server, tmp_path / "store.db", objects=("contacts",), lookback_seconds=600)
        run_sync(config)
        night()
        bulk = portal.bulk_touch("contacts", 250)
        run_sync(config)
        portal.update("contacts", bulk[100], {"firstname": "edited in the import's millisecond"})
        night()
        others = [cid for cid in (r["id"] for r in portal.records("contacts")) if cid not in set(bulk)]
        for cid in bulk[:60] + others[:250]:  # two pages of changes tonight
            portal.update("contacts", cid, {"firstname": "edited tonight"})
        interrupt_at_the_second_search(config, monkeypatch)
        run_sync(config)
        assert_rows_equal(stored_rows(config.store_path, "contacts"), expected_rows(portal, "contacts"), "contacts")
