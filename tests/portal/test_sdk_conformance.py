"""The official SDK (hubspot-api-client), unchanged, against the portal: every typed call the sync
uses deserializes into the SDK's models with the portal's values."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hubspot import HubSpot

from hubspot_metrics.portal import PortalServer, generate_portal
from hubspot_metrics.portal.formats import parse_time

from .conftest import NOW, TOKEN, get

BIG_COMPANY = "5790939450"


@pytest.fixture(scope="module")
def env():
    portal = generate_portal(scale=1000, seed=5, now=NOW)
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        yield portal, server, HubSpot(access_token=TOKEN, host=server.url)


def as_dt(text: str) -> datetime:
    return datetime.fromtimestamp(parse_time(text) / 1000, tz=timezone.utc)


def typed_apis(client):
    crm = client.crm
    return {"contacts": crm.contacts, "companies": crm.companies, "deals": crm.deals, "tickets": crm.tickets,
            "feedback_submissions": crm.objects.feedback_submissions}


@pytest.mark.parametrize("name", ["contacts", "companies", "deals", "tickets", "feedback_submissions"])
def test_basic_get_page_live_and_archived(env, name):
    portal, _, client = env
    api = typed_apis(client)[name].basic_api
    truth = list(portal.records(name))
    page = api.get_page(limit=100, properties=["hs_object_id", "hubspot_owner_id", "hs_merged_object_ids"])
    assert [r.id for r in page.results] == [r["id"] for r in truth[:100]]
    first = page.results[0]
    assert first.created_at == as_dt(truth[0]["createdAt"]) and first.updated_at == as_dt(truth[0]["updatedAt"])
    assert first.archived is False
    assert {k: v for k, v in first.properties.items() if k in truth[0]["properties"]} == {
        k: truth[0]["properties"][k] for k in first.properties}
    nxt = api.get_page(limit=100, after=page.paging.next.after)
    assert nxt.results[0].id == truth[100]["id"]
    archived = api.get_page(limit=100, archived=True)
    assert [r.id for r in archived.results] == [r["id"] for r in portal.records(name, archived=True)][:100]
    assert archived.results[0].archived is True and archived.results[0].archived_at is not None


@pytest.mark.parametrize("name,modified", [("contacts", "lastmodifieddate"), ("companies", "hs_lastmodifieddate"),
                                           ("deals", "hs_lastmodifieddate"), ("tickets", "hs_lastmodifieddate"),
                                           ("feedback_submissions", "hs_lastmodifieddate")])
def test_search_and_batch_read(env, name, modified):
    portal, _, client = env
    api = typed_apis(client)[name]
    cutoff = parse_time("2026-09-01T00:00:00Z")
    truth = sorted((r for r in portal.records(name) if parse_time(r["properties"][modified]) >= cutoff),
                   key=lambda r: (parse_time(r["properties"][modified]), int(r["id"])))
    found = api.search_api.do_search(public_object_search_request={
        "filterGroups": [{"filters": [{"propertyName": modified, "operator": "GTE", "value": str(cutoff)}]}],
        "sorts": [{"propertyName": modified, "direction": "ASCENDING"}], "properties": [modified], "limit": 200})
    assert found.total == len(truth) and truth
    assert [r.id for r in found.results] == [r["id"] for r in truth[:200]]
    assert found.results[0].properties[modified] == truth[0]["properties"][modified]
    ids = [r["id"] for r in truth[:3]]
    batch = api.batch_api.read(batch_read_input_simple_public_object_id={
        "inputs": [{"id": i} for i in ids], "properties": [modified], "propertiesWithHistory": []})
    assert sorted(r.id for r in batch.results) == sorted(ids) and batch.status == "COMPLETE"
    missing = api.batch_api.read(batch_read_input_simple_public_object_id={"inputs": [{"id": "1"}]})
    assert missing.num_errors == 1 and missing.errors[0].category == "OBJECT_NOT_FOUND"


def test_associations_v4_batch_get_page(env):
    portal, _, client = env
    api = client.crm.associations.v4.batch_api
    reply = api.get_page("companies", "contacts", batch_input_public_fetch_associations_batch_request={
        "inputs": [{"id": BIG_COMPANY}, {"id": "1"}]})
    (result,) = reply.results
    assert result._from.id == BIG_COMPANY and len(result.to) == 500
    # The wire carries an integer (see test_other_endpoints); the SDK's model turns it into a string.
    truth = {p for p in portal.association_pairs("companies", "contacts") if p[0] == BIG_COMPANY}
    assert result.to[0].to_object_id == str(min(int(c) for _, c in truth))
    assert result.to[0].association_types[0].category in ("HUBSPOT_DEFINED", "USER_DEFINED")
    rest = api.get_page("companies", "contacts", batch_input_public_fetch_associations_batch_request={
        "inputs": [{"id": BIG_COMPANY, "after": result.paging.next.after}]})
    got = {(BIG_COMPANY, str(t.to_object_id)) for t in result.to + rest.results[0].to}
    assert got == truth
    assert reply.errors[0].sub_category == "crm.associations.NO_ASSOCIATIONS_FOUND"


def test_pipelines_owners_properties_and_account(env):
    portal, server, client = env
    deals = client.crm.pipelines.pipelines_api.get_all(object_type="deals")
    assert [p.id for p in deals.results] == ["default", "11348547"]
    won = next(s for s in deals.results[0].stages if s.id == "closedwon")
    assert won.metadata == {"isClosed": "true", "probability": "1.0"}
    assert deals.results[0].created_at == datetime(1970, 1, 1, tzinfo=timezone.utc)
    tickets = client.crm.pipelines.pipelines_api.get_all(object_type="tickets")
    assert [s.id for s in tickets.results[0].stages] == ["1", "2", "3", "4"]
    active = client.crm.owners.owners_api.get_page(limit=100, archived=False)
    retired = client.crm.owners.owners_api.get_page(limit=100, archived=True)
    assert {o.id for o in active.results} | {o.id for o in retired.results} == {o["id"] for o in portal.owners}
    assert retired.results and all(o.user_id is None and o.user_id_including_inactive for o in retired.results)
    for name in ("contacts", "companies", "deals", "tickets", "feedback_submissions"):
        listed = client.crm.properties.core_api.get_all(name, archived=False).results
        assert {p.name for p in listed} >= {"hs_object_id", portal.tables[name].otype.modified}, name
    by_name = {p.name: p for p in client.crm.properties.core_api.get_all("deals", archived=False).results}
    assert by_name["amount"].type == "number" and by_name["closedate"].type == "datetime"
    assert by_name["contract_term_months"].hubspot_defined is None  # custom: no hubspotDefined key
    details = get(server, "/account-info/v3/details").body
    assert (details["companyCurrency"], details["timeZone"]) == (portal.home_currency, portal.time_zone)


def test_raw_responses_with_preload_content_false(env):
    portal, _, client = env
    raw = client.crm.objects.basic_api.get_page("contacts", limit=2, properties=["email"], _preload_content=False)
    assert raw.status == 200 and raw.headers["X-HubSpot-RateLimit-Max"]
    import json
    body = json.loads(raw.data)
    assert [r["id"] for r in body["results"]] == [r["id"] for r in portal.records("contacts")][:2]


def test_oauth_refresh_through_the_sdk():
    portal = generate_portal(scale=50, seed=1, now=NOW)
    with PortalServer(portal, token=TOKEN, oauth_clients={"cid": ("secret", "na1-refresh")}) as server:
        client = HubSpot(host=server.url)
        tokens = client.oauth.tokens_api.create(grant_type="refresh_token", client_id="cid", client_secret="secret",
                                                refresh_token="na1-refresh")
        assert tokens.expires_in == 1800 and tokens.token_type == "bearer"
        oauth_client = HubSpot(access_token=tokens.access_token, host=server.url)
        page = oauth_client.crm.contacts.basic_api.get_page(limit=1)
        assert page.results[0].id == next(portal.records("contacts"))["id"]
