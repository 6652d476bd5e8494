"""The indexes the KPI queries use, created by the sync after each run (and by `kpis`).

They live beside the store, not in metrics/, so that the sync (a lower layer) can create
them without importing the metrics. The KPI scans read whole tables on purpose (a range of
a closedate index costs a random row read per deal, slower than a sequential scan for the
windows KPIs need). What pays off is finding the ids named in hs_merged_object_ids, and
counting excluded records, without a scan.
"""

from __future__ import annotations

import sqlite3

from hubspot_metrics.dialect import Dialect, dialect_of
from hubspot_metrics.objects import OBJECTS
from hubspot_metrics.store import RECORD_COLUMNS, quote

EXCLUDED_INDEX_WHERE = "archived <> 0 OR merged_into IS NOT NULL"


def excluded_where(dialect: Dialect) -> str:
    """The excluded-records condition as each store writes it (a PostgreSQL flag is no number);
    a query that repeats it exactly is answered from the partial index alone."""
    return EXCLUDED_INDEX_WHERE if dialect.name == "sqlite" else "archived OR merged_into IS NOT NULL"


# (table, index name, columns, partial-index condition; None: the excluded records')
INDEXES = (
    *((t, f"idx_metrics_{t}_merged_ids", "hs_merged_object_ids", "WHERE hs_merged_object_ids IS NOT NULL")
      for t in ("contacts", "companies", "deals", "tickets")),
    *((t, f"idx_metrics_{t}_excluded", "archived, merged_into", None) for t in OBJECTS),
)


def _stored_column(conn: sqlite3.Connection, table: str, prop: str) -> str | None:
    """The column holding a property (or record column) of `table`, None when there is none.

    A property whose name clashed with another column lives in `name__2` (store.py).
    """
    dialect = dialect_of(conn)
    present = set(dialect.column_names(conn, table))
    if prop not in RECORD_COLUMNS and "properties" in dialect.table_names(conn):
        row = conn.execute("SELECT column_name FROM properties WHERE object_type = ? AND name = ?",
                           [table, prop]).fetchone()
        if row is not None and row[0] in present:
            return row[0]
    return prop if prop in present else None


def ensure_indexes(db) -> list[str]:
    """Create the metrics' indexes where their columns exist; idempotent. Returns those created.

    `db`: a sqlite_utils.Database or a sqlite3.Connection. Read-only stores are left alone:
    the KPIs are the same without indexes, only slower.
    """
    conn = db if isinstance(db, sqlite3.Connection) else db.conn
    if getattr(conn, "read_only", False):  # (a PostgreSQL reader's snapshot transaction)
        return []
    dialect = dialect_of(conn)
    created = []
    for table, name, columns, where in INDEXES:
        names = [_stored_column(conn, table, c.strip()) for c in columns.split(",")]
        if None in names:
            continue
        if dialect.index_exists(conn, name):
            continue
        where = where or f"WHERE {excluded_where(dialect)}"
        try:
            conn.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {quote(table)} ({', '.join(map(quote, names))}) {where}")
        except sqlite3.OperationalError as exc:
            if "readonly" in str(exc) or "read-only" in str(exc):
                return created
            raise
        created.append(name)
    return created
