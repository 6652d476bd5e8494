"""A sandbox that lives: a running clock, a steady pace of changes, and edits on demand; an
incremental sync over it reads exactly what changed, and nothing once the portal is still."""

from __future__ import annotations

from collections import Counter

from hubspot_metrics.objects import ASSOCIATIONS, OBJECTS
from hubspot_metrics.portal import PortalServer, generate_portal
from hubspot_metrics.portal.formats import http_date
from hubspot_metrics.portal.live import EDITS_PATH, LivePortal
from tests.sync.conftest import (assert_rows_equal, expected_associations, expected_rows, make_config, run_sync,
                                 stored_associations, stored_rows)

from .conftest import NOW, NOW_MS, TOKEN, get, post


class Ticks:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds


def live_for(live: LivePortal, ticks: Ticks, seconds: int) -> list:
    """Let the portal live for `seconds`, one second at a time, as the sandbox's loop does."""
    changes = []
    for _ in range(seconds):
        ticks.seconds += 1
        changes += live.catch_up()
    return changes


def stamped(portal, changes_at: list[tuple[int, object]]) -> dict[tuple[str, str], int]:
    """(object type, id) -> the time of the last change that touched it, for records still there."""
    last = {}
    for at, change in changes_at:
        for record in change.records:
            last[record] = at
    return {(t, i): at for (t, i), at in last.items() if portal.tables[t].is_live_id(int(i))}


def test_the_clock_stands_still_until_it_runs_and_then_keeps_its_ticks():
    portal = generate_portal(scale=50, seed=2, now=NOW)
    ticks = Ticks()
    ticks.seconds += 30
    assert portal.now_ms == NOW_MS and not portal.clock_runs
    portal.run_clock(ticks)
    ticks.seconds += 90.25
    assert portal.now_ms == NOW_MS + 90_250
    contact = portal.create("contacts", {"firstname": "Ada"})
    assert portal.record("contacts", contact)["lastmodifieddate"] == "2026-11-20T12:01:30.250Z"
    portal.advance_clock(seconds=60)   # a running clock can still be moved on
    ticks.seconds += 1
    assert portal.now_ms == NOW_MS + 151_250
    portal.stop_clock()
    ticks.seconds += 500
    assert portal.now_ms == NOW_MS + 151_250 and not portal.clock_runs


def test_the_date_header_follows_the_running_clock():
    portal = generate_portal(scale=50, seed=2, now=NOW)
    ticks = Ticks()
    portal.run_clock(ticks)
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        first = get(server, "/crm/v3/objects/contacts?limit=1").header("Date")
        ticks.seconds += 61
        second = get(server, "/crm/v3/objects/contacts?limit=1").header("Date")
    assert (first, second) == (http_date(NOW_MS), http_date(NOW_MS + 61_000))
    assert second == "Fri, 20 Nov 2026 12:01:01 GMT"


def test_the_living_portal_makes_its_pace_of_changes_each_stamped_at_its_time():
    portal = generate_portal(scale=400, seed=3, now=NOW)
    ticks = Ticks()
    live = LivePortal(portal, per_minute=6, seed=7, ticks=ticks)
    live.start()
    changes_at = []
    for _ in range(120):
        ticks.seconds += 1
        changes_at += [(portal.now_ms, change) for change in live.catch_up()]
    # One change every ten seconds, at 10 s, 20 s, ... of the two minutes.
    assert [at - NOW_MS for at, _ in changes_at] == [s * 1000 for s in range(10, 121, 10)]
    for (object_type, rid), at in stamped(portal, changes_at).items():
        modified = portal.tables[object_type].otype.modified
        assert portal.record(object_type, rid)[modified] == portal.tables[object_type].fmt[modified](at)
    assert live.catch_up() == []   # nothing more falls due until the clock moves


