"""A bench-only copy of a SQLite store into a PostgreSQL schema (bench_metrics.py --postgres).

The store layer makes the schema: `open_store` runs the same numbered migrations, and each
property column gets the dialect's type for what it holds. The rows then go in by COPY, as
text into a staging table, and PostgreSQL converts them into the typed columns. A value that
is not what its column holds (SQLite keeps such raw text in the cell) becomes NULL, as a sync
into PostgreSQL leaves it; `value_issues` is copied too, so it still lists the raw text.
Last, the metrics' indexes as the sync makes them, and fresh planner statistics.

Copying, rather than syncing from a simulated portal, because the metrics bench's store is
built directly (a million contacts through the HTTP portal would take far longer than the
KPIs being measured).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

# SQLite's bookkeeping, not part of the store contract.
SKIPPED_TABLES = ("_sqlite_migrations", "sqlite_sequence", "sqlite_stat1", "sqlite_stat4")
INSTANT_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$"
NUMBER_PATTERN = r"^-?[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?$"


def property_kind(sqlite_type: str, name: str) -> str:
    """The store kind (values.store_kind) of a bench column, from its SQLite type and name: the
    bench declares instants as TEXT, and names them as HubSpot does (…date, …_date_…, …_at,
    hs_submission_timestamp)."""
    if sqlite_type.upper() == "REAL":
        return "number"
    if sqlite_type.upper() == "INTEGER":
        return "bool"
    if name.endswith(("date", "_at", "_timestamp")) or "_date_" in name:
        return "datetime"
    return "text"


def _converted(column: str, pg_type: str) -> str:
    """SQL turning the staged text of `column` into its PostgreSQL type; NULL where it does not fit."""
    c = f'"{column}"'
    if pg_type == "timestamp with time zone":
        return f"CASE WHEN {c} ~ '{INSTANT_PATTERN}' THEN CAST({c} AS timestamptz) END"
    if pg_type == "boolean":
        return f"CASE WHEN {c} IN ('0', '1') THEN {c} = '1' END"
    if pg_type == "double precision":
        return f"CASE WHEN {c} ~ '{NUMBER_PATTERN}' THEN CAST({c} AS double precision) END"
    if pg_type in ("bigint", "integer"):
        return f"CAST({c} AS bigint)"
    if pg_type == "jsonb":
        return f"CAST({c} AS jsonb)"
    return c


def copy_store(sqlite_path: Path, url: str, schema: str) -> float:
    """Copy the store at `sqlite_path` into `schema` of `url` (created; must not hold a store
    yet). Returns the seconds it took."""
    from hubspot_metrics.dialect import dialect_of
    from hubspot_metrics.metrics import ensure_indexes
    from hubspot_metrics.store import open_store

    started = time.perf_counter()
    source = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
    with open_store(url, schema=schema, create=True) as db:
        conn, dialect = db.conn, dialect_of(db)
        pg_tables = dialect.table_names(conn)
        tables = [name for (name,) in source.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                  if name not in SKIPPED_TABLES and name in pg_tables]
        for table in tables:
            present = set(dialect.column_names(conn, table))
            source_columns = [(row[1], row[2]) for row in source.execute(f'PRAGMA table_info("{table}")')]
            for name, sqlite_type in source_columns:
                if name not in present:
                    conn.execute(f'ALTER TABLE "{table}" ADD COLUMN "{name}" '
                                 f"{dialect.column_type(property_kind(sqlite_type, name))}")
            _copy_table(source, conn, table, [name for name, _ in source_columns])
        ensure_indexes(db)
        conn.execute("ANALYZE")  # (autovacuum would, some minutes after a bulk load)
    source.close()
    return time.perf_counter() - started


def _copy_table(source: sqlite3.Connection, conn, table: str, columns: list[str]) -> None:
    types = dict(conn.execute("SELECT column_name, data_type FROM information_schema.columns "
                              "WHERE table_schema = current_schema() AND table_name = ?", [table]).fetchall())
    names = ", ".join(f'"{c}"' for c in columns)
    raw = conn.raw
    with raw.transaction():
        raw.execute(f"CREATE TEMPORARY TABLE staged ({', '.join(f'{chr(34)}{c}{chr(34)} text' for c in columns)}) "
                    "ON COMMIT DROP")
        with raw.cursor().copy(f"COPY staged ({names}) FROM STDIN") as copy:
            for row in source.execute(f'SELECT {names} FROM "{table}"'):
                copy.write_row(row)
        raw.execute(f'INSERT INTO "{table}" ({names}) SELECT '
                    f"{', '.join(_converted(c, types[c]) for c in columns)} FROM staged")
