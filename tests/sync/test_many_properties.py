"""More properties than SQLite allows columns: every value is kept, and the run says where."""

from __future__ import annotations

import json

from hubspot_metrics.portal import PortalServer, generate_portal
from hubspot_metrics.portal.schema import Prop
from hubspot_metrics.store import open_store

from .conftest import NOW, TOKEN, make_config, run_sync

CUSTOM = [f"custom_{i:04d}" for i in range(2100)]


def stored_custom_values(db_path) -> tuple[dict, int, list[str]]:
    """((id, property) -> value for every custom value, the table's column count, the
    properties kept in the JSON column in the order they were added)."""
    with open_store(db_path, create=False) as db:
        mapping = dict(db.conn.execute("SELECT name, column_name FROM properties WHERE object_type = 'contacts' "
                                       "AND name LIKE 'custom!_%' ESCAPE '!'"))
        width = len(db.conn.execute("PRAGMA table_info(contacts)").fetchall())
        values = {}
        for row in db.conn.execute("SELECT * FROM contacts"):
            record = dict(zip([c[0] for c in db.conn.execute("SELECT * FROM contacts LIMIT 0").description], row))
            more = json.loads(record["_more_properties"] or "{}")
            for name, column in mapping.items():
                value = more.get(name) if column == "_more_properties" else record[column]
                if value is not None:
                    values[(record["id"], name)] = value
        overflow = [name for (name,) in db.conn.execute(
            "SELECT name FROM properties WHERE object_type = 'contacts' AND column_name = '_more_properties' "
            "ORDER BY rowid")]
        return values, width, overflow


def test_properties_past_the_column_limit_are_kept_as_json(tmp_path):
    portal = generate_portal(scale=60, seed=5, now=NOW)
    contacts = portal.table("contacts")
    for name in CUSTOM:
        contacts.add_column(Prop(name, "number" if name.endswith("7") else "string", "text", name, "custom",
                                 hubspot_defined=False))
    ids = sorted((str(r["id"]) for r in portal.records("contacts")), key=int)[:3]
    expected = {}
    for n, rid in enumerate(ids):
        for name in (CUSTOM[0], CUSTOM[n + 1], CUSTOM[-1], CUSTOM[-4 - n], CUSTOM[1997]):
            raw = str(n + 10) if name.endswith("7") else f"value {n} of {name}"
            portal.update("contacts", rid, {name: raw})
            expected[(rid, name)] = float(raw) if name.endswith("7") else raw
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        config = make_config(server, tmp_path / "store.db", objects=("contacts",), all_properties=True)
        result, _ = run_sync(config)
        values, width, overflow = stored_custom_values(config.store_path)
        assert result.status == "ok"
        assert result.warnings == [
            f"contacts has more properties than SQLite allows columns (2000); {len(overflow)} of them are kept as "
            f"JSON in the column _more_properties (e.g. {overflow[0]})."]
        assert width == 2000 and len(overflow) > 100 and CUSTOM[-1] in overflow and CUSTOM[0] not in overflow
        assert values == expected

        portal.advance_clock(seconds=3600)
        portal.update("contacts", ids[0], {CUSTOM[-1]: None, CUSTOM[-2]: "later"})  # cleared, and a new value
        result, _ = run_sync(config)
        assert (result.status, result.warnings) == ("ok", [])
        del expected[(ids[0], CUSTOM[-1])]
        expected[(ids[0], CUSTOM[-2])] = "later"
        assert stored_custom_values(config.store_path)[0] == expected
