"""Injected faults and the symptom each one produces in a client."""

from __future__ import annotations

import http.client
import json
import time

import pytest

from hubspot_metrics.portal import PortalServer, generate_portal

from .conftest import NOW, NOW_MS, TOKEN, get, post

PATH = "/crm/v3/objects/contacts?limit=100"


def raw_request(server, path=PATH):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {TOKEN}"})
        response = conn.getresponse()
        return response, response.read()
    finally:
        conn.close()


def test_5xx_faults_answer_with_server_errors_json_or_html(server):
    server.faults.configure(rate=1.0, kinds={"5xx"}, seed=4)
    replies = [get(server, PATH) for _ in range(24)]
    statuses = {r.status for r in replies}
    assert statuses == {500, 502, 503, 504}
    html = [r for r in replies if r.status in (502, 504)]
    assert all(r.header("Content-Type") == "text/html" and "cloudflare" in r.body for r in html)
    json_errors = [r for r in replies if r.status in (500, 503)]
    assert all(r.body["status"] == "error" for r in json_errors)
    assert [r.fault for r in server.request_log] == ["5xx"] * 24
    assert [r.status for r in server.request_log] == [r.status for r in replies]


def test_reset_closes_the_connection_without_a_response(server):
    server.faults.configure(rate=1.0, kinds={"reset"}, seed=1)
    with pytest.raises((ConnectionError, http.client.RemoteDisconnected)):
        raw_request(server)
    (record,) = server.request_log
    assert (record.status, record.fault) == (0, "reset")


def test_truncate_announces_the_full_length_but_sends_part(server):
    server.faults.configure(rate=1.0, kinds={"truncate"}, seed=1)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", PATH, headers={"Authorization": f"Bearer {TOKEN}"})
    response = conn.getresponse()
    assert response.status == 200
    announced = int(response.getheader("Content-Length"))
    with pytest.raises(http.client.IncompleteRead) as caught:
        response.read()
    assert 0 < len(caught.value.partial) < announced
    conn.close()
    assert [(r.status, r.fault) for r in server.request_log] == [(200, "truncate")]


def test_slow_answers_late_but_correctly(server):
    server.faults.configure(rate=1.0, kinds={"slow"}, seed=1, slow_seconds=0.3)
    started = time.perf_counter()
    reply = get(server, PATH)
    assert time.perf_counter() - started >= 0.3
    assert reply.status == 200 and len(reply.body["results"]) == 100


def test_spurious_429_is_a_ten_secondly_rolling_limit(server):
    server.faults.configure(rate=1.0, kinds={"429"}, seed=1)
    reply = get(server, PATH)
    assert reply.status == 429
    assert reply.body["policyName"] == "TEN_SECONDLY_ROLLING" and reply.body["errorType"] == "RATE_LIMIT"
    assert reply.header("X-HubSpot-RateLimit-Remaining") == "0"


def test_index_lag_hides_fresh_changes_from_search_only(portal, server):
    cid = next(portal.records("contacts"))["id"]
    portal.advance_clock(seconds=60)
    portal.update("contacts", cid, {"jobtitle": "Fresh"})
    body = {"filterGroups": [{"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE",
                                           "value": str(NOW_MS + 60_000)}]}]}
    server.faults.configure(rate=0.0, kinds={"index_lag"}, index_lag_seconds=30)
    assert post(server, "/crm/v3/objects/contacts/search", body).body["total"] == 0
    assert get(server, f"/crm/v3/objects/contacts/{cid}?properties=jobtitle").body["properties"]["jobtitle"] == "Fresh"
    portal.advance_clock(seconds=31)
    assert [r["id"] for r in post(server, "/crm/v3/objects/contacts/search", body).body["results"]] == [cid]
    server.faults.clear()
    portal.advance_clock(seconds=-31)
    assert post(server, "/crm/v3/objects/contacts/search", body).body["total"] == 1


def test_faults_are_seeded_by_request_order_and_can_be_cleared():
    def run(seed):
        portal = generate_portal(scale=100, seed=1, now=NOW)
        with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
            server.faults.configure(rate=0.15, kinds={"5xx", "429", "slow", "truncate", "reset", "index_lag"},
                                    seed=seed, slow_seconds=0.01)
            for _ in range(60):
                try:
                    raw_request(server, "/crm/v3/objects/contacts?limit=5")
                except (ConnectionError, http.client.HTTPException):
                    pass
            faults = [(r.fault, r.status) for r in server.request_log]
            server.faults.clear()
            assert get(server, PATH).status == 200 and server.request_log[-1].fault is None
        return faults

    first = run(7)
    assert first == run(7)
    assert first != run(8)
    injected = [f for f, _ in first if f]
    assert 3 <= len(injected) <= 20 and len(set(injected)) >= 3


# --- the ill-formed kinds (issue 12) ---------------------------------------------------------

def test_hollow_answers_are_empty_bodies_json_without_results_or_204(server):
    from hubspot_metrics.portal.faults import HOLLOW_BODIES

    answers = []
    for index in range(len(HOLLOW_BODIES)):
        server.faults.plan("hollow", "/crm/v3/objects/contacts", variant=(index + 0.5) / len(HOLLOW_BODIES))
        response, body = raw_request(server)
        answers.append((response.status, body))
    assert answers == [(200, b""), (200, b"{}"), (200, b"null"), (200, b"[]"), (204, b"")]


def test_a_firewall_403_is_an_html_page(server):
    server.faults.plan("html403", "/crm/v3/objects/contacts")
    response, body = raw_request(server)
    assert (response.status, response.getheader("Content-Type")) == (403, "text/html")
    assert body.startswith(b"<!DOCTYPE html>") and b"Access denied" in body


def test_a_search_meets_the_per_second_429(server):
    server.faults.plan("429", "/crm/v3/objects/contacts/search")
    reply = post(server, "/crm/v3/objects/contacts/search", {"limit": 1})
    assert (reply.status, reply.body["policyName"], reply.rate_headers) == (429, "SECONDLY", {})


def test_stuck_paging_names_the_asked_cursor_as_the_next(server):
    first = get(server, PATH).body["paging"]["next"]["after"]
    server.faults.configure(rate=0.0, kinds={"stuck_paging"})
    assert get(server, PATH).body["paging"]["next"]["after"] == first  # the first page is as before
    assert get(server, f"{PATH}&after={first}").body["paging"]["next"]["after"] == first


def test_no_date_drops_the_date_header(server):
    assert raw_request(server)[0].getheader("Date") is not None
    server.faults.configure(rate=0.0, kinds={"no_date"})
    assert raw_request(server)[0].getheader("Date") is None


def test_drip_sends_the_real_answer_slowly(server):
    server.faults.configure(rate=1.0, kinds={"drip"}, drip_seconds=0.001)
    response, body = raw_request(server, "/crm/v3/objects/contacts?limit=1")
    assert response.status == 200 and len(json.loads(body)["results"]) == 1


def test_oversized_announces_or_streams_the_configured_size(server):
    server.faults.configure(rate=0.0, kinds=set(), oversize_bytes=300_000)
    for variant, framing in ((0.0, "300000"), (0.9, None)):
        server.faults.plan("oversized", "/crm/v3/objects/contacts", variant=variant)
        response, body = raw_request(server)
        assert (response.status, response.getheader("Content-Length"), len(body)) == (200, framing, 300_000)
        assert body.startswith(b'{"results":[')
