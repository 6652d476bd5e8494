"""The indexes the KPI queries use, created by the sync after each run (and by `kpis`).

They live beside the store, not in metrics/, so that the sync (a lower layer) can create
them without importing the metrics. The KPI scans read whole tables on purpose (a range of
a closedate index costs a random row read per deal, slower than a sequential scan for the
windows KPIs need). What pays off is finding the ids named in hs_merged_object_ids, and
counting excluded records, without a scan.

The raw-instant indexes hold only the values of a datetime column that are not instants
(the few the sync kept raw). Reading one tells the KPI queries which raw values a column holds,
usually none, so a scan tests "is an instant" by comparing with those few values instead of
matching the pattern `TIMESTAMP_GLOB` on every row, which was a third of the KPIs' time.
"""

from __future__ import annotations

import sqlite3

from hubspot_metrics.dialect import Dialect, dialect_of
from hubspot_metrics.objects import OBJECTS
from hubspot_metrics.store import RECORD_COLUMNS, quote
from hubspot_metrics.values import TIMESTAMP_GLOB

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
# The datetime properties the KPI queries test on every row (metrics/queries.py), by object.
_LIFECYCLE_INSTANTS = ("createdate", "hs_lifecyclestage_customer_date", "hs_v2_date_entered_customer",
                       "hs_lifecyclestage_lead_date", "hs_v2_date_entered_lead")
RAW_INSTANT_PROPERTIES = {
    "contacts": _LIFECYCLE_INSTANTS,
    "companies": _LIFECYCLE_INSTANTS,
    "deals": ("createdate", "closedate"),
    "tickets": ("createdate", "first_agent_reply_date", "hs_first_agent_message_sent_at"),
    "feedback_submissions": ("hs_submission_timestamp",),
}


def raw_instant_where(column: str) -> str:
    """The partial-index condition: a value that is not an instant. A query that repeats it
    word for word can read the index."""
    return f"{quote(column)} IS NOT NULL AND NOT {quote(column)} GLOB '{TIMESTAMP_GLOB}'"


def raw_instant_index(table: str, column: str) -> str:
    return f"idx_metrics_{table}_{column}_raw"


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


def ensure_indexes(db, churn_property: tuple[str, str] | None = None) -> list[str]:
    """Create the metrics' indexes where their columns exist; idempotent. Returns those created.

    `db`: a sqlite_utils.Database or a sqlite3.Connection. `churn_property`: (object, property)
    of a churn date the KPIs read, which gets a raw-instant index too. Read-only stores are left
    alone: the KPIs are the same without indexes, only slower.
    """
    conn = db if isinstance(db, sqlite3.Connection) else db.conn
    if getattr(conn, "read_only", False):  # (a PostgreSQL reader's snapshot transaction)
        return []
    dialect = dialect_of(conn)
    created = []
    raw = [(table, prop) for table, props in RAW_INSTANT_PROPERTIES.items() for prop in props]
    if not dialect.keeps_raw_in_typed_columns:  # a typed column there holds no raw values to index
        raw = []
    elif churn_property is not None and churn_property not in raw:
        raw.append(churn_property)
    wanted = list(INDEXES)
    for table, prop in raw:
        column = _stored_column(conn, table, prop)
        if column is not None:
            wanted.append((table, raw_instant_index(table, column), column, f"WHERE {raw_instant_where(column)}"))
    for table, name, columns, where in wanted:
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
