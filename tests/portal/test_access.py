"""Authentication, scopes, rate limits and OAuth: HubSpot's bodies and headers, exactly."""

from __future__ import annotations

import time
import uuid

from hubspot_metrics.portal import PortalServer

from .conftest import TOKEN, call, get, post

RATE_HEADERS = {"X-HubSpot-RateLimit-Max", "X-HubSpot-RateLimit-Remaining", "X-HubSpot-RateLimit-Interval-Milliseconds",
                "X-HubSpot-RateLimit-Daily", "X-HubSpot-RateLimit-Daily-Remaining", "X-HubSpot-RateLimit-Secondly",
                "X-HubSpot-RateLimit-Secondly-Remaining"}
SEARCH = {"filterGroups": [], "limit": 1}


def without_correlation(body: dict) -> dict:
    uuid.UUID(body["correlationId"])
    return {k: v for k, v in body.items() if k not in ("correlationId", "requestId")}


def test_wrong_or_missing_token_is_401_invalid_authentication(server):
    for token in ("pat-na1-wrong", None):
        reply = get(server, "/crm/v3/objects/contacts", token=token)
        assert reply.status == 401
        assert without_correlation(reply.body) == {
            "status": "error", "category": "INVALID_AUTHENTICATION",
            "message": "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
                       "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"}
        assert reply.rate_headers == {}
    assert [r.status for r in server.request_log] == [401, 401]


def test_missing_scopes_are_403_with_required_granular_scopes(portal):
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None,
                      scopes={"crm.objects.contacts.read"}) as server:
        assert get(server, "/crm/v3/objects/contacts").status == 200
        reply = get(server, "/crm/v3/objects/deals")
        assert reply.status == 403
        assert without_correlation(reply.body) == {
            "status": "error", "category": "MISSING_SCOPES",
            "message": "This app hasn't been granted all required scopes to make this call. Read more about "
                       "required scopes here: https://developers.hubspot.com/scopes.",
            "errors": [{"message": "One or more of the following scopes are required.",
                        "context": {"requiredGranularScopes": ["crm.objects.deals.read"]}}],
            "links": {"scopes": "https://developers.hubspot.com/scopes"}}

        def scopes(reply):
            return [e["context"]["requiredGranularScopes"] for e in reply.body["errors"]]

        assert scopes(post(server, "/crm/v4/associations/contacts/0-5/batch/read", {"inputs": []})) == [["tickets"]]
        assert scopes(get(server, "/crm/v3/owners/")) == [["crm.objects.owners.read"]]
        assert scopes(get(server, "/crm/v3/pipelines/deals")) == [["crm.objects.deals.read"]]
        assert scopes(get(server, "/crm/v3/properties/feedback_submissions")) == [
            ["crm.objects.feedback_submissions.read", "crm.schemas.feedback_submissions.read"]]
        assert scopes(post(server, "/crm/v3/objects/feedback_submissions/search", SEARCH)) == [
            ["crm.objects.feedback_submissions.read"]]
        assert get(server, "/account-info/v3/details").status == 200


def test_a_portal_without_service_hub_professional_refuses_feedback(portal):
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None,
                      feedback_enabled=False) as server:
        for reply in (get(server, "/crm/v3/objects/feedback_submissions"),
                      get(server, "/crm/v3/objects/0-19"),
                      post(server, "/crm/v4/associations/contacts/feedback_submissions/batch/read",
                           {"inputs": [{"id": "51"}]})):
            assert reply.status == 403 and reply.body["category"] == "MISSING_SCOPES"
            assert reply.body["errors"][0]["context"]["requiredGranularScopes"] == [
                "crm.objects.feedback_submissions.read"]
        assert get(server, "/crm/v3/objects/contacts").status == 200


def test_unknown_paths_methods_and_object_types(server):
    assert get(server, "/crm/v3/nothing/here").status == 404
    assert get(server, "/crm/v3/nothing/here").body["category"] == "OBJECT_NOT_FOUND"
    reply = call(server, "DELETE", "/crm/v3/objects/contacts/51")
    assert reply.status == 405
    unknown = get(server, "/crm/v3/objects/widgets")
    assert unknown.status == 400 and unknown.body["message"] == "Unable to infer object type from: widgets"


