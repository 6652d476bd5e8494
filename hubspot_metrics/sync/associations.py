"""Associations: read whole after a full sync, else re-read for the records that changed."""

from __future__ import annotations

import json

from hubspot_metrics.bookkeeping import ObjectState, association_key, read_state, save_state
from hubspot_metrics.client import ASSOCIATION_BATCH_SIZE
from hubspot_metrics.dialect import in_list
from hubspot_metrics.errors import MissingScopeError
from hubspot_metrics.objects import ASSOCIATIONS, AssociationPair
from hubspot_metrics.store import replace_sql, transaction
from hubspot_metrics.sync.base import SyncRun
from hubspot_metrics.sync.paging import _items, _next_after, follow, id_text, record_id


class AssociationSync(SyncRun):
    def sync_associations(self) -> None:
        pending = set()  # objects whose changes a pair outside this run (`--only`) still has to read
        for pair in ASSOCIATIONS:
            involved = {pair.from_object, pair.to_object}
            if not involved & set(self.objects):
                pending |= involved
                continue
            if involved & self.unavailable:
                continue
            if not self.db.conn.execute(f"SELECT 1 FROM [{pair.from_object}] LIMIT 1").fetchone():
                continue  # e.g. `--only contacts` on a store that never synced deals
            try:
                state = read_state(self.db.conn, association_key(pair.table))
                if state is not None and state.mode == "full":
                    self._full_associations(pair, state)
                else:
                    self._changed_associations(pair)
            except MissingScopeError as exc:
                self.warn(f"Skipped {pair.from_object}-{pair.to_object} associations: the token lacks "
                          f"{', '.join(exc.scopes) or 'a scope'}.")
        with transaction(self.db) as conn:
            conn.execute(f"DELETE FROM sync_changed WHERE object_type NOT IN {in_list(len(pending))}",
                         sorted(pending))
            conn.executemany("INSERT INTO sync_changed VALUES (?, ?) ON CONFLICT DO NOTHING", sorted(self.unread_associations))

    def _read_associations(self, from_type: str, to_type: str, ids: list[str]) -> dict[str, dict[str, list]]:
        """All associations of `ids`, following each record's own paging."""
        found: dict[str, dict[str, list]] = {i: {} for i in ids}
        unreadable: set[str] = set()
        junk = 0
        inputs = [{"id": i} for i in ids]
        seen: set[str] = set()
        what = f"the {from_type}-{to_type} associations"
        while inputs:
            # (the client returns only a well-formed page: one without a results list is retried,
            # then fails the run, since read as "no associations" it would delete the stored ones)
            payload = self.client.associations(from_type, to_type, inputs)
            inputs = []
            for item in payload["results"]:
                source = record_id(item.get("from")) if isinstance(item, dict) else None
                if source is None:
                    junk += 1
                    continue
                if not isinstance(item.get("to", []), list):
                    unreadable.add(source)
                    continue
                targets = found.setdefault(source, {})
                for to in _items(item, "to"):
                    target = id_text(to.get("toObjectId"))
                    if target is None:
                        continue
                    types = [t.get("typeId") for t in _items(to, "associationTypes")]
                    targets.setdefault(target, []).extend(t for t in types if id_text(t) is not None)
                after = _next_after(item)
                if after and follow(f"{source}/{after}", seen, what):
                    inputs.append({"id": source, "after": after})
        if junk or unreadable:
            # A record whose answer cannot be read keeps the associations stored for it.
            self.warn(f"HubSpot's answer held {junk + len(unreadable)} unreadable {from_type}-{to_type} associations "
                      "entries; the associations stored for those records are kept.")
            for source in unreadable:
                found.pop(source, None)
                self.unread_associations.add((from_type, source))
        return found

    def _replace_rows(self, conn, pair: AssociationPair, found: dict[str, dict[str, list]]) -> None:
        ids = list(found)
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            conn.execute(f"DELETE FROM [{pair.table}] WHERE [{pair.from_column}] IN ({','.join('?' * len(part))})", part)
        rows = [(source, target, json.dumps(sorted(set(t for t in types if t is not None))))
                for source, targets in found.items() for target, types in targets.items()]
        conn.executemany(replace_sql(pair.table, (pair.from_column, pair.to_column, "types"),
                                     key=(pair.from_column, pair.to_column)), rows)

    def _full_associations(self, pair: AssociationPair, state: ObjectState) -> None:
        last = state.list_after or ""
        self.progress.start(f"{pair.from_object}-{pair.to_object}", None)
        while True:
            ids = [r[0] for r in self.db.conn.execute(
                f"SELECT id FROM [{pair.from_object}] WHERE id > ? AND NOT archived ORDER BY id LIMIT ?",
                [last, ASSOCIATION_BATCH_SIZE])]
            if not ids:
                break
            found = self._read_associations(pair.from_object, pair.to_object, ids)
            with transaction(self.db) as conn:
                self._replace_rows(conn, pair, found)
                save_state(conn, association_key(pair.table), list_after=ids[-1])
            self.progress.advance(len(ids))
            last = ids[-1]
        with transaction(self.db) as conn:
            save_state(conn, association_key(pair.table), mode="incremental", list_after=None)
        self.progress.finish("associations read")

    def _changed_associations(self, pair: AssociationPair) -> None:
        """Re-read the associations of every from-record that a change may have touched.

        Rows are always read in the pair's own direction: association type ids are directional
        in HubSpot (contact→company 1, company→contact 2). A changed to-record only names the
        from-records to re-read: those associated with it now, and those stored with it.
        """
        conn = self.db.conn
        changed = lambda name: [r[0] for r in conn.execute(
            "SELECT id FROM sync_changed WHERE object_type = ? ORDER BY id", [name])]
        from_ids = set(changed(pair.from_object))
        to_ids = changed(pair.to_object)
        for i in range(0, len(to_ids), ASSOCIATION_BATCH_SIZE):
            part = to_ids[i:i + ASSOCIATION_BATCH_SIZE]
            for targets in self._read_associations(pair.to_object, pair.from_object, part).values():
                from_ids.update(targets)
            from_ids.update(r[0] for r in conn.execute(
                f"SELECT [{pair.from_column}] FROM [{pair.table}] WHERE [{pair.to_column}] IN "
                f"({','.join('?' * len(part))})", part))
        live = sorted(i for i in from_ids if conn.execute(
            f"SELECT 1 FROM [{pair.from_object}] WHERE id = ? AND NOT archived", [i]).fetchone())
        for i in range(0, len(live), ASSOCIATION_BATCH_SIZE):
            found = self._read_associations(pair.from_object, pair.to_object, live[i:i + ASSOCIATION_BATCH_SIZE])
            with transaction(self.db) as conn:
                self._replace_rows(conn, pair, found)

