"""Which properties an object's sync reads, and the columns that hold them."""

from __future__ import annotations

import json
import sqlite3

from hubspot_metrics.objects import CrmObject
from hubspot_metrics.bookkeeping import ObjectState
from hubspot_metrics.store import OVERFLOW_COLUMN, PropertyColumns, transaction
from hubspot_metrics.sync.base import SyncRun
from hubspot_metrics.sync.paging import _items


class PropertySelection(SyncRun):
    def configured_properties(self, obj: CrmObject) -> list[str]:
        """What the config adds to the object's own properties: extra ones and the churn date."""
        names = list(self.config.sync.extra_properties.get(obj.name, ()))
        # Only the customer unit's records carry the churn date the KPIs read.
        if self.config.metrics.churn.mode == "property" and obj.name == self.config.metrics.customer_object:
            names.append(self.config.metrics.churn.property)
        return names

    def wanted_properties(self, obj: CrmObject, described: dict[str, dict]) -> list[str]:
        names = list(obj.properties) + self.configured_properties(obj)
        if self.config.sync.all_properties:
            names += sorted(described)
        return list(dict.fromkeys(names))

    def prepare_columns(self, obj: CrmObject, state: ObjectState | None) -> tuple[PropertyColumns, list[str], list[str]]:
        columns = PropertyColumns(self.db, obj.name)
        # Definitions change rarely: read them on a full sync, when a wanted property has no
        # column yet, or while a property named in the config is stored without HubSpot's
        # definition (it may be defined now, e.g. as a date: its column is then re-typed).
        provisional = self.wanted_properties(obj, {})
        need_definitions = (self.config.sync.all_properties or state is None or state.mode == "full"
                            or self.full or any(p not in columns.columns for p in provisional)
                            or any(p in columns.undescribed for p in self.configured_properties(obj))
                            or _options_unread(self.db.conn, obj.name))
        described: dict[str, dict] = {}
        if need_definitions:
            for d in _items(self.client.properties(obj.name)):
                if d.get("name") and not d.get("archived"):
                    described[d["name"]] = d
        wanted = self.wanted_properties(obj, described)
        if described:
            for name in dict.fromkeys(self.configured_properties(obj)):
                if name not in described and name not in obj.properties:
                    self.warn(f"HubSpot does not define the {obj.name} property {name} named in the config "
                              "(deleted, or misspelled?); its column stays, empty in every record read from now on.")
        definitions = {}
        for name in wanted:
            if name in described:
                definitions[name] = described[name]
            else:  # e.g. hs_v2_* lifecycle dates: readable, but missing from the properties API
                definitions[name] = {"type": obj.properties.get(name, "string"), "described": False,
                                     "hubspotDefined": name in obj.properties}
        with transaction(self.db) as conn:
            added = columns.ensure(conn, definitions)
            if described:
                _save_options(conn, obj.name, described)
        overflowing = [name for name in added if columns.columns[name] == OVERFLOW_COLUMN]
        if overflowing:
            self.warn(f"{obj.name} has more properties than {columns.dialect.title} allows columns ({columns.dialect.max_columns}); "
                      f"{len(overflowing)} of them are kept as JSON in the column {OVERFLOW_COLUMN} "
                      f"(e.g. {overflowing[0]}).")
        return columns, wanted, added



def _options_unread(conn: sqlite3.Connection, object_type: str) -> bool:
    """A described property whose options were never stored: a store synced before options
    were kept reads the definitions once more to fill them."""
    return conn.execute("SELECT 1 FROM properties WHERE object_type = ? AND described = 1 AND options IS NULL "
                        "LIMIT 1", [object_type]).fetchone() is not None


def _save_options(conn: sqlite3.Connection, object_type: str, described: dict[str, dict]) -> None:
    """Each stored property's options (value and label) as HubSpot defines them; `[]` when it has none."""
    stored = [name for (name,) in conn.execute("SELECT name FROM properties WHERE object_type = ?", [object_type])]
    rows = [(json.dumps(_options(described[name]), ensure_ascii=False), object_type, name)
            for name in stored if name in described]
    conn.executemany("UPDATE properties SET options = ? WHERE object_type = ? AND name = ?", rows)


def _options(definition: dict) -> list[dict[str, str]]:
    options = definition.get("options")
    if not isinstance(options, list):
        return []
    out = []
    for option in options:
        value = option.get("value") if isinstance(option, dict) else None
        if isinstance(value, (str, int, float)) and not isinstance(value, bool) and str(value) != "":
            label = option.get("label")
            out.append({"value": str(value), "label": label if isinstance(label, str) and label.strip() else str(value)})
    return out