def test_ten_second_rolling_limit_headers_and_429_body(portal):
    with PortalServer(portal, token=TOKEN, requests_per_10s=5, search_per_second=None, daily_limit=100) as server:
        replies = [get(server, "/crm/v3/objects/contacts?limit=1") for _ in range(6)]
        assert [r.status for r in replies] == [200, 200, 200, 200, 200, 429]
        for i, r in enumerate(replies[:5]):
            assert set(r.rate_headers) == RATE_HEADERS
            assert r.header("X-HubSpot-RateLimit-Max") == "5"
            assert r.header("X-HubSpot-RateLimit-Remaining") == str(4 - i)
            assert r.header("X-HubSpot-RateLimit-Interval-Milliseconds") == "10000"
            assert r.header("X-HubSpot-RateLimit-Daily") == "100"
            assert r.header("X-HubSpot-RateLimit-Daily-Remaining") == str(99 - i)
        limited = replies[5]
        assert without_correlation(limited.body) == {
            "status": "error", "message": "You have reached your ten_secondly_rolling limit.",
            "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING",
            "groupName": f"publicapi:private_app-api-calls-ten-secondly:{server._app_id}:{portal.portal_id}"}
        assert limited.header("X-HubSpot-RateLimit-Remaining") == "0"
        assert limited.header("X-HubSpot-RateLimit-Max") == "5"
        assert limited.header("Retry-After") is None
        # Search has its own limit: the exhausted burst window does not block it.
        assert post(server, "/crm/v3/objects/contacts/search", SEARCH).status == 200


def test_search_secondly_limit_and_no_rate_limit_headers(portal):
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=2) as server:
        replies = [post(server, "/crm/v3/objects/contacts/search", SEARCH) for _ in range(3)]
        assert [r.status for r in replies] == [200, 200, 429]
        assert all(r.rate_headers == {} for r in replies)
        assert without_correlation(replies[2].body) == {
            "status": "error", "message": "You have reached your secondly limit.", "errorType": "RATE_LIMIT",
            "policyName": "SECONDLY"}
        assert replies[0].header("X-HubSpot-Correlation-Id")
        time.sleep(1.05)
        assert post(server, "/crm/v3/objects/contacts/search", SEARCH).status == 200


def test_daily_limit_applies_to_every_call(portal):
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None, daily_limit=3) as server:
        statuses = [get(server, "/crm/v3/objects/contacts?limit=1").status for _ in range(3)]
        over = [get(server, "/crm/v3/owners/"), post(server, "/crm/v3/objects/deals/search", SEARCH)]
        assert statuses == [200, 200, 200] and [r.status for r in over] == [429, 429]
        assert all(r.body["policyName"] == "DAILY" and r.body["errorType"] == "RATE_LIMIT" for r in over)
        assert over[0].body["message"] == "You have reached your daily limit."


def test_oauth_refresh_mints_tokens_that_expire(portal):
    clients = {"client-1": ("secret-1", "na1-refresh-1")}
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None, oauth_clients=clients,
                      oauth_expires_in=1) as server:
        form = {"grant_type": "refresh_token", "client_id": "client-1", "client_secret": "secret-1",
                "refresh_token": "na1-refresh-1"}
        minted = call(server, "POST", "/oauth/v1/token", token=None, form=form)
        assert minted.status == 200
        assert minted.body["token_type"] == "bearer" and minted.body["expires_in"] == 1
        assert minted.body["refresh_token"] == "na1-refresh-1" and minted.body["hub_id"] == portal.portal_id
        access = minted.body["access_token"]
        ok = get(server, "/crm/v3/objects/contacts?limit=1", token=access)
        assert ok.status == 200
        assert ok.header("X-HubSpot-RateLimit-Max") and ok.header("X-HubSpot-RateLimit-Daily") is None
        time.sleep(1.1)
        expired = get(server, "/crm/v3/objects/contacts?limit=1", token=access)
        assert expired.status == 401 and expired.body["category"] == "EXPIRED_AUTHENTICATION"
        assert expired.body["message"] == "The OAuth token used to make this call expired 1 second(s) ago."
        assert list(expired.body["context"]) == ["expire time"]
        bad = call(server, "POST", "/oauth/v1/token", token=None, form={**form, "refresh_token": "stolen"})
        assert bad.status == 400 and bad.body["status"] == "BAD_REFRESH_TOKEN"
        assert call(server, "POST", "/oauth/v1/token", token=None,
                    form={**form, "client_secret": "x"}).body["status"] == "BAD_CLIENT_SECRET"
        assert call(server, "POST", "/oauth/v1/token", token=None,
                    form={**form, "client_id": "x"}).body["status"] == "BAD_CLIENT_ID"
