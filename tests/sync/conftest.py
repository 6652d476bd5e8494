"""Shared fixtures for sync tests: a simulated portal over real sockets and store oracles."""

from __future__ import annotations

import math
import signal
import subprocess
import sys
import time
import sqlite3
from collections import Counter
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from hubspot_metrics import app
from hubspot_metrics.client import HubSpotClient, RunStats
from hubspot_metrics.config import Config, HubSpotSettings, SyncSettings
from hubspot_metrics.objects import ASSOCIATIONS, OBJECTS
from hubspot_metrics.portal import PortalServer, generate_portal
from hubspot_metrics.store import open_store
from hubspot_metrics.values import UNPARSED, convert, store_kind

TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def portal():
    return generate_portal(scale=400, seed=3, now=NOW)


@pytest.fixture
def server(portal):
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as srv:
        yield srv


def make_config(server, db_path, **sync_overrides) -> Config:
    return Config(
        hubspot=HubSpotSettings(base_url=server.url, access_token=TOKEN, requests_per_10s=10_000,
                                search_requests_per_second=10_000, timeout_seconds=5, max_retries=8),
        store_path=str(db_path),
        sync=replace(SyncSettings(), **{"lookback_seconds": 0, **sync_overrides}),
    )


def run_sync(config: Config, *, full=False, only=None, stats=None):
    """One sync with waits switched off: tests count attempts, not seconds."""
    client = HubSpotClient(config.hubspot, stats=stats or RunStats(), sleep=lambda s: None)
    outcome = app.sync(config, full=full, only=only, client=client)
    return outcome.result, outcome.stats


def clean_dump(portal, tmp_path, **overrides):
    """The store a sync without faults makes of the portal as it is now."""
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        path = tmp_path / "clean.db"
        run_sync(make_config(server, path, **overrides))
    return full_store_dump(path)


def state_of(path, key: str) -> dict:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    row = conn.execute("SELECT mode, list_after, cursor_ms, pending_cursor_ms, full_completed_at FROM sync_state "
                       "WHERE object_type = ?", [key]).fetchone()
    conn.close()
    return dict(row)


def request_counts(server) -> Counter:
    """(method, path) -> number of requests, with object paths kept whole."""
    return Counter((r.method, r.path.rstrip("/")) for r in server.request_log)


# --- oracles ------------------------------------------------------------------------------

def _stored(raw, kind):
    value = convert(raw, kind)
    return raw if value is UNPARSED else value


def expected_rows(portal, object_type: str) -> dict[str, dict]:
    """What the store must hold for one object, computed from the portal's own records."""
    kinds = {name: store_kind(t) for name, t in OBJECTS[object_type].properties.items()}
    merged_into = {}
    rows = {}
    for archived in (False, True):
        for record in portal.records(object_type, archived=archived):
            props = record["properties"]
            row = {"id": str(record["id"]), "archived": int(archived)}
            row.update({name: _stored(props.get(name), kind) for name, kind in kinds.items()})
            rows[row["id"]] = row
            for mid in (props.get("hs_merged_object_ids") or "").split(";"):
                if mid.strip() and mid.strip() != row["id"]:
                    merged_into[mid.strip()] = row["id"]
    for row in rows.values():
        row["merged_into"] = merged_into.get(row["id"])
    return rows


def stored_rows(db_path, object_type: str, only_ids=None) -> dict[str, dict]:
    db = open_store(db_path, create=False)
    columns = ["id", "archived", "merged_into"] + list(OBJECTS[object_type].properties)
    present = {c[1] for c in db.conn.execute(f"PRAGMA table_info([{object_type}])")}
    select = ", ".join(f'"{c}"' if c in present else f"NULL AS \"{c}\"" for c in columns)
    rows = {}
    for values in db.conn.execute(f"SELECT {select} FROM [{object_type}]"):
        row = dict(zip(columns, values))
        rows[row["id"]] = row
    db.conn.close()
    return rows


def assert_rows_equal(actual: dict, expected: dict, object_type: str) -> None:
    assert set(actual) >= set(expected), f"{object_type}: missing ids {sorted(set(expected) - set(actual))[:10]}"
    for rid, exp in expected.items():
        got = actual[rid]
        for key, value in exp.items():
            g = got.get(key)
            if isinstance(value, float) and isinstance(g, float):
                assert math.isclose(g, value, rel_tol=1e-12), (object_type, rid, key, g, value)
            else:
                assert g == value, (object_type, rid, key, g, value)


def expected_associations(portal, pair) -> set[tuple[str, str]]:
    live = {str(r["id"]) for r in portal.records(pair.from_object, archived=False)}
    return {(a, b) for a, b in portal_associations(portal, pair) if a in live}


def portal_associations(portal, pair) -> set[tuple[str, str]]:
    return {(str(a), str(b)) for a, b in portal.association_pairs(pair.from_object, pair.to_object)}


def stored_associations(db_path, pair) -> set[tuple[str, str]]:
    db = open_store(db_path, create=False)
    rows = {(a, b) for a, b in db.conn.execute(f"SELECT [{pair.from_column}], [{pair.to_column}] FROM [{pair.table}]")}
    db.conn.close()
    return rows


def full_store_dump(db_path) -> dict[str, list[tuple]]:
    """Every data table, row by row, for store-equality checks (run bookkeeping excluded)."""
    db = open_store(db_path, create=False)
    skip = {"sync_runs", "sync_state", "_sqlite_migrations", "sqlite_sequence", "sync_changed", "kpi_snapshots"}
    dump = {}
    for (name,) in db.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
        if name in skip or name.startswith("sqlite_"):
            continue
        columns = sorted(c[1] for c in db.conn.execute(f"PRAGMA table_info([{name}])"))
        select = ", ".join(f'"{c}"' for c in columns)
        dump[name] = (columns, sorted(db.conn.execute(f"SELECT {select} FROM [{name}]").fetchall(), key=repr))
    db.conn.close()
    return dump


def sync_killed_after(server, env, requests_before_kill: int) -> bool:
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
