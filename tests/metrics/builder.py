"""Tiny stores for KPI tests, written through the store contract the way the sync writes them.

Records are given with HubSpot's own string values ("2024-01-15", "3000", "true"); the
store layer converts them exactly as the sync does (unparsable values kept raw and listed in
`value_issues`). Only the properties a test names get a column, so a test can leave out, say,
`hs_is_closed_won` entirely.
"""

from __future__ import annotations

import json
from datetime import date, datetime

from hubspot_metrics.objects import ASSOCIATIONS, OBJECTS
from hubspot_metrics.store import PropertyColumns, open_store, transaction, upsert_records

EXTRA_TYPES = {"churn_date": "datetime", "renewal_date": "datetime"}
PAIR_TABLES = {(p.from_object, p.to_object): p for p in ASSOCIATIONS}


def hubspot_value(value) -> str | None:
    """A Python test value as HubSpot would send it."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


class StoreBuilder:
    def __init__(self, path, *, currency: str | None = "EUR", synced: bool = True):
        self.path = str(path)
        self.db = open_store(path)
        self.conn = self.db.conn
        if currency:
            self.conn.execute("INSERT INTO account (portalId, timeZone, companyCurrency) VALUES (1, 'UTC', ?)", [currency])
        if synced:
            self.conn.execute("INSERT INTO sync_runs (started_at, ended_at, status) VALUES "
                              "('2026-01-01T00:00:00.000Z', '2026-01-01T00:01:00.000Z', 'ok')")

    def add(self, table: str, rid, *, archived: bool = False, merged_into: str | None = None, **props) -> "StoreBuilder":
        """One record; keyword arguments are its properties (None = empty)."""
        types = OBJECTS[table].properties
        columns = PropertyColumns(self.db, table)
        # A column already declared (e.g. by `columns`) keeps its type: a new definition would re-type it.
        definitions = {name: {"type": columns.types.get(name) or types.get(name) or EXTRA_TYPES.get(name, "string")}
                       for name in props}
        with transaction(self.db) as conn:
            columns.ensure(conn, definitions)
            upsert_records(conn, columns, [{"id": str(rid), "properties": {k: hubspot_value(v) for k, v in props.items()},
                                            **({"archivedAt": "2025-01-01T00:00:00Z"} if archived else {})}],
                           list(props), archived=archived)
            if merged_into is not None:
                conn.execute(f"UPDATE [{table}] SET merged_into = ? WHERE id = ?", [str(merged_into), str(rid)])
        return self

    def columns(self, table: str, **types) -> "StoreBuilder":
        """Columns without records (e.g. a property the portal has but no record uses)."""
        columns = PropertyColumns(self.db, table)
        with transaction(self.db) as conn:
            columns.ensure(conn, {name: {"type": t} for name, t in types.items()})
        return self

    def link(self, from_object: str, to_object: str, from_id, to_id) -> "StoreBuilder":
        pair = PAIR_TABLES[(from_object, to_object)]
        self.conn.execute(f"INSERT INTO [{pair.table}] VALUES (?, ?, '[]')", [str(from_id), str(to_id)])
        return self

    def pipeline(self, object_type: str, pipeline_id: str, stages: dict[str, tuple[bool, float | None]],
                 label: str | None = None) -> "StoreBuilder":
        """stages: stage id -> (isClosed, probability)."""
        self.conn.execute("INSERT INTO pipelines (object_type, id, label, display_order) VALUES (?, ?, ?, 0)",
                          [object_type, pipeline_id, label or pipeline_id])
        for i, (stage_id, (closed, probability)) in enumerate(stages.items()):
            metadata = {"isClosed": "true" if closed else "false"}
            if probability is not None:
                metadata["probability"] = str(probability)
            self.conn.execute(
                "INSERT INTO pipeline_stages (object_type, pipeline_id, id, label, display_order, is_closed, "
                "probability, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [object_type, pipeline_id, stage_id, stage_id, i, int(closed), probability, json.dumps(metadata)])
        return self

    def owner(self, owner_id: str, first: str | None, last: str | None, email: str | None = None, *,
              archived: bool = False) -> "StoreBuilder":
        self.conn.execute("INSERT INTO owners (id, email, firstName, lastName, archived) VALUES (?, ?, ?, ?, ?)",
                          [owner_id, email, first, last, int(archived)])
        return self

    def close(self) -> None:
        self.conn.close()


DEFAULT_DEAL_STAGES = {"appointmentscheduled": (False, 0.2), "closedwon": (True, 1.0), "closedlost": (True, 0.0)}