def test_the_day_mix_covers_every_kind_of_change_and_keeps_calculated_properties_in_step():
    portal = generate_portal(scale=400, seed=3, now=NOW)
    live = LivePortal(portal, seed=11, ticks=Ticks())
    live.start()
    changes = live.edit(300)
    assert set(Counter(c.kind for c in changes)) == {
        "new contact", "lead qualified", "new deal", "deal moved", "deal closed", "new ticket", "ticket answered",
        "ticket closed", "survey response", "merge", "deletion"}
    for change in changes:
        if change.kind == "deal closed" and change.text.endswith("won"):
            deal = portal.record("deals", change.records[0][1])
            assert (deal["hs_is_closed_won"], deal["hs_deal_stage_probability"]) == ("true", "1.0")
            for object_type, rid in change.records[1:]:
                assert portal.record(object_type, rid)["lifecyclestage"] == "customer"
        if change.kind == "ticket closed":
            ticket = portal.record("tickets", change.records[0][1])
            assert ticket["hs_pipeline_stage"] == "4" and ticket["closed_date"] is not None
        if change.kind == "deletion":
            object_type, rid = change.records[0]
            assert rid in {r["id"] for r in portal.records(object_type, archived=True)}
        if change.kind == "merge":
            primary = change.records[0][1]
            merged = change.text.split()[1]
            assert merged in portal.record("contacts", primary)["hs_merged_object_ids"].split(";")


def test_edits_endpoint_makes_n_changes_and_refuses_a_bad_count():
    portal = generate_portal(scale=400, seed=3, now=NOW)
    ticks = Ticks()
    live = LivePortal(portal, seed=1, ticks=ticks)
    live.start()
    ticks.seconds += 1    # past the generated history, whose newest records carry NOW itself
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        live.attach(server)
        made = post(server, EDITS_PATH, {"count": 4})
        refused = [post(server, EDITS_PATH, body) for body in ({"count": 0}, {"count": "4"}, {}, None)]
        stranger = post(server, EDITS_PATH, {"count": 4}, token="pat-na1-someone-else")
    assert made.status == 200 and len(made.body["changes"]) == 4
    touched = {(r["objectType"], r["id"]) for change in made.body["changes"] for r in change["records"]}
    stamped_now = {(name, str(rid)) for name, t in portal.tables.items() for rid in [*t.live, *t.archived]
                   if t.modified[t.pos[rid]] == NOW_MS + 1000}
    assert stamped_now == touched and len(touched) >= 4
    assert [(r.status, r.body["message"]) for r in refused] == [(400, "count must be a whole number from 1 to 1000")] * 4
    assert stranger.status == 401


def test_incremental_sync_reads_exactly_what_the_living_portal_changed_then_nothing_when_still(tmp_path):
    portal = generate_portal(scale=400, seed=3, now=NOW)
    ticks = Ticks()
    live = LivePortal(portal, per_minute=6, seed=5, ticks=ticks)
    live.start()
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        config = make_config(server, tmp_path / "live.db")
        run_sync(config)
        # The first incremental may also read the full sync's cursor millisecond once more,
        # until its changes prove that HubSpot's Date runs on the records' clock: it reads at
        # least what changed. From then on each incremental reads exactly what changed.
        written = []
        for minute in range(3):
            changes_at = []
            for _ in range(60):
                ticks.seconds += 1
                changes_at += [(portal.now_ms, change) for change in live.catch_up()]
            ticks.seconds += 1
            expected = Counter(object_type for object_type, _ in stamped(portal, changes_at))
            result, _ = run_sync(config)
            written.append({name: r.written for name, r in result.objects.items() if name in OBJECTS})
            if minute == 0:
                assert all(written[0][name] >= expected[name] for name in OBJECTS), (written[0], expected)
            else:
                assert written[-1] == {name: expected[name] for name in OBJECTS}, minute
        assert sum(written[1].values()) > 0 and sum(written[2].values()) > 0

        ticks.seconds += 60        # the clock runs, but nobody works: a still portal
        still, _ = run_sync(config)
    assert {name: r.written for name, r in still.objects.items() if name in OBJECTS} == dict.fromkeys(OBJECTS, 0)
    for name in OBJECTS:
        assert_rows_equal(stored_rows(config.store_path, name), expected_rows(portal, name), name)
    for pair in ASSOCIATIONS:
        assert stored_associations(config.store_path, pair) == expected_associations(portal, pair), pair.table
