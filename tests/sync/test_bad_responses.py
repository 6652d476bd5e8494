"""Garbage from HubSpot: missing fields, wrong types, huge values, unknown stages.

A hand-written server returns exactly the malformed payloads below; the sync must keep what
it can, record what it could not parse, and never crash or corrupt the store.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

from hubspot_metrics.config import Config, HubSpotSettings, SyncSettings

from .conftest import TOKEN, run_sync

CONTACTS_PAGE = {"results": [
    {"id": "1", "properties": {"email": "a@example.com", "createdate": 1705521304281,          # a number, not a string
                               "lastmodifieddate": "2024-01-17T19:55:04.281Z", "hs_object_id": "1"}},
    {"id": "2", "properties": None},                                                            # properties null
    {"id": "3"},                                                                                # properties missing
    {"properties": {"email": "no-id@example.com"}},                                             # no id at all
    {"id": 4, "properties": {"email": {"nested": True}, "associatedcompanyid": "9" * 400,     # int id, dict value
                             "hs_lifecyclestage_customer_date": "", "createdate": "yesterday"}},
    "not an object",
]}
DEALS_PAGE = {"results": [
    {"id": "10", "properties": {"amount": "1e400", "dealstage": "deleted-stage", "pipeline": "gone",
                                "hubspot_owner_id": "999999", "hs_is_closed_won": "maybe", "closedate": "2024-02-30"}},
]}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _send(self, status: int, payload) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path = urlparse(self.path).path.rstrip("/")
        archived = "archived=true" in self.path.lower()
        if path == "/account-info/v3/details":
            self._send(200, {"portalId": "not-a-number", "companyCurrency": None})
        elif path == "/crm/v3/owners":
            self._send(200, {"results": [{"id": 5, "email": None}, {}]} if not archived else {"results": []})
        elif path.startswith("/crm/v3/pipelines/"):
            self._send(200, {"results": [{"id": "default", "stages": [{"id": "s1"}, {"id": "s2", "metadata": {
                "isClosed": "yes", "probability": "lots"}}]}]})
        elif path.startswith("/crm/v3/properties/"):
            self._send(200, {"results": [{"name": "amount", "type": "number"}, {"type": "string"}, "junk"]})
        elif path == "/crm/v3/objects/contacts" and not archived:
            self._send(200, CONTACTS_PAGE)
        elif path == "/crm/v3/objects/deals" and not archived:
            self._send(200, DEALS_PAGE)
        else:
            self._send(200, {"results": []})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        self.rfile.read(length)
        self._send(200, {"results": [{"from": {"id": "10"}, "to": [{"toObjectId": "1", "associationTypes": None},
                                                                  {"associationTypes": []}]}, {}]}
                   if "associations" in self.path else {"total": "many", "results": [{"id": "1"}]})


def test_malformed_responses_are_stored_as_far_as_possible(tmp_path):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        config = Config(hubspot=HubSpotSettings(base_url=f"http://127.0.0.1:{httpd.server_address[1]}",
                                                access_token=TOKEN, timeout_seconds=5),
                        store_path=str(tmp_path / "s.db"), sync=SyncSettings(lookback_seconds=0))
        result, _ = run_sync(config)
    finally:
        httpd.shutdown()
    assert result.status == "ok"
    # (every association answer here carries an entry without a "from": each pair reports it)
    assert result.warnings == ["HubSpot returned 2 contacts without an id; they were skipped."] + [
        f"HubSpot's answer held 1 unreadable {pair} associations entries; the associations stored for those records "
        "are kept." for pair in ("deals-contacts", "deals-companies", "contacts-companies")]

    import sqlite3
    conn = sqlite3.connect(tmp_path / "s.db")
    contacts = conn.execute("SELECT id, email, createdate, associatedcompanyid FROM contacts ORDER BY id").fetchall()
    assert contacts == [("1", "a@example.com", "2024-01-17T19:55:04.281Z", None), ("2", None, None, None),
                        ("3", None, None, None), ("4", '{"nested": true}', "yesterday", None)]
    deals = conn.execute("SELECT id, amount, dealstage, hs_is_closed_won, closedate FROM deals").fetchall()
    # SQLite would turn the raw "1e400" into inf in a REAL column: value_issues keeps it instead.
    assert deals == [("10", None, "deleted-stage", "maybe", "2024-02-30")]
    issues = conn.execute("SELECT object_type, record_id, property, raw_value FROM value_issues ORDER BY 1, 2, 3").fetchall()
    assert issues == [("contacts", "4", "associatedcompanyid", "9" * 400), ("contacts", "4", "createdate", "yesterday"),
                      ("deals", "10", "amount", "1e400"),
                      ("deals", "10", "closedate", "2024-02-30"), ("deals", "10", "hs_is_closed_won", "maybe")]
    assert conn.execute("SELECT id, is_closed, probability FROM pipeline_stages WHERE object_type = 'deals' "
                        "ORDER BY id").fetchall() == [
        ("s1", None, None), ("s2", None, None)]
    assert conn.execute("SELECT id FROM owners ORDER BY id").fetchall() == [("5",)]
    assert conn.execute("SELECT deal_id, contact_id FROM associations_deals_contacts").fetchall() == [("10", "1")]
