"""The objects API over HTTP: list paging, properties, archived records, search and batch read."""

from __future__ import annotations

import uuid

from hubspot_metrics.portal import PortalServer, generate_portal
from hubspot_metrics.portal.formats import fmt_datetime, parse_time

from .conftest import NOW, NOW_MS, TOKEN, get, live_ids, post


def list_all(server, path: str, limit: int = 100) -> tuple[list[dict], list[dict]]:
    """(records, pages) of a full pass through a list endpoint."""
    records, pages, after = [], [], None
    sep = "&" if "?" in path else "?"
    while True:
        reply = get(server, f"{path}{sep}limit={limit}" + (f"&after={after}" if after else ""))
        assert reply.status == 200, reply.body
        pages.append(reply.body)
        records += reply.body["results"]
        if "paging" not in reply.body:
            return records, pages
        after = reply.body["paging"]["next"]["after"]


def assert_error(reply, status: int, category: str) -> None:
    assert reply.status == status, reply.body
    assert reply.body["status"] == "error" and reply.body["category"] == category
    assert isinstance(reply.body["message"], str) and reply.body["message"]
    uuid.UUID(reply.body["correlationId"])


def test_list_pages_through_every_live_record_once_in_id_order(portal, server):
    for name in ("contacts", "0-2", "deals", "tickets", "0-19"):
        records, pages = list_all(server, f"/crm/v3/objects/{name}")
        full = {"0-2": "companies", "0-19": "feedback_submissions"}.get(name, name)
        assert [r["id"] for r in records] == live_ids(portal, full)
        assert all(len(p["results"]) == 100 and p["paging"]["next"]["after"] for p in pages[:-1])
        assert "paging" not in pages[-1]  # the last page has no paging key at all
        assert all(r["archived"] is False and "archivedAt" not in r for r in records)


def test_list_limit_defaults_to_10_and_refuses_more_than_100(server):
    assert len(get(server, "/crm/v3/objects/contacts").body["results"]) == 10
    assert len(get(server, "/crm/v3/objects/contacts?limit=100").body["results"]) == 100
    assert_error(get(server, "/crm/v3/objects/contacts?limit=101"), 400, "VALIDATION_ERROR")
    assert_error(get(server, "/crm/v3/objects/contacts?limit=abc"), 400, "VALIDATION_ERROR")
    assert_error(get(server, "/crm/v3/objects/contacts?after=%21%21"), 400, "VALIDATION_ERROR")


def test_archived_true_lists_only_archived_records_with_archived_at(portal, server):
    records, _ = list_all(server, "/crm/v3/objects/contacts?archived=true")
    truth = list(portal.records("contacts", archived=True))
    assert [r["id"] for r in records] == [r["id"] for r in truth] and len(records) == 8
    assert all(r["archived"] is True for r in records)
    assert [r["archivedAt"] for r in records] == [r["archivedAt"] for r in truth]


def test_properties_as_repeated_and_comma_separated_params_give_the_same_records(portal, server):
    repeated = get(server, "/crm/v3/objects/contacts?limit=20&properties=email&properties=jobtitle"
                           "&properties=no_such_property").body
    comma = get(server, "/crm/v3/objects/contacts?limit=20&properties=email,jobtitle,no_such_property").body
    assert repeated["results"] == comma["results"]
    assert repeated["paging"]["next"]["after"] == comma["paging"]["next"]["after"]
    truth = list(portal.records("contacts"))[:20]
    for got, want in zip(repeated["results"], truth):
        wp = want["properties"]
        # Requested properties without a value come back as null; unknown ones are left out.
        assert got["properties"] == {"hs_object_id": want["id"], "createdate": wp["createdate"],
                                     "lastmodifieddate": wp["lastmodifieddate"], "email": wp["email"],
                                     "jobtitle": wp["jobtitle"]}
        assert got["createdAt"] == wp["createdate"] and got["updatedAt"] == wp["lastmodifieddate"]
    assert any(r["properties"]["jobtitle"] is None for r in repeated["results"])


def test_default_properties_per_object(server):
    expected = {"contacts": {"firstname", "lastname", "email", "createdate", "lastmodifieddate"},
                "deals": {"dealname", "amount", "closedate", "pipeline", "dealstage", "createdate",
                          "hs_lastmodifieddate"},
                "feedback_submissions": {"hs_createdate", "hs_lastmodifieddate"}}
    for name, keys in expected.items():
        record = get(server, f"/crm/v3/objects/{name}?limit=1").body["results"][0]
        assert set(record["properties"]) == keys | {"hs_object_id"}, name


def test_hs_v2_properties_are_readable_when_requested(portal, server):
    truth = {r["id"]: r["properties"]["hs_v2_date_entered_lead"] for r in portal.records("contacts")}
    records, _ = list_all(server, "/crm/v3/objects/contacts?properties=hs_v2_date_entered_lead")
    assert {r["id"]: r["properties"]["hs_v2_date_entered_lead"] for r in records} == truth


