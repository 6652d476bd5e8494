"""Authentication: OAuth refresh, and the token never leaving the process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hubspot_metrics.client import HubSpotClient, RunStats
from hubspot_metrics.config import Config, HubSpotSettings, SyncSettings
from hubspot_metrics.portal import PortalServer, generate_portal

from .conftest import NOW, TOKEN, request_counts


class JumpingClock:
    """A monotonic clock we can move forward, to reach a token's expiry without waiting."""

    def __init__(self):
        self.offset = 0.0

    def __call__(self):
        import time
        return time.monotonic() + self.offset


def oauth_config(server, db_path):
    return Config(hubspot=HubSpotSettings(base_url=server.url, client_id="app-1", client_secret="s3cret",
                                          refresh_token="na1-refresh", requests_per_10s=10_000,
                                          search_requests_per_second=10_000, timeout_seconds=5),
                  store_path=str(db_path), sync=SyncSettings(objects=("contacts",), lookback_seconds=0))


def test_oauth_token_is_refreshed_before_it_expires(tmp_path):
    portal = generate_portal(scale=150, seed=21, now=NOW)
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None,
                      oauth_clients={"app-1": ("s3cret", "na1-refresh")}, oauth_expires_in=1800) as server:
        config = oauth_config(server, tmp_path / "s.db")
        clock = JumpingClock()
        client = HubSpotClient(config.hubspot, sleep=lambda s: None, clock=clock)
        assert request_counts(server)[("POST", "/oauth/v1/token")] == 1
        client.list_page("contacts", ["email"], limit=1)
        clock.offset = 1800 - 299  # under five minutes left: the next call refreshes first
        client.list_page("contacts", ["email"], limit=1)
        assert request_counts(server)[("POST", "/oauth/v1/token")] == 2
        assert all(r.status == 200 for r in server.request_log)


def test_an_expired_oauth_token_is_refreshed_and_the_call_retried(tmp_path):
    import time

    portal = generate_portal(scale=150, seed=22, now=NOW)
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None,
                      oauth_clients={"app-1": ("s3cret", "na1-refresh")}, oauth_expires_in=1) as server:
        client = HubSpotClient(oauth_config(server, tmp_path / "s.db").hubspot, sleep=lambda s: None)
        client.list_page("contacts", ["email"], limit=1)
        time.sleep(1.2)
        client._token_expires_at = float("inf")  # as if our clock had missed the expiry
        page = client.list_page("contacts", ["email"], limit=1)
        assert len(page["results"]) == 1
        assert [(r.method, r.path, r.status) for r in server.request_log] == [
            ("POST", "/oauth/v1/token", 200), ("GET", "/crm/v3/objects/contacts", 200),
            ("GET", "/crm/v3/objects/contacts", 401), ("POST", "/oauth/v1/token", 200),
            ("GET", "/crm/v3/objects/contacts", 200)]


def test_the_token_never_appears_in_output_logs_or_the_store(tmp_path):
    portal = generate_portal(scale=200, seed=23, now=NOW)
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        # Faults make retries (and their log lines) happen; 429s would only add 10 s waits.
        server.faults.configure(rate=0.1, kinds={"5xx", "reset", "truncate"}, seed=5)
        db_path = tmp_path / "s.db"
        config_path = tmp_path / "c.toml"
        config_path.write_text("[hubspot]\nrequests_per_10s = 100000\nsearch_requests_per_second = 10000\n")
        env = dict(os.environ, HUBSPOT_ACCESS_TOKEN=TOKEN, HUBSPOT_API_BASE_URL=server.url,
                   HUBSPOT_METRICS_DB=str(db_path), HUBSPOT_METRICS_CONFIG=str(config_path))
        outputs = []
        out = tmp_path / "out"
        out.mkdir()
        for args in (["-vv", "sync"], ["-vv", "sync"], ["status"], ["check"], ["-vv", "nightly"],
                     ["-vv", "export", "--out", str(out / "kpis.csv")], ["-vv", "export", "--wide", "--out",
                     str(out / "wide.csv")], ["-vv", "report", "--out", str(out / "report.html")],
                     ["-vv", "kpis", "--period", "2026-10", "--format", "json"]):
            done = subprocess.run([sys.executable, "-m", "hubspot_metrics", *args], env=env, capture_output=True)
            assert done.returncode == 0, done.stderr.decode()[-2000:]
            outputs += [done.stdout, done.stderr]
        # The token in the config file instead of the environment (mode 600: no warning).
        token_config = tmp_path / "token.toml"
        token_config.write_text(config_path.read_text().replace(
            "[hubspot]\n", f'[hubspot]\naccess_token = "{TOKEN}"\n') + f'[nightly]\nexport_path = "{out / "n.csv"}"\n'
            f'report_path = "{out / "n.html"}"\n')
        token_config.chmod(0o600)
        from_file = {k: v for k, v in env.items() if k != "HUBSPOT_ACCESS_TOKEN"} | {
            "HUBSPOT_METRICS_CONFIG": str(token_config)}
        done = subprocess.run([sys.executable, "-m", "hubspot_metrics", "-vv", "nightly"], env=from_file,
                              capture_output=True)
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        outputs += [done.stdout, done.stderr]
        wrong = subprocess.run([sys.executable, "-m", "hubspot_metrics", "sync"], capture_output=True,
                               env=dict(env, HUBSPOT_ACCESS_TOKEN="pat-na1-99999999-bad0-bad0-bad0-999999999999"))
        assert wrong.returncode == 4
        assert wrong.stderr.decode().strip().splitlines()[-1].startswith("Error: the HubSpot token was rejected (HTTP 401)")
        assert b"Traceback" not in wrong.stderr
        outputs += [wrong.stdout, wrong.stderr]
    secrets = [TOKEN.encode(), b"pat-na1-99999999-bad0"]
    produced = [p for p in Path(tmp_path).rglob("*") if p.is_file() and p.name != "token.toml"]
    assert {p.name for p in produced} >= {"s.db", "kpis.csv", "wide.csv", "report.html", "n.csv", "n.html"}
    for blob in outputs + [p.read_bytes() for p in produced]:
        for secret in secrets:
            assert secret not in blob
    assert b"sync ok" in b"".join(outputs) and b"nightly ok" in b"".join(outputs)
