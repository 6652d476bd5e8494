"""Nothing lost: faults, rate limits and kills end in the same store as a clean sync."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import replace

import pytest

from hubspot_metrics.client import HubSpotClient
from hubspot_metrics.errors import AuthError, HubSpotError, QuotaError
from hubspot_metrics.portal import PortalServer, generate_portal
from hubspot_metrics.store import open_store
from hubspot_metrics.sync import Sync

from .conftest import NOW, TOKEN, full_store_dump, make_config, run_sync, stored_rows

FAULT_KINDS = ("5xx", "reset", "truncate", "slow", "429", "index_lag")


def clean_dump(portal, tmp_path, **overrides):
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        path = tmp_path / "clean.db"
        run_sync(make_config(server, path, **overrides))
    return full_store_dump(path)


@pytest.mark.parametrize("kinds", [{k} for k in FAULT_KINDS if k != "index_lag"] + [set(FAULT_KINDS) - {"index_lag"}],
                         ids=lambda k: "+".join(sorted(k)))
def test_faults_at_fifteen_percent_leave_the_store_equal_to_a_clean_sync(tmp_path, kinds):
    portal = generate_portal(scale=300, seed=11, now=NOW)
    expected = clean_dump(portal, tmp_path)
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        server.faults.configure(rate=0.15, kinds=kinds, seed=7, slow_seconds=0.05)
        path = tmp_path / "faulty.db"
        result, stats = run_sync(make_config(server, path))
        injected = sum(1 for r in server.request_log if r.status != 200)
    assert result.status == "ok"
    assert stats.retries > 0 or kinds == {"slow"}
    assert full_store_dump(path) == expected


def test_a_fault_that_outlasts_the_retry_budget_stops_cleanly_and_the_next_run_completes(tmp_path):
    portal = generate_portal(scale=300, seed=12, now=NOW)
    expected = clean_dump(portal, tmp_path)
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        path = tmp_path / "store.db"
        config = make_config(server, path)
        server.faults.configure(rate=1.0, kinds={"5xx"}, seed=1)
        with pytest.raises(HubSpotError, match=r"^HubSpot kept failing on the account details \(HTTP 5\d\d\) after 9 attempts; "
                                               r"what was synced so far is kept, run the sync again later\.$"):
            run_sync(config)
        server.faults.clear()
        run_sync(config)
    assert full_store_dump(path) == expected


def test_rate_limited_responses_are_retried_and_counted(tmp_path):
    portal = generate_portal(scale=200, seed=13, now=NOW)
    expected = clean_dump(portal, tmp_path)
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        server.faults.configure(rate=0.3, kinds={"429"}, seed=3)
        path = tmp_path / "store.db"
        result, stats = run_sync(make_config(server, path))
        limited = sum(1 for r in server.request_log if r.status == 429)
    assert limited > 0 and stats.rate_limited == limited and stats.retries == limited
    assert full_store_dump(path) == expected


def test_back_to_back_syncs_under_a_real_limit_see_no_429(tmp_path):
    """The second run starts with an empty window of its own; HubSpot's Remaining header tells
    it what the first run still occupies."""
    portal = generate_portal(scale=60, seed=21, now=NOW)
    with PortalServer(portal, token=TOKEN, requests_per_10s=8, search_per_second=5) as server:
        config = make_config(server, tmp_path / "store.db", objects=("contacts", "companies"))
        config = replace(config, hubspot=replace(config.hubspot, requests_per_10s=100,
                                                 search_requests_per_second=4))
        db = open_store(config.store_path)
        runs = []
        for full in (True, True):  # real waits: the limiter must actually hold back
            client = HubSpotClient(config.hubspot)
            Sync(config, db, client, full=full).run()
            runs.append((client.stats.requests, client.stats.rate_limited))
        db.conn.close()
        refused = [r for r in server.request_log if r.status == 429]
    assert all(requests > 8 for requests, _ in runs), runs  # each run alone overfills one window
    assert [limited for _, limited in runs] == [0, 0] and refused == []


def test_daily_limit_ends_the_run_and_keeps_what_was_synced(tmp_path):
    portal = generate_portal(scale=200, seed=14, now=NOW)
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None, daily_limit=12) as server:
        path = tmp_path / "store.db"
        with pytest.raises(QuotaError, match="daily API limit is used up"):
            run_sync(make_config(server, path))
    from hubspot_metrics.store import open_store
    db = open_store(path, create=False)
    assert db.conn.execute("SELECT status FROM sync_runs").fetchall() == [("quota",)]
    assert db.conn.execute("SELECT count(*) FROM contacts").fetchone()[0] > 0
    db.conn.close()


def test_wrong_token_and_missing_scope(tmp_path):
    portal = generate_portal(scale=100, seed=15, now=NOW)
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None,
                      scopes={"crm.objects.contacts.read", "crm.objects.companies.read", "crm.objects.deals.read",
                              "tickets", "crm.objects.owners.read"}) as server:
        config = make_config(server, tmp_path / "store.db")
        bad = config.__class__(**{**config.__dict__, "hubspot": config.hubspot.__class__(
            **{**config.hubspot.__dict__, "access_token": "pat-na1-wrong"})})
        with pytest.raises(AuthError, match=r"^The HubSpot token was rejected \(HTTP 401\); create a new private app"):
            run_sync(bad)
        result, _ = run_sync(config)
        assert result.status == "ok"
        assert result.objects["feedback_submissions"].skipped == "missing scope"
        assert any(w.startswith("Skipped feedback_submissions:") and "nps, csat" in w for w in result.warnings)


# --- kill -9 at seeded random points --------------------------------------------------------

def _cli_env(server, db_path, config_path):
    env = dict(os.environ)
    env.update(HUBSPOT_ACCESS_TOKEN=TOKEN, HUBSPOT_API_BASE_URL=server.url, HUBSPOT_METRICS_DB=str(db_path),
               HUBSPOT_METRICS_CONFIG=str(config_path))
    return env


def _write_config(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[hubspot]\nrequests_per_10s = 100000\nsearch_requests_per_second = 10000\n"
                    "[sync]\nlookback_seconds = 0\n", encoding="utf-8")
    return path


def _sync_killed_after(server, env, requests_before_kill: int) -> bool:
    """Start a CLI sync and kill -9 it once the portal has seen that many more requests."""
    start = len(server.request_log)
    proc = subprocess.Popen([sys.executable, "-m", "hubspot_metrics", "sync"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        if len(server.request_log) - start >= requests_before_kill:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.001)
    proc.wait()
    return False


def _mutate(portal):
    """A day of edits: updates, a creation, an archive, a merge and a bulk import."""
    portal.advance_clock(seconds=3600)
    contacts = [r["id"] for r in portal.records("contacts")]
    deals = [r["id"] for r in portal.records("deals")]
    for cid in contacts[:30]:
        portal.update("contacts", cid, {"lifecyclestage": "customer"})
    for did in deals[:20]:
        portal.update("deals", did, {"dealstage": "closedwon"})
    portal.associate("deals", portal.create("deals", {"dealname": "New"}), "contacts", contacts[40])
    portal.archive("contacts", contacts[50])
    portal.merge("contacts", contacts[60], contacts[61])
    portal.bulk_touch("tickets", 250)


@pytest.mark.slow
def test_kill_at_random_points_then_rerun_gives_the_clean_store(tmp_path):
    """kill -9 at 24 seeded random points: 12 in full syncs, 12 in incremental syncs."""
    rng = random.Random(2026)
    portal = generate_portal(scale=300, seed=16, now=NOW)
    config_path = _write_config(tmp_path)
    killed = 0
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        cli = lambda env: subprocess.run([sys.executable, "-m", "hubspot_metrics", "sync"], env=env,
                                         capture_output=True)
        # Uninterrupted references: a full sync, then the same store after the edits.
        reference = tmp_path / "reference.db"
        server.reset_log()
        assert cli(_cli_env(server, reference, config_path)).returncode == 0
        full_requests = len(server.request_log)
        expected_full = full_store_dump(reference)
        for point in range(12):
            db_path = tmp_path / f"full{point}.db"
            env = _cli_env(server, db_path, config_path)
            killed += _sync_killed_after(server, env, rng.randrange(1, full_requests))
            assert cli(env).returncode == 0
            assert full_store_dump(db_path) == expected_full, f"full sync killed at point {point}"

        _mutate(portal)
        server.reset_log()
        assert cli(_cli_env(server, reference, config_path)).returncode == 0
        incremental_requests = len(server.request_log)
        expected_incremental = full_store_dump(reference)
        for point in range(12):
            db_path = tmp_path / f"full{point}.db"  # each holds the pre-edit store
            env = _cli_env(server, db_path, config_path)
            killed += _sync_killed_after(server, env, rng.randrange(1, incremental_requests))
            assert cli(env).returncode == 0
            assert full_store_dump(db_path) == expected_incremental, f"incremental sync killed at point {point}"
    assert killed >= 20


def test_an_unreachable_host_fails_at_once_with_one_sentence(tmp_path):
    from hubspot_metrics.config import HubSpotSettings

    client = HubSpotClient(HubSpotSettings(base_url="http://127.0.0.1:1", access_token=TOKEN), sleep=lambda s: None)
    with pytest.raises(HubSpotError) as info:
        client.account_details()
    assert str(info.value) == ("Cannot reach HubSpot at http://127.0.0.1:1 (NewConnectionError); check "
                               "HUBSPOT_API_BASE_URL / [hubspot] base_url and the network.")
    assert client.stats.requests == 1 and client.stats.retries == 0


def test_a_second_sync_is_refused_while_one_runs(tmp_path, server):
    from hubspot_metrics.sync import SyncLock

    db_path = tmp_path / "store.db"
    config_path = _write_config(tmp_path)
    with SyncLock(str(db_path)):
        done = subprocess.run([sys.executable, "-m", "hubspot_metrics", "sync"], capture_output=True,
                              env=_cli_env(server, db_path, config_path), timeout=60)
    assert done.returncode == 6
    assert done.stderr.decode().strip() == f"Error: Another sync is already running on {db_path}; wait for it to finish."
    assert not db_path.exists()  # refused before touching anything


def test_kpis_run_during_a_sync_and_read_one_snapshot(tmp_path):
    """WAL: readers are not blocked by the sync; while it runs, kpis read one snapshot."""
    import json
    import threading

    portal = generate_portal(scale=400, seed=17, now=NOW)
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        db_path = tmp_path / "store.db"
        config_path = _write_config(tmp_path)
        env = _cli_env(server, db_path, config_path)
        assert subprocess.run([sys.executable, "-m", "hubspot_metrics", "sync"], env=env,
                              capture_output=True).returncode == 0
        server.faults.configure(rate=1.0, kinds={"slow"}, slow_seconds=0.05)  # a long second sync
        sync = subprocess.Popen([sys.executable, "-m", "hubspot_metrics", "sync", "--full"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            results = []
            for _ in range(3):
                done = subprocess.run([sys.executable, "-m", "hubspot_metrics", "kpis", "--period", "2026-10",
                                       "--format", "json"], env=env, capture_output=True, timeout=60)
                assert done.returncode == 0, done.stderr.decode()
                results.append(json.loads(done.stdout)["kpis"])
            assert sync.poll() is None  # the kpis above really ran while the sync was writing
        finally:
            sync.wait(timeout=120)
        assert sync.returncode == 0
    # The full re-sync rewrites identical data: every snapshot read the same KPIs.
    assert results[0] == results[1] == results[2]


def test_search_index_lag_is_covered_by_the_lookback(tmp_path):
    """Changes still missing from the search index during one run are read by the next."""
    from dataclasses import replace

    portal = generate_portal(scale=300, seed=18, now=NOW)
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        db_path = tmp_path / "store.db"
        config = make_config(server, db_path)
        config = replace(config, sync=replace(config.sync, lookback_seconds=600))
        run_sync(config)
        portal.advance_clock(seconds=3600)
        contacts = [r["id"] for r in portal.records("contacts")][:20]
        for cid in contacts[:10]:
            portal.update("contacts", cid, {"firstname": "early"})
        portal.advance_clock(seconds=120)
        for cid in contacts[10:]:
            portal.update("contacts", cid, {"firstname": "lagging"})  # not yet searchable
        server.faults.configure(rate=0.0, kinds={"index_lag"}, index_lag_seconds=60)
        run_sync(config)
        stored = {cid: row["firstname"] for cid, row in stored_rows(db_path, "contacts").items()}
        assert [stored[c] for c in contacts[:10]] == ["early"] * 10
        assert all(stored[c] != "lagging" for c in contacts[10:])  # the index had not caught up
        portal.advance_clock(seconds=300)  # the index catches up; the next nightly run
        run_sync(config)
        stored = {cid: row["firstname"] for cid, row in stored_rows(db_path, "contacts").items()}
        assert [stored[c] for c in contacts[10:]] == ["lagging"] * 10
