"""Merges: a record HubSpot merged away points at its survivor, and loses its associations."""

from __future__ import annotations

from hubspot_metrics.objects import ASSOCIATIONS, CrmObject
from hubspot_metrics.sync.base import SyncRun


class MergeHandling(SyncRun):
    def drop_associations(self, conn, obj: CrmObject, ids: list[str]) -> None:
        for pair in ASSOCIATIONS:
            for object_type, column in ((pair.from_object, pair.from_column), (pair.to_object, pair.to_column)):
                if object_type == obj.name:
                    conn.executemany(f"DELETE FROM [{pair.table}] WHERE [{column}] = ?", [(i,) for i in ids])

    def apply_merges(self, conn, obj: CrmObject, records: list[dict]) -> None:
        updates = []
        for r in records:
            props = r.get("properties")
            merged = props.get("hs_merged_object_ids") if isinstance(props, dict) else None
            if merged:
                primary = str(r["id"])
                updates += [(primary, mid.strip()) for mid in str(merged).split(";") if mid.strip() and mid.strip() != primary]
        if updates:
            conn.executemany(f"UPDATE [{obj.name}] SET merged_into = ? WHERE id = ?", updates)
            # HubSpot moves a merged record's associations to the survivor, whose own refresh
            # brings them back under its id.
            self.drop_associations(conn, obj, [merged_id for _, merged_id in updates])

