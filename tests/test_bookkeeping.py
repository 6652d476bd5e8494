"""The typed bookkeeping API over sync_state and sync_runs."""

import pytest

from hubspot_metrics.bookkeeping import (
    ObjectState, RunLog, RunRecord, association_key, clock_proven, mark_clock_proven, read_state, save_state)
from hubspot_metrics.client import RunStats
from hubspot_metrics.store import open_store, transaction


def test_state_is_read_back_typed_and_only_known_columns_can_be_written(tmp_path):
    with open_store(tmp_path / "store.db") as db:
        assert read_state(db.conn, "deals") is None
        with transaction(db) as conn:
            save_state(conn, "deals", mode="incremental", cursor_ms=1_700_000_000_000, list_after="4711")
            save_state(conn, association_key("associations_deals_contacts"), mode="full")
        state = read_state(db.conn, "deals")
        assert (state.mode, state.cursor_ms, state.list_after, state.server_ms, state.resuming) == (
            "incremental", 1_700_000_000_000, "4711", None, True)
        assert state.updated_at is not None
        assert read_state(db.conn, "assoc:associations_deals_contacts").mode == "full"
        with pytest.raises(ValueError, match="sync_state has no column curser_ms"):
            save_state(db.conn, "deals", curser_ms=1)
        assert not clock_proven(db.conn)
        mark_clock_proven(db.conn)
        assert clock_proven(db.conn)
        assert ObjectState(list_after="0").resuming is False


def test_the_run_log_marks_a_killed_run_interrupted_and_lists_runs_newest_first(tmp_path):
    with open_store(tmp_path / "store.db") as db:
        runs = RunLog(db.conn)
        killed = runs.start("full", pid=1)
        second = runs.start("auto", pid=2)
        stats = RunStats()
        stats.requests, stats.retries = 12, 3
        runs.finish(second, "ok", {"deals": {"written": 5}}, stats, None, ["one warning"])
        recent = runs.recent()
        assert [(r.id, r.status) for r in recent] == [(second, "ok"), (killed, "interrupted")]
        latest = recent[0]
        assert (latest.requests, latest.rate_limited, latest.retries, latest.errors, latest.message,
                latest.warnings, latest.unfinished) == (12, 0, 3, 0, None, ["one warning"], False)
        assert isinstance(latest, RunRecord) and recent[1].unfinished
        assert runs.last_ok() == second
