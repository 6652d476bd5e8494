"""Rules that a planted bug once slipped past (issue 12): the lookback against an index that
lags on older edits too, a resumed run's cursor, the capped 5xx backoff and the one-second wait
after HubSpot's per-second search limit."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from hubspot_metrics.client import HubSpotClient
from hubspot_metrics.portal import PortalServer, generate_portal
from hubspot_metrics.portal.search import index_delays_ms

from .conftest import NOW, TOKEN, make_config, run_sync, state_of, stored_rows
from .test_sync import interrupt_at_the_second_search

LAG_SECONDS = 100


@pytest.mark.parametrize("date_header", [True, False], ids=["date", "no-date"])
def test_an_edit_the_index_still_hides_behind_newer_ones_is_read_by_the_lookback(tmp_path, date_header):
    portal = generate_portal(scale=200, seed=6, now=NOW)
    ids = sorted((r["id"] for r in portal.records("contacts")), key=int)
    delays = dict(zip(ids, index_delays_ms(np.array([int(i) for i in ids]), LAG_SECONDS * 1000)))
    slow = next(i for i in ids if delays[i] >= 0.9 * LAG_SECONDS * 1000)  # indexed late
    quick = next(i for i in ids if delays[i] <= 0.6 * LAG_SECONDS * 1000)  # indexed soon
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        config = make_config(server, tmp_path / "store.db", objects=("contacts",), lookback_seconds=600)
        run_sync(config)
        portal.advance_clock(seconds=3600)
        portal.update("contacts", slow, {"firstname": "older edit"})
        portal.advance_clock(seconds=10)
        portal.update("contacts", quick, {"firstname": "newer edit"})
        portal.advance_clock(seconds=65)  # the newer edit is searchable, the older one not yet
        server.faults.configure(rate=0.0, kinds={"index_lag"} if date_header else {"index_lag", "no_date"},
                                index_lag_seconds=LAG_SECONDS)
        run_sync(config)
        stored = stored_rows(config.store_path, "contacts")
        assert (stored[slow]["firstname"], stored[quick]["firstname"]) != ("older edit", "newer edit")
        assert stored[quick]["firstname"] == "newer edit"  # the cursor is now past the older edit
        portal.advance_clock(seconds=300)
        run_sync(config)
    stored = stored_rows(config.store_path, "contacts")
    assert (stored[slow]["firstname"], stored[quick]["firstname"]) == ("older edit", "newer edit")


def test_a_resumed_run_ends_with_the_newest_change_of_both_attempts_as_its_cursor(tmp_path, monkeypatch):
    portal = generate_portal(scale=400, seed=3, now=NOW)
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        config = make_config(server, tmp_path / "store.db", objects=("contacts",))
        run_sync(config)
        contacts = sorted((r["id"] for r in portal.records("contacts")), key=int)
        portal.advance_clock(seconds=3600)
        for cid in contacts[200:250]:  # the second page of tonight's changes, by id
            portal.update("contacts", cid, {"firstname": "earlier"})
        portal.advance_clock(seconds=60)
        for cid in contacts[:200]:  # the first page: the newest changes
            portal.update("contacts", cid, {"firstname": "newest"})
        newest_ms = portal.now_ms
        interrupt_at_the_second_search(config, monkeypatch)
        server.reset_log()
        run_sync(config)  # resumes above the first page
        searches = [r.body for r in server.request_log if r.path.endswith("/contacts/search")]
    floor = [f for f in searches[0]["filterGroups"][0]["filters"] if f["propertyName"] == "hs_object_id"]
    assert floor == [{"propertyName": "hs_object_id", "operator": "GT", "value": contacts[199]}]
    # (a cursor from the resume's pages alone would be a minute older: tomorrow re-reads more)
    assert state_of(config.store_path, "contacts")["cursor_ms"] == newest_ms


def _waits(server, call, max_retries: int) -> list[float]:
    slept: list[float] = []
    settings = replace(make_config(server, "unused.db").hubspot, max_retries=max_retries)
    client = HubSpotClient(settings, sleep=slept.append)
    call(client)
    return slept


def test_the_5xx_backoff_doubles_from_half_a_second_and_stops_at_30_seconds(tmp_path):
    portal = generate_portal(scale=60, seed=1, now=NOW)
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        server.faults.plan("5xx", "/crm/v3/objects/contacts", times=10)
        slept = _waits(server, lambda c: c.list_page("contacts", ["email"]), 10)
    ceilings = [min(30.0, 0.5 * 2 ** i) for i in range(10)]  # with jitter: between half and all of it
    assert len(slept) == 10
    assert all(ceiling / 2 <= wait <= ceiling for wait, ceiling in zip(slept, ceilings)), slept


def test_a_secondly_429_on_search_waits_one_second(tmp_path):
    portal = generate_portal(scale=60, seed=1, now=NOW)
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        server.faults.plan("429", "/crm/v3/objects/contacts/search", times=3)
        slept = _waits(server, lambda c: c.search("contacts", {"filterGroups": [], "limit": 1}), 8)
        statuses = [r.status for r in server.request_log]
    assert statuses == [429, 429, 429, 200]
    assert slept == [1.0, 1.0, 1.0]
