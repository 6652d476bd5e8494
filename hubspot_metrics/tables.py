"""The store's synced tables as a reader gets them (`hubspot_metrics.open(...).table(name)`):
which tables may be read, and what kind of value each column holds.

A column's kind is one of `id` (text, even where SQLite holds a number: an id is a name, not
a quantity), `datetime` (an ISO 8601 UTC instant), `number`, `bool` (0/1) or `text`. A record
table takes its property kinds from the `properties` table, i.e. from HubSpot's own types.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from hubspot_metrics.errors import ConfigError
from hubspot_metrics.objects import ASSOCIATIONS, OBJECTS
from hubspot_metrics.store import OVERFLOW_COLUMN, quote
from hubspot_metrics.values import store_kind

# The columns of the reference tables that are not text (README "Store layout").
REFERENCE_KINDS: dict[str, dict[str, str]] = {
    "owners": {"id": "id", "userId": "id", "userIdIncludingInactive": "id", "createdAt": "datetime",
               "updatedAt": "datetime", "archived": "bool"},
    "pipelines": {"id": "id", "display_order": "number", "archived": "bool", "created_at": "datetime",
                  "updated_at": "datetime"},
    "pipeline_stages": {"pipeline_id": "id", "id": "id", "display_order": "number", "archived": "bool",
                        "is_closed": "bool", "probability": "number"},
    "account": {"portalId": "id", "utcOffsetMilliseconds": "number"},
    **{pair.table: {pair.from_column: "id", pair.to_column: "id"} for pair in ASSOCIATIONS},
}
RECORD_KINDS = {"id": "id", "archived": "bool", "archived_at": "datetime", "merged_into": "id"}
READABLE_TABLES = (*OBJECTS, *REFERENCE_KINDS)


@dataclass(frozen=True)
class StoredTable:
    name: str
    columns: list[str]
    kinds: dict[str, str]  # column -> id | datetime | number | bool | text
    rows: list[tuple]


def read_table(conn: sqlite3.Connection, name: str) -> StoredTable:
    """Every row of a synced table, with the kind of each column; one sentence for an unknown name."""
    if name not in READABLE_TABLES:
        raise ConfigError(f"There is no synced table {name!r}; use one of {', '.join(READABLE_TABLES)}.")
    columns = [r[1] for r in conn.execute(f"PRAGMA table_info({quote(name)})")]
    kinds = dict(REFERENCE_KINDS.get(name, RECORD_KINDS))
    if name in OBJECTS:
        kinds.update(_property_kinds(conn, name))
    kinds = {c: kinds.get(c, "text") for c in columns}
    rows = conn.execute(f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(name)} ORDER BY rowid").fetchall()
    return StoredTable(name, columns, kinds, rows)


def _property_kinds(conn: sqlite3.Connection, object_type: str) -> dict[str, str]:
    kinds = {}
    for name, column, hubspot_type in conn.execute(
            "SELECT name, column_name, type FROM properties WHERE object_type = ?", [object_type]):
        if column == OVERFLOW_COLUMN:
            continue  # one JSON object of many properties: text
        kind = store_kind(hubspot_type)
        # hs_object_id and other numeric ids name records: compared, never added up
        kinds[column] = "id" if name == "hs_object_id" or (kind == "number" and name.endswith("_id")) else kind
    return kinds
