"""The sync keeps each property's options (value and label) from HubSpot's definitions, so a
breakdown by source reads "Direct traffic", and a store synced before options were kept
reads the definitions once more to fill them."""

from __future__ import annotations

import json
import sqlite3

from .conftest import make_config, request_counts, run_sync

DEFINITIONS = ("GET", "/crm/v3/properties/contacts")


def options(path, name: str, object_type: str = "contacts"):
    conn = sqlite3.connect(path)
    try:
        row = conn.execute("SELECT options FROM properties WHERE object_type = ? AND name = ?",
                           [object_type, name]).fetchone()
    finally:
        conn.close()
    return None if row is None or row[0] is None else json.loads(row[0])


def test_options_are_stored_with_the_definitions_and_filled_once_in_an_older_store(server, tmp_path):
    path = tmp_path / "store.db"
    config = make_config(server, path)
    run_sync(config)
    assert options(path, "hs_analytics_source") == [
        {"value": "ORGANIC_SEARCH", "label": "Organic search"}, {"value": "PAID_SEARCH", "label": "Paid search"},
        {"value": "EMAIL_MARKETING", "label": "Email marketing"}, {"value": "SOCIAL_MEDIA", "label": "Organic social"},
        {"value": "REFERRALS", "label": "Referrals"}, {"value": "OTHER_CAMPAIGNS", "label": "Other campaigns"},
        {"value": "DIRECT_TRAFFIC", "label": "Direct traffic"}, {"value": "OFFLINE", "label": "Offline sources"},
        {"value": "PAID_SOCIAL", "label": "Paid social"}]
    assert options(path, "createdate") == []  # a property without options says so, rather than "unknown"
    assert options(path, "dealstage", "deals")[0] == {"value": "appointmentscheduled",
                                                      "label": "Appointment Scheduled (Sales Pipeline)"}

    server.reset_log()
    run_sync(config)  # incremental: definitions known, not read again
    assert request_counts(server)[DEFINITIONS] == 0

    conn = sqlite3.connect(path)  # as a store synced before m006 has it
    conn.execute("UPDATE properties SET options = NULL")
    conn.commit()
    conn.close()
    server.reset_log()
    run_sync(config)
    assert request_counts(server)[DEFINITIONS] == 1
    assert options(path, "hs_analytics_source")[6] == {"value": "DIRECT_TRAFFIC", "label": "Direct traffic"}
    server.reset_log()
    run_sync(config)
    assert request_counts(server)[DEFINITIONS] == 0
