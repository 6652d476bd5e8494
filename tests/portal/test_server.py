"""The server itself: its request log, keep-alive, and a clean stop."""

from __future__ import annotations

import http.client
import time

import pytest

from hubspot_metrics.portal import PortalServer, RequestRecord

from .conftest import TOKEN, get, post


def test_request_log_records_every_request_before_its_response(server):
    started = time.time()
    get(server, "/crm/v3/objects/deals?limit=2&properties=amount&properties=dealstage")
    post(server, "/crm/v3/objects/deals/search", {"limit": 1})
    get(server, "/crm/v3/objects/deals", token="bad")
    log = server.request_log
    assert [(r.method, r.path, r.query, r.body, r.status, r.fault) for r in log] == [
        ("GET", "/crm/v3/objects/deals", {"limit": ["2"], "properties": ["amount", "dealstage"]}, None, 200, None),
        ("POST", "/crm/v3/objects/deals/search", {}, {"limit": 1}, 200, None),
        ("GET", "/crm/v3/objects/deals", {}, None, 401, None)]
    assert all(isinstance(r, RequestRecord) and started <= r.ts <= time.time() for r in log)
    server.reset_log()
    assert server.request_log == []


def test_keep_alive_serves_many_requests_on_one_connection(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    for _ in range(5):
        conn.request("GET", "/crm/v3/objects/contacts?limit=1", headers={"Authorization": f"Bearer {TOKEN}"})
        response = conn.getresponse()
        assert response.status == 200 and response.getheader("Connection") is None
        response.read()
    conn.close()


def test_stop_closes_open_keep_alive_connections_and_frees_the_port(portal):
    server = PortalServer(portal, token=TOKEN).start()
    port = server.port
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/crm/v3/owners/", headers={"Authorization": f"Bearer {TOKEN}"})
    assert conn.getresponse().read()
    server.stop()
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        conn.request("GET", "/crm/v3/owners/", headers={"Authorization": f"Bearer {TOKEN}"})
        conn.getresponse().read()
    with pytest.raises(RuntimeError):
        server.url
    with PortalServer(portal, token=TOKEN, port=port) as again:  # the port can be reused at once
        assert again.url == f"http://127.0.0.1:{port}"
