"""Dated KPI snapshots, so that trends survive later edits in HubSpot."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from hubspot_metrics.bookkeeping import RunLog
from hubspot_metrics.config import MetricsSettings
from hubspot_metrics.metrics import DEFINITION_VERSION, complete_to, compute_kpis, with_store_timezone
from hubspot_metrics.metrics.definition import definition_fingerprint
from hubspot_metrics.periods import Period
from hubspot_metrics.dialect import dialect_of
from hubspot_metrics.store import replace_sql, transaction
from hubspot_metrics.values import format_instant

COLUMNS = ("snapshot_date", "computed_at", "period", "grain", "start", "end", "key", "value", "n", "reason", "unit",
           "definition_version", "sync_run_id", "definition", "as_of", "partial")


def snapshot(db, periods: list[Period], settings: MetricsSettings, now: datetime | None = None,
             run_id: int | None = None) -> int:
    """Compute and store the KPIs of `periods` as the store stands at `now` (by default the
    start of its last completed sync); returns the rows written.

    The snapshot date is the local day of `now` in the time zone in use: a second run on the
    same day replaces that day's rows (primary key), so cron retries never duplicate history.
    Each row records the definition fingerprint its value was computed under, and whether its
    period was still open (`partial`, `as_of`).
    """
    settings = with_store_timezone(db, settings)
    now = now or complete_to(db)
    day = now.astimezone(ZoneInfo(settings.timezone)).date().isoformat()
    computed_at = format_instant(now)
    # The nightly job names the run it just did; otherwise the latest successful one.
    run_id = RunLog(db.conn).last_ok() if run_id is None else run_id
    rows = []
    for period in periods:
        result = compute_kpis(db, period, settings, now=now)
        definition = definition_fingerprint(settings, period)
        for key, kpi in result["kpis"].items():
            rows.append((day, computed_at, period.label, period.grain, result["start"], result["end"], key,
                         kpi["value"], kpi["n"], kpi["reason"], kpi["unit"], DEFINITION_VERSION, run_id, definition,
                         result["as_of"], int(result["partial"])))
    with transaction(db) as conn:
        conn.executemany(replace_sql("kpi_snapshots", COLUMNS, key=("snapshot_date", "period", "key")), rows)
    return len(rows)


def latest_closed_rows(db, period_label: str, definition: str) -> list[dict]:
    """The most recent snapshot of a closed period taken under `definition`, one dict per KPI
    (empty when there is none: never snapshotted, snapshotted while open, or under another
    definition, such as every snapshot of spec v1)."""
    if "kpi_snapshots" not in dialect_of(db).table_names(db.conn):
        return []  # a store opened read-only before its first nightly run
    cursor = db.conn.execute(
        "SELECT period, start, [end], key, value, n, reason, unit, computed_at, snapshot_date FROM kpi_snapshots "
        "WHERE period = :p AND definition = :d AND NOT partial AND snapshot_date = (SELECT max(snapshot_date) "
        "FROM kpi_snapshots WHERE period = :p AND definition = :d AND NOT partial)",
        {"p": period_label, "d": definition})
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor]
