"""Changes between syncs, seen through the API exactly as HubSpot would show them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hubspot_metrics.portal.formats import fmt_datetime

from .conftest import NOW, NOW_MS, get, live_ids, post

LATER = NOW_MS + 3_600_000


def changed_since(server, name, modified, ms):
    body = {"filterGroups": [{"filters": [{"propertyName": modified, "operator": "GTE", "value": str(ms)}]}],
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}], "limit": 200}
    return [r["id"] for r in post(server, f"/crm/v3/objects/{name}/search", body).body["results"]]


def test_advance_clock_moves_now(portal):
    assert portal.advance_clock(seconds=3600) == NOW + timedelta(hours=1)
    assert portal.now == NOW + timedelta(hours=1)


def test_update_sets_values_and_bumps_the_modified_date(portal, server):
    portal.advance_clock(seconds=3600)
    cid = live_ids(portal, "contacts")[5]
    portal.update("contacts", cid, {"firstname": 'Zoë "Z" =1+1', "jobtitle": None})
    record = get(server, f"/crm/v3/objects/contacts/{cid}?properties=firstname,jobtitle").body
    assert record["properties"]["firstname"] == 'Zoë "Z" =1+1' and record["properties"]["jobtitle"] is None
    assert record["updatedAt"] == record["properties"]["lastmodifieddate"] == fmt_datetime(LATER)
    assert changed_since(server, "contacts", "lastmodifieddate", LATER) == [cid]


def test_calculated_properties_follow_updates(portal, server):
    portal.advance_clock(seconds=3600)
    deal = next(r for r in portal.records("deals") if r["properties"]["hs_is_closed"] == "false"
                and r["properties"]["pipeline"] == "default")["id"]
    portal.update("deals", deal, {"dealstage": "closedwon", "amount": "1000", "deal_currency_code": "EUR"})
    p = portal.record("deals", deal)
    assert (p["hs_is_closed"], p["hs_is_closed_won"], p["hs_is_closed_lost"]) == ("true", "true", "false")
    assert p["amount_in_home_currency"] == "1000" and p["hs_deal_stage_probability"] == "1.0"
    contact = next(r for r in portal.records("contacts") if r["properties"]["hs_v2_date_entered_customer"] is None)
    portal.update("contacts", contact["id"], {"lifecyclestage": "customer"})
    c = portal.record("contacts", contact["id"])
    assert c["hs_v2_date_entered_customer"] == c["hs_lifecyclestage_customer_date"] == fmt_datetime(LATER)
    ticket = next(r for r in portal.records("tickets") if r["properties"]["hs_pipeline_stage"] != "4")
    portal.update("tickets", ticket["id"], {"hs_pipeline_stage": "4"})
    t = portal.record("tickets", ticket["id"])
    assert t["closed_date"] == fmt_datetime(LATER)
    assert t["time_to_close"] == str(LATER - int(portal.tables["tickets"].created[portal.tables["tickets"].pos[
        int(ticket["id"])]]))


def test_create_adds_a_record_with_the_next_id(portal, server):
    portal.advance_clock(seconds=3600)
    before = live_ids(portal, "deals")
    new = portal.create("deals", {"dealname": "New", "amount": "1234.5", "dealstage": "closedwon"})
    assert int(new) > int(before[-1])
    page = get(server, f"/crm/v3/objects/deals?limit=100&after=&properties=dealname,pipeline,hs_is_closed_won").body
    assert page["results"][0]["id"] == before[0]
    record = get(server, f"/crm/v3/objects/deals/{new}?properties=dealname,pipeline,hs_is_closed_won,amount").body
    assert record["properties"] == {"hs_object_id": new, "createdate": fmt_datetime(LATER),
                                    "hs_lastmodifieddate": fmt_datetime(LATER), "dealname": "New",
                                    "pipeline": "default", "hs_is_closed_won": "true", "amount": "1234.5"}
    assert changed_since(server, "deals", "hs_lastmodifieddate", LATER) == [new]
    custom = portal.create("contacts", {"favourite_colour": "teal"})
    fields = {p["name"]: p for p in get(server, "/crm/v3/properties/contacts").body["results"]}
    assert fields["favourite_colour"]["type"] == "string" and "hubspotDefined" not in fields["favourite_colour"]
    assert portal.record("contacts", custom)["favourite_colour"] == "teal"


def test_archive_and_restore(portal, server):
    portal.advance_clock(seconds=3600)
    tid = live_ids(portal, "tickets")[0]
    portal.archive("tickets", tid)
    assert tid not in live_ids(portal, "tickets")
    assert get(server, f"/crm/v3/objects/tickets/{tid}").status == 404
    archived = [r for r in get(server, "/crm/v3/objects/tickets?archived=true&limit=100").body["results"]
                if r["id"] == tid]
    assert archived[0]["archivedAt"] == fmt_datetime(LATER) and archived[0]["archived"] is True
    assert changed_since(server, "tickets", "hs_lastmodifieddate", LATER) == []  # search never shows archived
    portal.advance_clock(seconds=60)
    portal.restore("tickets", tid)
    assert live_ids(portal, "tickets")[0] == tid
    assert changed_since(server, "tickets", "hs_lastmodifieddate", LATER + 60_000) == [tid]
    with pytest.raises(KeyError):
        portal.restore("tickets", tid)


def test_merge_removes_the_merged_record_everywhere_and_moves_its_associations(portal, server):
    portal.advance_clock(seconds=3600)
    pairs = list(portal.association_pairs("contacts", "deals"))
    primary = live_ids(portal, "contacts")[1]
    merged, deal = next((c, d) for c, d in pairs if c != primary)
    portal.merge("contacts", primary, merged)
    assert merged not in live_ids(portal, "contacts")
    assert merged not in {r["id"] for r in portal.records("contacts", archived=True)}
    assert get(server, f"/crm/v3/objects/contacts/{merged}").status == 404
    survivor = get(server, f"/crm/v3/objects/contacts/{primary}?properties=hs_merged_object_ids").body
    assert merged in survivor["properties"]["hs_merged_object_ids"].split(";")
    assert survivor["updatedAt"] == fmt_datetime(LATER)
    assert (primary, deal) in set(portal.association_pairs("contacts", "deals"))
    assert (deal, primary) in set(portal.association_pairs("deals", "contacts"))
    assert not any(merged in pair for pair in portal.association_pairs("deals", "contacts"))
    reply = post(server, "/crm/v4/associations/deals/contacts/batch/read", {"inputs": [{"id": deal}]})
    assert int(primary) in [t["toObjectId"] for t in reply.body["results"][0]["to"]]


def test_associate_is_visible_from_both_sides_with_its_type(portal, server):
    portal.advance_clock(seconds=3600)
    deal, contact = live_ids(portal, "deals")[0], live_ids(portal, "contacts")[3]
    portal.associate("deals", deal, "contacts", contact, type_id=36)
    forward = post(server, "/crm/v4/associations/deals/contacts/batch/read", {"inputs": [{"id": deal}]}).body
    (to,) = [t for t in forward["results"][0]["to"] if t["toObjectId"] == int(contact)]
    assert to["associationTypes"] == [{"category": "HUBSPOT_DEFINED", "typeId": 3, "label": None},
                                      {"category": "USER_DEFINED", "typeId": 36, "label": "Champion"}]
    back = post(server, "/crm/v4/associations/contacts/deals/batch/read", {"inputs": [{"id": contact}]}).body
    (fro,) = [t for t in back["results"][0]["to"] if t["toObjectId"] == int(deal)]
    assert fro["associationTypes"] == [{"category": "HUBSPOT_DEFINED", "typeId": 4, "label": None},
                                       {"category": "USER_DEFINED", "typeId": 35, "label": "Champion"}]
    assert set(changed_since(server, "deals", "hs_lastmodifieddate", LATER)) == {deal}
    assert set(changed_since(server, "contacts", "lastmodifieddate", LATER)) == {contact}


def test_bulk_touch_stamps_one_millisecond_and_creates_what_is_missing(portal, server):
    portal.advance_clock(seconds=3600)
    live = live_ids(portal, "companies")
    touched = portal.bulk_touch("companies", len(live) + 25)
    assert touched[:len(live)] == live and len(touched) == len(live) + 25
    stamps = {r["properties"]["hs_lastmodifieddate"] for r in portal.records("companies")}
    assert stamps == {fmt_datetime(LATER)}
    body = {"filterGroups": [{"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "EQ",
                                           "value": str(LATER)}]}], "limit": 1}
    assert post(server, "/crm/v3/objects/companies/search", body).body["total"] == len(live) + 25
    spread = portal.bulk_touch("deals", 3, same_millisecond=False)
    assert [portal.record("deals", d)["hs_lastmodifieddate"] for d in spread] == [
        fmt_datetime(LATER - 2), fmt_datetime(LATER - 1), fmt_datetime(LATER)]
