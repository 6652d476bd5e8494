"""The `sandbox` command, and the portal's serving speed (a floor that catches stalls)."""

from __future__ import annotations

import http.client
import json
import signal
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


def test_serving_speed_floor():
    """Pages of 100 records with ~30 properties over keep-alive; the real figure is far higher
    (see the commit message); the floor catches stalls such as Nagle/delayed-ACK waits."""
    portal = generate_portal(scale=20_000, seed=1, now=NOW)
    props = ",".join(list(portal.tables["contacts"].cols)[:30])
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        records, after, started = 0, None, time.perf_counter()
        while records < 10_000:
            conn.request("GET", f"/crm/v3/objects/contacts?limit=100&properties={props}"
                                + (f"&after={after}" if after else ""), headers={"Authorization": f"Bearer {TOKEN}"})
            page = json.loads(conn.getresponse().read())
            records += len(page["results"])
            after = page["paging"]["next"]["after"]
        rate = records / (time.perf_counter() - started)
        conn.close()
    assert rate > 5_000, f"{rate:,.0f} records/s"
