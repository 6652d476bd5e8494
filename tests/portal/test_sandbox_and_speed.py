"""The `sandbox` command, and the portal's serving speed (a floor that catches stalls)."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import time

import pytest
from click.testing import CliRunner

from hubspot_metrics.portal import PortalServer, generate_portal
from hubspot_metrics.portal.cli import SANDBOX_TOKEN, sandbox

from .conftest import NOW, TOKEN, running_sandbox


def test_help_lists_the_options():
    result = CliRunner().invoke(sandbox, ["--help"])
    assert result.exit_code == 0
    for option in ("--scale", "--port", "--seed", "--rate-limit", "--still", "--pace", "--edit", "--url"):
        assert option in result.output


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_sandbox_serves_until_interrupted_and_exits_cleanly(sig):
    with running_sandbox("--scale", "200", "--seed", "4", "--rate-limit", "50") as (proc, url, lines):
        env = dict(line.removeprefix("export ").split("=", 1) for line in lines if line.startswith("export "))
        assert env["HUBSPOT_ACCESS_TOKEN"] == SANDBOX_TOKEN and f"Token: {SANDBOX_TOKEN}" in lines
        assert url == env["HUBSPOT_API_BASE_URL"]
        assert url.startswith("http://127.0.0.1:") and any(url in line for line in lines if "listening" in line)
        conn = http.client.HTTPConnection(url.removeprefix("http://"), timeout=10)
        conn.request("GET", "/crm/v3/objects/contacts?limit=3", headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"})
        response = conn.getresponse()
        assert response.status == 200 and response.getheader("X-HubSpot-RateLimit-Max") == "50"
        assert len(json.loads(response.read())["results"]) == 3
        conn.close()
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0
    assert out.strip() == "Sandbox stopped." and err == ""


def test_sandbox_reports_a_busy_port():
    with PortalServer(generate_portal(scale=20, seed=1, now=NOW), token=TOKEN) as server:
        port = server.port
        result = CliRunner().invoke(sandbox, ["--scale", "20", "--port", str(port)])
    assert result.exit_code == 1
    assert f"Error: Cannot listen on port {port}: Address already in use." in result.output
    assert "Traceback" not in result.output


def test_the_portal_sends_pages_without_waiting_for_acks():
    """A page must leave at once: with Nagle's algorithm on, each answer waits ~40 ms for the
    client's delayed ACK, and the portal, not the connector, bounds every sync benchmark. (The
    serving rate itself is measured by bench/bench_portal.py, not asserted here.)"""
    portal = generate_portal(scale=200, seed=1, now=NOW)
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("GET", "/crm/v3/objects/contacts?limit=100", headers={"Authorization": f"Bearer {TOKEN}"})
        assert len(json.loads(conn.getresponse().read())["results"]) == 100
        (served,) = list(server._connections)
        assert served.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        assert served.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) >= 1 << 21
        conn.close()