def test_get_one_record_and_404_for_unknown_or_archived(portal, server):
    first = next(portal.records("deals"))
    reply = get(server, f"/crm/v3/objects/deals/{first['id']}?properties=amount")
    assert reply.status == 200 and reply.body["properties"]["amount"] == first["properties"]["amount"]
    assert_error(get(server, "/crm/v3/objects/deals/1"), 404, "OBJECT_NOT_FOUND")
    archived = next(portal.records("deals", archived=True))
    assert get(server, f"/crm/v3/objects/deals/{archived['id']}").status == 404
    assert get(server, f"/crm/v3/objects/deals/{archived['id']}?archived=true").body["archived"] is True


def search(server, name, body):
    reply = post(server, f"/crm/v3/objects/{name}/search", body)
    assert reply.status == 200, reply.body
    return reply.body


def test_search_filters_sorts_and_totals_like_hubspot(portal, server):
    deals = [r for r in portal.records("deals")]
    cutoff = parse_time("2026-03-01T00:00:00Z")
    expected = [r for r in deals if parse_time(r["properties"]["hs_lastmodifieddate"]) >= cutoff
                and r["properties"]["pipeline"] == "default"]
    expected.sort(key=lambda r: (-parse_time(r["properties"]["hs_lastmodifieddate"]), int(r["id"])))
    body = {"filterGroups": [{"filters": [
                {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": str(cutoff)},
                {"propertyName": "pipeline", "operator": "EQ", "value": "default"}]}],
            "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "DESCENDING"}],
            "properties": ["amount"], "limit": 7}
    got, after = [], None
    while True:
        page = search(server, "deals", {**body, **({"after": after} if after else {})})
        assert page["total"] == len(expected)
        got += page["results"]
        if "paging" not in page:
            break
        after = page["paging"]["next"]["after"]
        assert after == str(len(got))  # a numeric offset
    assert [r["id"] for r in got] == [r["id"] for r in expected]
    assert set(got[0]["properties"]) == {"hs_object_id", "createdate", "hs_lastmodifieddate", "amount"}
    # ISO timestamps work as filter values too.
    iso = dict(body, filterGroups=[{"filters": [
        {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": "2026-03-01T00:00:00.000Z"},
        {"propertyName": "pipeline", "operator": "EQ", "value": "default"}]}])
    assert search(server, "deals", iso)["total"] == len(expected)


def test_search_operators_match_the_portals_truth(portal, server):
    deals = [r["properties"] for r in portal.records("deals")]
    low, high = parse_time("2025-06-01T00:00:00Z"), parse_time("2025-09-01T00:00:00Z")

    def total(*filter_groups):
        return search(server, "deals", {"filterGroups": [{"filters": list(g)} for g in filter_groups],
                                        "limit": 0})["total"]

    assert total([{"propertyName": "createdate", "operator": "BETWEEN", "value": str(low),
                   "highValue": str(high)}]) == sum(low <= parse_time(p["createdate"]) <= high for p in deals)
    assert total([{"propertyName": "dealstage", "operator": "IN", "values": ["closedwon", "11348551"]}]) == \
        sum(p["hs_is_closed_won"] == "true" for p in deals)
    assert total([{"propertyName": "dealstage", "operator": "NOT_IN", "values": ["closedwon", "closedlost"]}]) == \
        sum(p["dealstage"] not in ("closedwon", "closedlost") for p in deals)
    assert total([{"propertyName": "deal_currency_code", "operator": "NEQ", "value": "EUR"}]) == \
        sum(p["deal_currency_code"] != "EUR" for p in deals)
    has_amount = sum(p["amount"] not in (None, "") for p in deals)
    assert total([{"propertyName": "amount", "operator": "HAS_PROPERTY"}]) == has_amount
    assert total([{"propertyName": "amount", "operator": "NOT_HAS_PROPERTY"}]) == len(deals) - has_amount
    # Groups are OR-ed, filters inside a group AND-ed.
    assert total([{"propertyName": "pipeline", "operator": "EQ", "value": "11348547"}],
                 [{"propertyName": "hs_is_closed_won", "operator": "EQ", "value": "true"},
                  {"propertyName": "pipeline", "operator": "EQ", "value": "default"}]) == \
        sum(p["pipeline"] == "11348547" or (p["hs_is_closed_won"] == "true" and p["pipeline"] == "default")
            for p in deals)
    numeric = [float(p["amount"]) for p in deals if p["amount"] and p["amount"] != "12,5k"]
    assert total([{"propertyName": "amount", "operator": "GT", "value": "10000"}]) == sum(a > 10000 for a in numeric)


def test_search_default_order_is_oldest_first_and_ties_break_by_id(portal, server):
    ids = [r["id"] for r in search(server, "tickets", {"limit": 200})["results"]]
    truth = sorted(portal.records("tickets"), key=lambda r: (parse_time(r["properties"]["createdate"]), int(r["id"])))
    assert ids == [r["id"] for r in truth][:200]
    by_id = search(server, "contacts", {"sorts": [{"propertyName": "hs_object_id", "direction": "DESCENDING"}],
                                        "limit": 5})
    assert [r["id"] for r in by_id["results"]] == list(reversed(live_ids(portal, "contacts")))[:5]


def test_search_never_returns_archived_records(portal, server):
    archived = {r["id"] for r in portal.records("contacts", archived=True)}
    ids, after = [], 0
    while after is not None:
        page = search(server, "contacts", {"limit": 200, "after": str(after)})
        ids += [r["id"] for r in page["results"]]
        after = page.get("paging", {}).get("next", {}).get("after")
    assert set(ids) == set(live_ids(portal, "contacts")) and not archived & set(ids)


def test_search_validation_errors(server):
    f = {"propertyName": "amount", "operator": "GT", "value": "1"}
    for body in ({"filterGroups": [{"filters": [f]}] * 6},
                 {"filterGroups": [{"filters": [f] * 7}]},
                 {"filterGroups": [{"filters": [f] * 4}] * 5},
                 {"limit": 201},
                 {"filterGroups": [{"filters": [{"propertyName": "amount", "operator": "LIKE", "value": "1"}]}]},
                 {"filterGroups": [{"filters": [{"propertyName": "createdate", "operator": "GT",
                                                 "value": "yesterday"}]}]}):
        assert_error(post(server, "/crm/v3/objects/deals/search", body), 400, "VALIDATION_ERROR")


def test_search_refuses_to_page_past_10000_results():
    portal = generate_portal(scale=50, seed=1, now=NOW)
    touched = portal.bulk_touch("contacts", 10_050)
    assert len(touched) == 10_050 and len(set(touched)) == 10_050
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        body = {"filterGroups": [{"filters": [{"propertyName": "lastmodifieddate", "operator": "EQ",
                                               "value": str(NOW_MS)}]}],
                "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}], "limit": 200}
        last = post(server, "/crm/v3/objects/contacts/search", {**body, "after": "9800"})
        assert last.status == 200 and last.body["total"] == 10_050
        assert [r["id"] for r in last.body["results"]] == touched[9800:10_000]
        assert last.body["paging"] == {"next": {"after": "10000"}}
        past = post(server, "/crm/v3/objects/contacts/search", {**body, "after": "10000"})
        assert_error(past, 400, "VALIDATION_ERROR")
        assert "10000" in past.body["message"]


def test_batch_read_returns_207_for_unknown_ids(portal, server):
    ids = live_ids(portal, "tickets")[:3]
    reply = post(server, "/crm/v3/objects/tickets/batch/read",
                 {"inputs": [{"id": i} for i in ids + ["1"]], "properties": ["subject"], "propertiesWithHistory": []})
    assert reply.status == 207
    assert [r["id"] for r in reply.body["results"]] == ids
    assert reply.body["status"] == "COMPLETE" and reply.body["numErrors"] == 1
    error = reply.body["errors"][0]
    assert error["category"] == "OBJECT_NOT_FOUND" and error["context"] == {"ids": ["1"]}
    ok = post(server, "/crm/v3/objects/tickets/batch/read", {"inputs": [{"id": i} for i in ids]})
    assert ok.status == 200 and "errors" not in ok.body and len(ok.body["results"]) == 3
    too_many = post(server, "/crm/v3/objects/tickets/batch/read", {"inputs": [{"id": str(i)} for i in range(101)]})
    assert_error(too_many, 400, "VALIDATION_ERROR")
    archived = next(portal.records("tickets", archived=True))["id"]
    assert post(server, "/crm/v3/objects/tickets/batch/read", {"inputs": [{"id": archived}]}).status == 207
    found = post(server, "/crm/v3/objects/tickets/batch/read?archived=true", {"inputs": [{"id": archived}]})
    assert found.status == 200 and found.body["results"][0]["archived"] is True


def test_embedded_v3_associations_on_the_list(portal, server):
    page = get(server, "/crm/v3/objects/deals?limit=100&associations=companies&associations=contacts").body
    pairs = set(portal.association_pairs("deals", "companies"))
    for record in page["results"]:
        section = record.get("associations", {}).get("companies")
        got = {(record["id"], item["id"]) for item in section["results"]} if section else set()
        assert got == {p for p in pairs if p[0] == record["id"]}
        if section:
            assert {item["type"] for item in section["results"]} == {"deal_to_company", "deal_to_company_unlabeled"}


def test_record_timestamps_follow_the_portal_clock(portal, server):
    assert get(server, "/crm/v3/objects/contacts?limit=1").header("Date") == "Fri, 20 Nov 2026 12:00:00 GMT"
    portal.advance_clock(seconds=90)
    assert get(server, "/crm/v3/objects/contacts?limit=1").header("Date") == "Fri, 20 Nov 2026 12:01:30 GMT"
    assert fmt_datetime(NOW_MS) == "2026-11-20T12:00:00Z"
