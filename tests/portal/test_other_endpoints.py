"""Associations v4, pipelines, owners, properties and account settings over HTTP."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hubspot_metrics.portal import PortalServer, generate_portal
from hubspot_metrics.portal.schema import ANALYTICS_SOURCES, LIFECYCLE_STAGES

from .conftest import NOW, TOKEN, get, live_ids, post

BIG_COMPANY = "5790939450"  # the first company: the big account


@pytest.fixture(scope="module")
def assoc_server():
    portal = generate_portal(scale=1000, seed=5, now=NOW)
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        yield portal, server


def read_associations(server, a, b, ids) -> tuple[set[tuple[str, str]], int]:
    """Every (from, to) pair for the ids, following per-record paging; and the number of requests."""
    pairs, requests = set(), 0
    pending = [{"id": i} for i in ids]
    while pending:
        following = []
        for start in range(0, len(pending), 1000):
            reply = post(server, f"/crm/v4/associations/{a}/{b}/batch/read", {"inputs": pending[start:start + 1000]})
            requests += 1
            assert reply.status in (200, 207), reply.body
            for result in reply.body["results"]:
                pairs |= {(result["from"]["id"], str(t["toObjectId"])) for t in result["to"]}
                if "paging" in result:
                    following.append({"id": result["from"]["id"], "after": result["paging"]["next"]["after"]})
        pending = following
    return pairs, requests


def test_v4_batch_read_shape_and_per_record_paging(assoc_server):
    portal, server = assoc_server
    truth = {p for p in portal.association_pairs("companies", "contacts") if p[0] == BIG_COMPANY}
    assert len(truth) > 500
    first = post(server, "/crm/v4/associations/companies/contacts/batch/read", {"inputs": [{"id": BIG_COMPANY}]})
    assert first.status == 200
    (result,) = first.body["results"]
    assert result["from"] == {"id": BIG_COMPANY}                      # a string
    assert len(result["to"]) == 500 and all(isinstance(t["toObjectId"], int) for t in result["to"])
    assert [t["toObjectId"] for t in result["to"]] == sorted(t["toObjectId"] for t in result["to"])
    types = result["to"][0]["associationTypes"]
    assert {"category": "HUBSPOT_DEFINED", "typeId": 280, "label": None} in types
    after = result["paging"]["next"]["after"]
    second = post(server, "/crm/v4/associations/companies/contacts/batch/read",
                  {"inputs": [{"id": BIG_COMPANY, "after": after}]})
    (rest,) = second.body["results"]
    assert len(rest["to"]) == len(truth) - 500 and "paging" not in rest
    got = {(BIG_COMPANY, str(t["toObjectId"])) for t in result["to"] + rest["to"]}
    assert got == truth
    assert first.body["status"] == "COMPLETE" and first.body["startedAt"] and first.body["completedAt"]


def test_v4_reads_are_symmetric_and_complete(assoc_server):
    portal, server = assoc_server
    for a, b in (("contacts", "companies"), ("deals", "contacts"), ("feedback_submissions", "contacts")):
        forward, _ = read_associations(server, a, b, live_ids(portal, a))
        backward, _ = read_associations(server, b, a, live_ids(portal, b))
        assert forward == {(y, x) for x, y in backward} == set(portal.association_pairs(a, b)), (a, b)


def test_v4_labels_primary_and_user_defined(assoc_server):
    portal, server = assoc_server
    reply = post(server, "/crm/v4/associations/contacts/companies/batch/read",
                 {"inputs": [{"id": i} for i in live_ids(portal, "contacts")[:1000]]})
    kinds = {tuple(sorted((x["category"], x["typeId"], x["label"]) for x in t["associationTypes"]))
             for r in reply.body["results"] for t in r["to"]}
    assert (("HUBSPOT_DEFINED", 1, "Primary"), ("HUBSPOT_DEFINED", 279, None)) in kinds
    assert (("HUBSPOT_DEFINED", 1, "Primary"), ("HUBSPOT_DEFINED", 279, None),
            ("USER_DEFINED", 30, "Decision maker")) in kinds
    assert (("HUBSPOT_DEFINED", 279, None),) in kinds


def test_v4_records_without_associations_are_207_errors(assoc_server):
    portal, server = assoc_server
    lonely = next(c for c in live_ids(portal, "contacts")
                  if not any(a == c for a, _ in portal.association_pairs("contacts", "feedback_submissions")))
    reply = post(server, "/crm/v4/associations/contacts/feedback_submissions/batch/read",
                 {"inputs": [{"id": lonely}, {"id": "1"}]})
    assert reply.status == 207 and reply.body["results"] == [] and reply.body["numErrors"] == 2
    error = reply.body["errors"][0]
    assert error["category"] == "OBJECT_NOT_FOUND"
    assert error["subCategory"] == "crm.associations.NO_ASSOCIATIONS_FOUND"
    assert error["message"] == f"No feedback_submission is associated with contact {lonely}."
    assert error["context"] == {"fromObjectId": [lonely], "fromObjectType": ["contact"],
                                "toObjectType": ["feedback_submission"]}
    too_many = post(server, "/crm/v4/associations/contacts/companies/batch/read",
                    {"inputs": [{"id": str(i)} for i in range(1001)]})
    assert too_many.status == 400 and too_many.body["category"] == "VALIDATION_ERROR"


def test_v4_type_ids_in_the_url(assoc_server):
    portal, server = assoc_server
    by_name = post(server, "/crm/v4/associations/deals/companies/batch/read", {"inputs": [{"id": "11348600001"}]})
    by_id = post(server, "/crm/v4/associations/0-3/0-2/batch/read", {"inputs": [{"id": "11348600001"}]})
    assert by_name.body["results"] == by_id.body["results"]
    single = get(server, f"/crm/v4/objects/companies/{BIG_COMPANY}/associations/contacts?limit=500")
    assert len(single.body["results"]) == 500 and single.body["paging"]["next"]["after"]


def test_pipelines(server):
    deals = get(server, "/crm/v3/pipelines/deals").body["results"]
    assert [p["id"] for p in deals] == ["default", "11348547"]
    default = deals[0]
    assert default["createdAt"] == "1970-01-01T00:00:00Z" and default["label"] == "Sales Pipeline"
    stages = {s["id"]: s["metadata"] for s in default["stages"]}
    assert list(stages) == ["appointmentscheduled", "qualifiedtobuy", "presentationscheduled",
                            "decisionmakerboughtin", "contractsent", "closedwon", "closedlost"]
    assert stages["closedwon"] == {"isClosed": "true", "probability": "1.0"}
    assert stages["closedlost"] == {"isClosed": "true", "probability": "0.0"}
    custom = {s["id"]: s["metadata"] for s in deals[1]["stages"]}
    assert custom["11348550"] == {"isClosed": "false", "probability": "0.0"}
    tickets = get(server, "/crm/v3/pipelines/tickets").body["results"]
    assert [(p["id"], [(s["id"], s["metadata"]["ticketState"]) for s in p["stages"]]) for p in tickets] == [
        ("0", [("1", "OPEN"), ("2", "OPEN"), ("3", "OPEN"), ("4", "CLOSED")])]
    assert get(server, "/crm/v3/pipelines/0-3").body["results"] == deals


def test_owners_active_and_deactivated(portal, server):
    with_slash = get(server, "/crm/v3/owners/?limit=100").body
    without = get(server, "/crm/v3/owners?limit=100").body
    assert with_slash == without and "paging" not in with_slash
    active, retired = with_slash["results"], get(server, "/crm/v3/owners/?archived=true").body["results"]
    assert {o["id"] for o in active} | {o["id"] for o in retired} == {o["id"] for o in portal.owners}
    assert all(o["archived"] is False for o in active) and any(o["type"] == "QUEUE" for o in active)
    assert retired and all(o["archived"] is True and o["userId"] is None and o["userIdIncludingInactive"]
                           for o in retired)
    paged, after = [], None
    while True:
        page = get(server, "/crm/v3/owners/?limit=7" + (f"&after={after}" if after else "")).body
        paged += page["results"]
        if "paging" not in page:
            break
        after = page["paging"]["next"]["after"]
    assert paged == active
    email = active[0]["email"]
    assert [o["id"] for o in get(server, f"/crm/v3/owners/?email={email}").body["results"]] == [active[0]["id"]]


def test_properties_api(server):
    contacts = {p["name"]: p for p in get(server, "/crm/v3/properties/contacts").body["results"]}
    assert contacts["createdate"]["type"] == "datetime" and contacts["createdate"]["fieldType"] == "date"
    assert contacts["hs_object_id"]["type"] == "number"
    assert [o["value"] for o in contacts["lifecyclestage"]["options"]] == list(LIFECYCLE_STAGES)
    assert [o["value"] for o in contacts["hs_analytics_source"]["options"]] == list(ANALYTICS_SOURCES)
    assert contacts["churn_date"]["type"] == "date" and "hubspotDefined" not in contacts["churn_date"]
    assert contacts["email"]["hubspotDefined"] is True
    assert not any(name.startswith("hs_v2_") for name in contacts)  # readable, but not listed
    deals = {p["name"]: p for p in get(server, "/crm/v3/properties/0-3").body["results"]}
    assert deals["amount"]["type"] == "number" and deals["hs_is_closed_won"]["type"] == "bool"
    assert deals["closedate"]["type"] == "datetime" and deals["dealstage"]["type"] == "enumeration"
    assert {o["value"] for o in deals["dealstage"]["options"]} >= {"closedwon", "closedlost", "11348551"}
    assert deals["amount_in_home_currency"]["calculated"] is True
    assert deals["amount_in_home_currency"]["modificationMetadata"]["readOnlyValue"] is True
    for name in ("companies", "tickets", "feedback_submissions"):
        listed = get(server, f"/crm/v3/properties/{name}").body["results"]
        assert all(p["type"] in ("string", "number", "date", "datetime", "enumeration", "bool") for p in listed)
        assert all(p["options"] for p in listed if p["type"] == "enumeration" and p["name"] != "hs_merged_object_ids")
    assert get(server, "/crm/v3/properties/contacts?archived=true").body == {"results": []}
    assert get(server, "/crm/v3/properties/deals/amount").body["label"] == "Amount"


def test_account_details_and_usage(portal, server):
    assert get(server, "/account-info/v3/details").body == {
        "portalId": portal.portal_id, "accountType": "STANDARD", "timeZone": "Europe/Berlin",
        "companyCurrency": "EUR", "additionalCurrencies": ["USD"], "utcOffset": "+01:00",
        "utcOffsetMilliseconds": 3_600_000, "uiDomain": "app-eu1.hubspot.com", "dataHostingLocation": "eu1"}
    usage = get(server, "/account-info/v3/api-usage/daily/private-apps").body["results"][0]
    assert usage["currentUsage"] == 2 and usage["usageLimit"] == 1_000_000
    assert usage["resetsAt"] == "2026-11-20T23:00:00Z"  # midnight in Berlin
    assert get(server, "/settings/v3/currencies/company-currency").body["id"] == "EUR"


def test_the_properties_api_serves_a_definition_changed_in_place_and_a_renamed_owner(portal, server):
    def churn_date() -> dict:
        listed = get(server, "/crm/v3/properties/contacts").body["results"]
        return next(p for p in listed if p["name"] == "churn_date")

    def owner_option(owner_id: str) -> str:
        return next(o["label"] for o in get(server, "/crm/v3/properties/contacts/hubspot_owner_id").body["options"]
                    if o["value"] == owner_id)

    assert (churn_date()["type"], churn_date()["fieldType"]) == ("date", "date")  # (now cached)
    contacts = portal.table("contacts")
    contacts.props["churn_date"] = replace(contacts.props["churn_date"], type="datetime", label="Churned at")
    assert (churn_date()["type"], churn_date()["label"]) == ("datetime", "Churned at")  # same count of properties

    owner = next(o for o in portal.owners if not o["archived"])
    assert owner_option(owner["id"]) == f"{owner['firstName']} {owner['lastName']}"
    owner["lastName"] = "Renamed"
    assert owner_option(owner["id"]) == f"{owner['firstName']} Renamed"  # same count of owners
