"""The store's bookkeeping, typed: each object's sync state and the log of sync runs.

`sync_state` holds one row per object, plus one per association table (`assoc:<table>`)
and the `clock` row that remembers HubSpot's Date header was proven to run on the records'
clock. Only this module knows those keys and the tables' columns.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, fields
from datetime import datetime, timezone

from hubspot_metrics.values import format_instant

CLOCK_KEY = "clock"


def now_iso() -> str:
    return format_instant(datetime.now(timezone.utc))


@dataclass(frozen=True)
class ObjectState:
    """Where the sync of one object (or association table) stands."""
    mode: str | None = None                # "full" while a full listing runs, then "incremental"
    list_after: str | None = None          # the paging cursor (or search id floor) to resume after
    cursor_ms: int | None = None           # the newest modified time read
    server_ms: int | None = None           # HubSpot's clock when the run that set the cursor began
    pending_cursor_ms: int | None = None   # the cursor an unfinished run will set
    pending_server_ms: int | None = None
    pending_start_ms: int | None = None    # an interrupted incremental run's window start
    full_completed_at: str | None = None
    portal_total: int | None = None        # HubSpot's record count when the last full sync began
    updated_at: str | None = None

    @property
    def resuming(self) -> bool:
        return (self.list_after or "0") != "0"


_STATE_FIELDS = tuple(f.name for f in fields(ObjectState))


def association_key(table: str) -> str:
    return "assoc:" + table


def read_state(conn: sqlite3.Connection, key: str) -> ObjectState | None:
    row = conn.execute(f"SELECT {', '.join(_STATE_FIELDS)} FROM sync_state WHERE object_type = ?", [key]).fetchone()
    return None if row is None else ObjectState(*row)


def save_state(conn: sqlite3.Connection, key: str, **values) -> None:
    unknown = set(values) - set(_STATE_FIELDS)
    if unknown:
        raise ValueError(f"sync_state has no column {sorted(unknown)[0]}")
    values["updated_at"] = now_iso()
    conn.execute("INSERT INTO sync_state (object_type) VALUES (?) ON CONFLICT DO NOTHING", [key])
    conn.execute(f"UPDATE sync_state SET {', '.join(f'{k} = ?' for k in values)} WHERE object_type = ?",
                 [*values.values(), key])


def clock_proven(conn: sqlite3.Connection) -> bool:
    return read_state(conn, CLOCK_KEY) is not None


def mark_clock_proven(conn: sqlite3.Connection) -> None:
    save_state(conn, CLOCK_KEY, mode="proven")


@dataclass(frozen=True)
class RunRecord:
    """One row of the run log."""
    id: int
    started_at: str
    ended_at: str | None
    status: str
    requests: int
    rate_limited: int
    retries: int
    errors: int
    message: str | None
    warnings: list[str]

    @property
    def unfinished(self) -> bool:
        return self.status in ("interrupted", "running")


class RunLog:
    """The `sync_runs` table: one row per sync, written at its start and at its end."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def start(self, mode: str, pid: int) -> int:
        # Called under the sync lock, by the only writer: a 'running' row left is from a killed sync.
        self.conn.execute("UPDATE sync_runs SET status = 'interrupted', ended_at = COALESCE(ended_at, ?) "
                          "WHERE status = 'running'", [now_iso()])
        return self.conn.execute("INSERT INTO sync_runs (started_at, status, mode, pid) VALUES (?, 'running', ?, ?) "
                                 "RETURNING id", [now_iso(), mode, pid]).fetchone()[0]

    def finish(self, run_id: int, status: str, counts: dict, stats, message: str | None,
               warnings: list[str]) -> None:
        self.conn.execute(
            "UPDATE sync_runs SET ended_at = ?, status = ?, counts = ?, requests = ?, rate_limited = ?, "
            "retries = ?, errors = ?, message = ?, warnings = ? WHERE id = ?",
            [now_iso(), status, json.dumps(counts), stats.requests, stats.rate_limited, stats.retries,
             stats.errors, message, json.dumps(warnings), run_id])

    def recent(self, limit: int = 5) -> list[RunRecord]:
        """The latest runs, newest first."""
        rows = self.conn.execute(
            "SELECT id, started_at, ended_at, status, requests, rate_limited, retries, errors, message, warnings "
            "FROM sync_runs ORDER BY id DESC LIMIT ?", [limit]).fetchall()
        return [RunRecord(*row[:4], *(n or 0 for n in row[4:8]), row[8], json.loads(row[9]) if row[9] else [])
                for row in rows]

    def last_ok(self) -> int | None:
        row = self.conn.execute("SELECT max(id) FROM sync_runs WHERE status = 'ok'").fetchone()
        return row[0] if row else None
