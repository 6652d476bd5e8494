"""Ill-formed answers (issue 12): a 200 with no answer in it, paging that never advances, an
answer that trickles or never ends, a firewall's 403, a failing token endpoint, a record
dated in year 9999. Each goes through the real client against the simulated portal."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace

import pytest

from hubspot_metrics.client import HubSpotClient
from hubspot_metrics.errors import HubSpotError
from hubspot_metrics.portal import PortalServer, generate_portal
from hubspot_metrics.portal.faults import HOLLOW_BODIES

from .conftest import (NOW, TOKEN, assert_rows_equal, clean_dump, expected_rows, full_store_dump, make_config,
                       run_sync, state_of, stored_rows)

CONTACTS = "/crm/v3/objects/contacts"
CONTACTS_SEARCH = "/crm/v3/objects/contacts/search"
GIVE_UP = "after 9 attempts; what was synced so far is kept, run the sync again later."


def hollow_variant(index: int) -> float:
    """The fault variant that picks HOLLOW_BODIES[index]."""
    return (index + 0.5) / len(HOLLOW_BODIES)


def last_run_status(path) -> str:
    conn = sqlite3.connect(path)
    status = conn.execute("SELECT status FROM sync_runs ORDER BY id DESC LIMIT 1").fetchone()[0]
    conn.close()
    return status


def faults_met(server) -> list[tuple[str, int, str]]:
    return [(r.path, r.status, r.fault) for r in server.request_log if r.fault]


@pytest.fixture
def small_portal():
    return generate_portal(scale=200, seed=4, now=NOW)


# --- point 1: a 200 that carries no answer ---------------------------------------------------

@pytest.mark.parametrize("index", range(len(HOLLOW_BODIES)), ids=["empty", "{}", "null", "[]", "204"])
def test_a_hollow_list_page_is_asked_again_and_nothing_is_lost(tmp_path, small_portal, index):
    expected = clean_dump(small_portal, tmp_path)
    with PortalServer(small_portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        server.faults.plan("hollow", CONTACTS, skip=1, variant=hollow_variant(index))  # the second page
        path = tmp_path / "store.db"
        result, stats = run_sync(make_config(server, path))
        assert faults_met(server) == [(CONTACTS, 204 if HOLLOW_BODIES[index] is None else 200, "hollow")]
    assert result.status == "ok" and stats.retries == 1
    assert full_store_dump(path) == expected


def test_a_list_that_keeps_answering_hollow_fails_with_nothing_marked_complete(tmp_path, small_portal):
    expected = clean_dump(small_portal, tmp_path)
    with PortalServer(small_portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        server.faults.plan("hollow", CONTACTS, skip=1, times=9, variant=hollow_variant(1))
        path = tmp_path / "store.db"
        config = make_config(server, path)
        with pytest.raises(HubSpotError) as failed:
            run_sync(config)
        assert str(failed.value) == ("HubSpot kept failing on the contacts list (a 200 answer that is not a "
                                     f"well-formed reply: '{{}}') {GIVE_UP}")
        first_page_after = [r.query["after"][0] for r in server.request_log if r.path == CONTACTS
                            and "after" in r.query][0]
        assert state_of(path, "contacts") == {"mode": "full", "list_after": first_page_after, "cursor_ms": None,
                                              "pending_cursor_ms": state_of(path, "contacts")["pending_cursor_ms"],
                                              "full_completed_at": None}
        assert last_run_status(path) == "failed"
        run_sync(config)  # the next night resumes at the page that failed
    assert full_store_dump(path) == expected


def test_hollow_search_pages_are_asked_again_and_every_edit_arrives(tmp_path, small_portal):
    with PortalServer(small_portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        path = tmp_path / "store.db"
        config = make_config(server, path)
        run_sync(config)
        small_portal.advance_clock(seconds=3600)
        ids = [r["id"] for r in small_portal.records("contacts")]
        for cid in ids:
            small_portal.update("contacts", cid, {"firstname": f"edited {cid}"})
        small_portal.advance_clock(seconds=60)
        promises_more = b'{"total":500,"results":[],"paging":{"next":{"after":"200"}}}'
        server.faults.plan("hollow", CONTACTS_SEARCH, body=promises_more)
        server.faults.plan("hollow", CONTACTS_SEARCH, variant=hollow_variant(0))  # an empty body
        result, stats = run_sync(config)
        assert [f for _, _, f in faults_met(server)] == ["hollow", "hollow"]
    assert result.status == "ok" and stats.retries == 2
    stored = stored_rows(path, "contacts")
    assert_rows_equal(stored, expected_rows(small_portal, "contacts"), "contacts")
    assert sorted(row["firstname"] for row in stored.values() if row["archived"] == 0) == sorted(
        f"edited {cid}" for cid in ids)


def test_a_search_that_keeps_answering_hollow_leaves_the_cursor_where_it_was(tmp_path, small_portal):
    with PortalServer(small_portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        path = tmp_path / "store.db"
        config = make_config(server, path)
        run_sync(config)
        before = state_of(path, "contacts")
        small_portal.advance_clock(seconds=3600)
        small_portal.update("contacts", next(small_portal.records("contacts"))["id"], {"jobtitle": "x"})
        server.faults.plan("hollow", CONTACTS_SEARCH, times=9, variant=hollow_variant(2))
        with pytest.raises(HubSpotError, match=re.escape(
                f"HubSpot kept failing on the contacts search (a 200 answer that is not a well-formed reply: "
                f"'null') {GIVE_UP}")):
            run_sync(config)
    assert state_of(path, "contacts") == before
    assert last_run_status(path) == "failed"


# --- point 2: reference data is replaced only by a well-formed answer -----------------------

@pytest.mark.parametrize("route, body, what", [
    ("/account-info/v3/details", b"[]", "the account details"),
    ("/account-info/v3/details", b"{}", "the account details"),
    ("/crm/v3/pipelines/deals", b"{}", "the deals pipelines"),
    ("/crm/v3/pipelines/deals", b"[]", "the deals pipelines"),
])
def test_a_malformed_account_or_pipelines_answer_keeps_what_the_store_holds(tmp_path, small_portal, route, body, what):
    with PortalServer(small_portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        path = tmp_path / "store.db"
        config = make_config(server, path)
        run_sync(config)
        before = full_store_dump(path)
        assert before["account"][1] and before["pipeline_stages"][1]
        server.faults.plan("hollow", route, times=9, body=body)
        with pytest.raises(HubSpotError, match=re.escape(
                f"HubSpot kept failing on {what} (a 200 answer that is not a well-formed reply: "
                f"'{body.decode()}') {GIVE_UP}")):
            run_sync(config)
    assert full_store_dump(path) == before
    assert last_run_status(path) == "failed"


# --- point 6: paging that never advances ----------------------------------------------------

def test_paging_that_repeats_its_cursor_stops_in_one_sentence(tmp_path, small_portal):
    with PortalServer(small_portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        server.faults.configure(rate=0.0, kinds={"stuck_paging"})
        path = tmp_path / "store.db"
        with pytest.raises(HubSpotError) as failed:
            run_sync(make_config(server, path))
        pages = [r for r in server.request_log if r.path == CONTACTS]
    cursor = pages[1].query["after"][0]
    assert str(failed.value) == (f"HubSpot's paging of the contacts list sent the cursor {cursor!r} a second time; "
                                 "the sync stopped instead of reading the same pages forever, run it again later.")
    assert len(pages) == 2  # the first page, and the one that named itself as the next


def test_association_paging_that_repeats_its_cursor_stops(tmp_path):
    from hubspot_metrics.sync import Sync
    from hubspot_metrics.store import open_store

    portal = generate_portal(scale=200, seed=4, now=NOW)
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        config = make_config(server, tmp_path / "store.db")
        client = HubSpotClient(config.hubspot, sleep=lambda s: None)
        sync = Sync(config, open_store(config.store_path), client)
        company = next(portal.records("companies"))["id"]
        server.faults.configure(rate=0.0, kinds={"stuck_paging"})
        original = client.associations

        def paged_once(from_type, to_type, inputs):  # as if HubSpot had paged this record's list
            return original(from_type, to_type, [{**i, "after": "MTAw"} for i in inputs])

        client.associations = paged_once
        with pytest.raises(HubSpotError) as failed:
            sync._read_associations("companies", "contacts", [str(company)])
    assert str(failed.value) == (f"HubSpot's paging of the companies-contacts associations sent the cursor "
                                 f"'{company}/MTAw' a second time; the sync stopped instead of reading the same "
                                 "pages forever, run it again later.")
    assert sum(1 for r in server.request_log if "associations" in r.path) == 2


# --- point 7: a deadline for the whole request, a cap on its size ---------------------------

def test_an_answer_that_trickles_in_is_cut_at_the_request_deadline(tmp_path, small_portal):
    with PortalServer(small_portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        config = make_config(server, tmp_path / "store.db")
        config = replace(config, hubspot=replace(config.hubspot, timeout_seconds=1, max_retries=1))
        server.faults.configure(rate=1.0, kinds={"drip"}, drip_seconds=0.2)  # every read is quick
        started = time.monotonic()
        with pytest.raises(HubSpotError) as failed:
            run_sync(config)
        took = time.monotonic() - started
    assert str(failed.value) == ("HubSpot kept failing on the account details (no whole answer within 1 s) after 2 "
                                 "attempts; what was synced so far is kept, run the sync again later.")
    assert took < 30  # (two deadlines; the answer alone would trickle for a minute and more)


@pytest.mark.parametrize("kind", ["oversized", "oversized_error"], ids=["200", "502"])
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "endless-chunked"])
def test_an_answer_past_the_size_cap_fails_the_request(tmp_path, small_portal, chunked, kind):
    # (a 502's body is the one the SDK reads itself to build its exception: the cap holds there too)
    with PortalServer(small_portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        config = make_config(server, tmp_path / "store.db")
        client = HubSpotClient(config.hubspot, sleep=lambda s: None, max_response_bytes=2**20)
        server.faults.configure(rate=0.0, kinds=set(), oversize_bytes=215 * 2**20)
        server.faults.plan(kind, CONTACTS, variant=0.9 if chunked else 0.0)
        with pytest.raises(HubSpotError) as failed:
            client.list_page("contacts", ["email"])
        served = [(r.path, r.fault) for r in server.request_log]
    read = r"1,\d{3},\d{3}" if chunked else "225,443,840"
    assert re.fullmatch(rf"HubSpot's answer to the contacts list passed 1 MB \({read} bytes read or announced\) "
                        r"and was cut off; check any proxy between here and HubSpot, then run again\.",
                        str(failed.value)), str(failed.value)
    assert client.stats.requests == 1 and served == [(CONTACTS, kind)]


# --- point 11: only HubSpot's MISSING_SCOPES answer means a missing scope --------------------

def test_a_firewalls_403_page_fails_the_run_and_says_what_came_back(tmp_path, small_portal):
    with PortalServer(small_portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        server.faults.plan("html403", CONTACTS)
        path = tmp_path / "store.db"
        with pytest.raises(HubSpotError) as failed:
            run_sync(make_config(server, path))
    assert type(failed.value) is HubSpotError and failed.value.exit_code == 3
    assert str(failed.value) == (
        "HubSpot's address answered the contacts list with HTTP 403 and '<!DOCTYPE html> <html><head><title>Access "
        "denied</title></head><body><h1>Access denied</h1><p>You do not have access to …', "
        "which is not HubSpot's missing-scope answer; check any proxy or firewall in between.")
    assert last_run_status(path) == "failed"


def test_nightly_does_not_say_ok_over_a_firewalls_403(tmp_path, small_portal):
    from tests.results.test_nightly import nightly

    with PortalServer(small_portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        assert nightly(tmp_path, server.url)[0] == 0
        server.faults.configure(rate=1.0, kinds={"html403"})
        code, out, err = nightly(tmp_path, server.url)
    assert (code, out) == (3, "")
    assert err.startswith("Error: HubSpot's address answered the account details with HTTP 403 and '<!DOCTYPE html>")
    assert err.count("\n") == 1 and "Traceback" not in err and TOKEN not in err


# --- point 12: the OAuth token endpoint under the one retry policy ---------------------------

def test_a_passing_5xx_on_the_token_endpoint_is_retried(tmp_path, small_portal):
    from .test_auth import oauth_config

    with PortalServer(small_portal, token=TOKEN, requests_per_10s=None, search_per_second=None,
                      oauth_clients={"app-1": ("s3cret", "na1-refresh")}) as server:
        server.faults.plan("5xx", "/oauth/v1/token", times=2, variant=0.0)
        client = HubSpotClient(oauth_config(server, tmp_path / "s.db").hubspot, sleep=lambda s: None)
        assert len(client.list_page("contacts", ["email"])["results"]) == 100
        log = [(r.method, r.path, r.status) for r in server.request_log]
    assert log == [("POST", "/oauth/v1/token", 500), ("POST", "/oauth/v1/token", 500),
                   ("POST", "/oauth/v1/token", 200), ("GET", CONTACTS, 200)]
    assert client.stats.retries == 2


def test_a_400_from_the_token_endpoint_means_bad_credentials(tmp_path, small_portal):
    from hubspot_metrics.errors import AuthError

    from .test_auth import oauth_config

    with PortalServer(small_portal, token=TOKEN, requests_per_10s=None, search_per_second=None,
                      oauth_clients={"app-1": ("another secret", "na1-refresh")}) as server:
        with pytest.raises(AuthError) as failed:
            HubSpotClient(oauth_config(server, tmp_path / "s.db").hubspot, sleep=lambda s: None)
        assert len(server.request_log) == 1
    assert failed.value.exit_code == 4
    assert str(failed.value) == ("HubSpot refused to refresh the OAuth access token (HTTP 400); check [hubspot] "
                                 "client_id, client_secret and refresh_token, or reinstall the app.")


# --- point 17: a record from the future never becomes the cursor -----------------------------

def test_a_record_modified_in_year_9999_does_not_freeze_the_cursor(tmp_path, small_portal):
    with PortalServer(small_portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        server.faults.configure(rate=0.0, kinds={"no_date"})  # this machine's clock is the only one
        path = tmp_path / "store.db"
        config = make_config(server, path)
        ids = [r["id"] for r in small_portal.records("contacts")][:3]
        far = (NOW.replace(year=9999) - NOW).total_seconds()
        small_portal.advance_clock(seconds=far)
        small_portal.update("contacts", ids[0], {"firstname": "from the future"})
        small_portal.advance_clock(seconds=-far)
        first, _ = run_sync(config)  # full: the listing meets it
        small_portal.advance_clock(seconds=3600)
        small_portal.update("contacts", ids[1], {"firstname": "an hour later"})
        second, _ = run_sync(config)  # incremental: the search meets it again
        small_portal.advance_clock(seconds=3600)
        small_portal.update("contacts", ids[2], {"firstname": "two hours later"})
        third, _ = run_sync(config)
    warning = ("HubSpot returned 1 contacts modified later than its own clock (e.g. in year 9999); they are stored, "
               "but the sync's cursor does not move past HubSpot's time, so later edits are still read.")
    assert [warning in r.warnings for r in (first, second, third)] == [True, True, True]
    stored = stored_rows(path, "contacts")
    assert [stored[i]["firstname"] for i in ids] == ["from the future", "an hour later", "two hours later"]
    assert state_of(path, "contacts")["cursor_ms"] < int(NOW.timestamp() * 1000) + 3 * 3600_000


# --- point 8: Ctrl-C and SIGTERM end a run at once ------------------------------------------

@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupt_during_retry_waits_ends_the_run_at_once(tmp_path, small_portal, signum):
    from .test_resilience import _cli_env, _write_config

    with PortalServer(small_portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        # The second list page fails on and on: its retries wait in the page fetcher's thread.
        server.faults.plan("5xx", CONTACTS, skip=1, times=1000)
        path = tmp_path / "store.db"
        proc = subprocess.Popen([sys.executable, "-m", "hubspot_metrics", "sync"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True,
                                env=_cli_env(server, path, _write_config(tmp_path)))
        try:
            deadline = time.monotonic() + 60
            while sum(1 for r in server.request_log if r.path == CONTACTS and r.fault) < 3:  # backing off
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.05)
            proc.send_signal(signum)
            sent = time.monotonic()
            out, err = proc.communicate(timeout=30)
            took = time.monotonic() - sent
        finally:
            proc.kill()
    assert (proc.returncode, out, err.splitlines()) == (130, "", [
        "contacts (full): started (194 records in HubSpot)",
        "Interrupted; what was committed is kept and the next run resumes from it."])
    assert took < 5  # (the next retry alone was due 2 s and more later, the whole budget a minute)
    assert last_run_status(path) == "failed"
    assert state_of(path, "contacts")["list_after"] is not None  # the first page stays, the resume starts after it


def test_owners_paging_that_repeats_its_cursor_stops(tmp_path, small_portal):
    template = small_portal.owners[0]
    small_portal.owners += [{**template, "id": str(90_000_000 + i), "email": f"owner{i}@example.com"}
                            for i in range(120)]  # more than one page of 100
    with PortalServer(small_portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        server.faults.configure(rate=0.0, kinds={"stuck_paging"})
        with pytest.raises(HubSpotError) as failed:
            run_sync(make_config(server, tmp_path / "store.db"))
        pages = [r for r in server.request_log if r.path.rstrip("/") == "/crm/v3/owners"]
    cursor = pages[1].query["after"][0]
    assert str(failed.value) == (f"HubSpot's paging of the owners sent the cursor {cursor!r} a second time; the sync "
                                 "stopped instead of reading the same pages forever, run it again later.")
    assert len(pages) == 2
