"""`hubspot-metrics sandbox` as a user runs it: a still sandbox gives a sync nothing new,
`--edit N` makes N changes in a running sandbox and the next sync reads them, and every way
`--edit` can miss its sandbox ends in one sentence."""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import replace
from datetime import datetime

from click.testing import CliRunner

from hubspot_metrics.config import Config, HubSpotSettings, SyncSettings
from hubspot_metrics.objects import OBJECTS
from hubspot_metrics.portal import PortalServer, generate_portal
from hubspot_metrics.portal.cli import SANDBOX_TOKEN, sandbox
from hubspot_metrics.store import open_store
from tests.sync.conftest import run_sync

from .conftest import NOW, TOKEN, running_sandbox

def sandbox_config(url: str, db_path) -> Config:
    return Config(hubspot=HubSpotSettings(base_url=url, access_token=SANDBOX_TOKEN, requests_per_10s=190,
                                          timeout_seconds=10),
                  store_path=str(db_path), sync=replace(SyncSettings(), lookback_seconds=0))


def written(result) -> dict[str, int]:
    return {name: r.written for name, r in result.objects.items() if name in OBJECTS}


def at_newest_millisecond(db_path) -> dict[str, int]:
    """Per object, how many stored live records share the newest modified date (the cursor)."""
    db = open_store(str(db_path), create=False)
    counts = {}
    for name, obj in OBJECTS.items():
        column = obj.modified_property
        counts[name] = db.conn.execute(f"SELECT count(*) FROM [{name}] WHERE archived = 0 AND [{column}] = "
                                       f"(SELECT max([{column}]) FROM [{name}])").fetchone()[0]
    db.conn.close()
    return counts


def test_a_still_sandbox_gives_the_next_sync_nothing_new(tmp_path):
    with running_sandbox("--scale", "200", "--seed", "4", "--still") as (_, url, lines):
        assert any(line.startswith("It stands still: its clock runs") for line in lines)
        config = sandbox_config(url, tmp_path / "still.db")
        run_sync(config)
        cursor = at_newest_millisecond(tmp_path / "still.db")
        again, _ = run_sync(config)
        third, _ = run_sync(config)
    # Nothing changed: all it reads is the cursor's own millisecond, which an incremental
    # reads once more until a run's changes prove HubSpot's clock (sync/window.py).
    assert written(again) == written(third) == cursor
    assert sum(cursor.values()) < 20


def test_the_sandbox_keeps_changing_while_it_serves(tmp_path):
    with running_sandbox("--scale", "200", "--seed", "4", "--pace", "600") as (_, url, lines):
        assert any(line.startswith("It lives: about 600 changes a minute") for line in lines)
        config = sandbox_config(url, tmp_path / "living.db")
        run_sync(config)
        cursor = sum(at_newest_millisecond(tmp_path / "living.db").values())
        # Ten changes a second: wait (boundedly) for the next sync to read more than the
        # cursor's own millisecond, however slowly a loaded machine runs the sandbox.
        for _ in range(60):
            time.sleep(0.5)
            result, _ = run_sync(config)
            if sum(written(result).values()) > cursor:
                break
    assert sum(written(result).values()) > cursor


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)   # HubSpot drops a zero millisecond part; the store keeps it


def served_live_records(url: str, object_type: str) -> dict[str, datetime]:
    """id -> modified date of every live record, as the running sandbox serves them."""
    modified, records, after = OBJECTS[object_type].modified_property, {}, None
    while True:
        page = json.loads(urllib.request.urlopen(urllib.request.Request(
            f"{url}/crm/v3/objects/{object_type}?limit=100&properties={modified}" + (f"&after={after}" if after else ""),
            headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"}), timeout=10).read())
        records.update({r["id"]: _instant(r["properties"][modified]) for r in page["results"]})
        after = page.get("paging", {}).get("next", {}).get("after")
        if not after:
            return records


def stored_live_records(db_path, object_type: str) -> dict[str, datetime]:
    db = open_store(str(db_path), create=False)
    column = OBJECTS[object_type].modified_property
    rows = {rid: _instant(value) for rid, value in db.conn.execute(
        f"SELECT id, [{column}] FROM [{object_type}] WHERE archived = 0 AND merged_into IS NULL")}
    db.conn.close()
    return rows


def test_edit_makes_n_changes_in_a_running_sandbox_and_the_next_sync_reads_them(tmp_path):
    with running_sandbox("--scale", "200", "--seed", "4", "--still") as (_, url, _lines):
        config = sandbox_config(url, tmp_path / "edited.db")
        run_sync(config)
        served_before = {name: served_live_records(url, name) for name in OBJECTS}
        result = CliRunner().invoke(sandbox, ["--edit", "5"], env={"HUBSPOT_API_BASE_URL": url})
        served = {name: served_live_records(url, name) for name in OBJECTS}
        run_sync(config)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 6 and all(line.startswith("  ") for line in lines[:5])
    touched = int(lines[5].split()[3])
    assert lines[5] == f"5 changes touched {touched} records; run `hubspot-metrics sync` to pick them up."
    assert served != served_before
    for name in OBJECTS:   # the store holds exactly the live records the sandbox serves, as it serves them
        assert stored_live_records(tmp_path / "edited.db", name) == served[name], name


def test_edit_without_a_sandbox_address_says_where_to_find_it():
    result = CliRunner().invoke(sandbox, ["--edit", "3"], env={"HUBSPOT_API_BASE_URL": None})
    assert result.exit_code == 1
    assert result.output == ("Error: --edit needs the running sandbox's address: export HUBSPOT_API_BASE_URL as "
                             "the sandbox printed it, or pass --url.\n")


def test_edit_where_nothing_listens_says_to_start_the_sandbox():
    server = PortalServer(generate_portal(scale=20, seed=1, now=NOW), token=TOKEN).start()
    url = server.url
    server.stop()   # the port is free again: nothing answers there
    result = CliRunner().invoke(sandbox, ["--edit", "3", "--url", url])
    assert result.exit_code == 1
    assert result.output == (f"Error: Nothing answers at {url}; start `hubspot-metrics sandbox` in another terminal "
                             "and use the address it prints.\n")


def test_edit_against_a_portal_that_is_not_the_sandbox_is_refused_in_one_sentence():
    with PortalServer(generate_portal(scale=20, seed=1, now=NOW), token=TOKEN) as server:
        url = server.url
        result = CliRunner().invoke(sandbox, ["--edit", "3", "--url", url])
    assert result.exit_code == 1
    assert result.output == (f"Error: {url} is not a running hubspot-metrics sandbox (it answered 401); "
                             "point --url at the address the sandbox printed.\n")
