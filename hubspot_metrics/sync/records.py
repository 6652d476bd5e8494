"""Records: the full listing, the incremental search, the archived sweep, and page writes.

Each page is written in one transaction together with the cursor that follows it, so a
killed sync resumes at the next page.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Iterator

from hubspot_metrics.bookkeeping import (
    ObjectState, association_key, clock_proven, mark_clock_proven, now_iso, read_state, save_state)
from hubspot_metrics.client import BATCH_READ_SIZE, SEARCH_PAGE_SIZE
from hubspot_metrics.errors import HubSpotError
from hubspot_metrics.objects import ASSOCIATIONS, CrmObject
from hubspot_metrics.store import PropertyColumns, transaction, upsert_records
from hubspot_metrics.sync.base import SyncRun, log
from hubspot_metrics.sync.outcome import ObjectResult
from hubspot_metrics.sync.paging import (
    EPOCH, _items, _next_after, _results, chunk_names, follow, modified_after, modified_ms, prefetch, record_id)
from hubspot_metrics.sync.window import incremental_window
from hubspot_metrics.values import format_instant

URL_PROPERTY_BUDGET = 6_000  # characters of property names per GET, under HubSpot's URL limit
SEARCH_PROPERTY_BUDGET = 1_500
CLOCK_MARGIN_MS = 2_000
FUTURE_MARGIN_MS = 60_000  # how far past HubSpot's clock (or ours) a modified time may be and still move the cursor


class RecordSync(SyncRun):
    def latest_plausible_ms(self) -> int:
        """The latest modified time that may become a cursor: HubSpot's clock from its Date
        header (this machine's when it sends none) plus a margin. A later one, such as a record
        stamped in year 9999, would freeze the cursor and hide every later edit."""
        now = self.client.server_time_ms or int(time.time() * 1000)
        return now + FUTURE_MARGIN_MS

    def plausible(self, obj: CrmObject, stamps: list[int]) -> list[int]:
        limit = self.latest_plausible_ms()
        kept = [m for m in stamps if m <= limit]
        if len(kept) < len(stamps):
            self.future_dated[obj.name] = self.future_dated.get(obj.name, 0) + len(stamps) - len(kept)
        return kept

    def _report_future_dated(self, obj: CrmObject) -> None:
        count = self.future_dated.pop(obj.name, 0)
        if count:
            self.warn(f"HubSpot returned {count} {obj.name} modified later than its own clock (e.g. in year 9999); "
                      "they are stored, but the sync's cursor does not move past HubSpot's time, so later edits "
                      "are still read.")

    def sync_object(self, obj: CrmObject) -> None:
        state = read_state(self.db.conn, obj.name)
        columns, wanted, added = self.prepare_columns(obj, state)
        result = self.results[obj.name] = ObjectResult()
        resuming_full = state is not None and state.mode == "full"
        backfill = state is not None and not resuming_full and bool(added)
        if backfill:  # only a full re-read fills a newly synced property on unchanged records
            log.info("new %s properties %s: re-reading every record once to fill them", obj.name, ", ".join(added))
        if state is None or (self.full or backfill) and not resuming_full:
            self.start_full(obj)
            state = read_state(self.db.conn, obj.name)
        if state.mode == "full":
            result.mode = "full"
            self.full_list(obj, columns, wanted, state, result)
        else:
            result.mode = "incremental"
            self.incremental(obj, columns, wanted, state, result)
        self.sweep_archived(obj, columns, wanted, result)
        self._report_future_dated(obj)

    def start_full(self, obj: CrmObject) -> None:
        # The cursor a full sync ends with is the newest change visible when it *starts*: any
        # record changed during the listing then has a later modified date.
        plausible = [{"propertyName": obj.modified_property, "operator": "LTE", "value": str(self.latest_plausible_ms())}]
        probe = self.client.search(obj.name, {"filterGroups": [{"filters": plausible}],
                                              "properties": [obj.modified_property],
                                              "sorts": [{"propertyName": obj.modified_property, "direction": "DESCENDING"}],
                                              "limit": 1})
        newest = [m for m in (modified_ms(r, obj.modified_property) for r in _items(probe)) if m]
        with transaction(self.db) as conn:
            total = probe.get("total") if isinstance(probe, dict) else None
            save_state(conn, obj.name, mode="full", list_after=None, pending_cursor_ms=newest[0] if newest else 0,
                       pending_server_ms=self.run_server_ms,
                       portal_total=total if isinstance(total, int) else None)
            for pair in ASSOCIATIONS:  # either side: a full re-read must also refresh its associations
                if obj.name in (pair.from_object, pair.to_object):
                    save_state(conn, association_key(pair.table), mode="full", list_after=None)

    def _pages(self, obj: CrmObject, first_chunk: list[str], after: str | None, archived: bool) -> Iterator[dict]:
        # (a page with no results but a next cursor is followed like any other)
        seen = {after} if after else set()
        what = f"the {'archived ' if archived else ''}{obj.name} list"
        while True:
            page = self.client.list_page(obj.name, first_chunk, after=after, archived=archived)
            after = follow(_next_after(page), seen, what)
            yield page
            if not after:
                return

    def _write_page(self, conn, obj: CrmObject, columns: PropertyColumns, chunks: list[list[str]],
                    records: list[dict], *, archived: bool = False) -> int:
        usable = [r for r in records if record_id(r) is not None]
        if len(usable) < len(records):
            self.warn(f"HubSpot returned {len(records) - len(usable)} {obj.name} without an id; they were skipped.")
            # (the caller's list is trimmed in place so that later steps see the same records)
            records[:] = usable
        upsert_records(conn, columns, records, chunks[0], archived=archived)
        for chunk in chunks[1:]:  # wide property lists: the rest by batch read, merged per id
            for i in range(0, len(records), BATCH_READ_SIZE):
                ids = [str(r["id"]) for r in records[i:i + BATCH_READ_SIZE]]
                extra = self.client.batch_read(obj.name, ids, chunk)
                upsert_records(conn, columns, _items(extra), chunk, archived=archived)
        self.apply_merges(conn, obj, records)
        if archived:  # HubSpot hides a deleted record's associations; a restore re-reads them
            self.drop_associations(conn, obj, [str(r["id"]) for r in records])
        return len(records)

    def full_list(self, obj: CrmObject, columns: PropertyColumns, wanted: list[str], state: ObjectState,
                  result: ObjectResult) -> None:
        chunks = chunk_names(wanted, URL_PROPERTY_BUDGET)
        self.progress.start(f"{obj.name} (full)", read_state(self.db.conn, obj.name).portal_total)
        for page in prefetch(self._pages(obj, chunks[0], state.list_after, archived=False)):
            records = _results(page)
            after = _next_after(page)
            self.plausible(obj, modified_after(records, obj.modified_property, self.latest_plausible_ms()))
            with transaction(self.db) as conn:
                result.written += self._write_page(conn, obj, columns, chunks, records)
                if after:
                    save_state(conn, obj.name, list_after=after)
                else:
                    state = read_state(self.db.conn, obj.name)
                    save_state(conn, obj.name, mode="incremental", list_after=None,
                               cursor_ms=state.pending_cursor_ms, server_ms=state.pending_server_ms,
                               full_completed_at=now_iso())
            self.progress.advance(len(records))
        self.progress.finish(f"{result.written} records (full)")

    def incremental(self, obj: CrmObject, columns: PropertyColumns, wanted: list[str], state: ObjectState,
                    result: ObjectResult) -> None:
        """Search the records changed since the cursor, 200 a page (see `_changed_pages`), in
        the window `incremental_window` chooses; records are upserted by id, so the window's
        overlap with the previous run makes no duplicates. HubSpot's Date is proven to run on
        the records' clock once a run has seen records stamped at two different times between
        the previous run's Date and the latest one (`_clock_evidence`).
        """
        prop = obj.modified_property
        cursor = state.cursor_ms or 0
        previous_server_ms = state.server_ms
        window = incremental_window(state, run_server_ms=self.run_server_ms,
                                    lookback_ms=self.config.sync.lookback_seconds * 1000,
                                    clock_proven=clock_proven(self.db.conn),
                                    stored_at_cursor=lambda: self._stored_at(obj, columns, cursor))
        newest = window.newest_ms
        chunks = chunk_names(wanted, SEARCH_PROPERTY_BUDGET)
        evidence: set[int] = set()
        self.progress.start(f"{obj.name} (changes)", None)

        def write(conn, records: list[dict]) -> None:
            nonlocal newest
            stamps = [m for m in (modified_ms(r, prop) for r in records) if m is not None]
            newest = max([newest, *self.plausible(obj, stamps)])
            if previous_server_ms is not None and len(evidence) < 2:
                evidence.update(self._clock_evidence(stamps, previous_server_ms))
            result.written += self._write_page(conn, obj, columns, chunks, records)
            conn.executemany("INSERT INTO sync_changed VALUES (?, ?) ON CONFLICT DO NOTHING",
                             [(obj.name, str(r["id"])) for r in records])
            self.progress.advance(len(records))

        since = [{"propertyName": prop, "operator": "GTE", "value": str(window.start_ms)}]
        for records, next_floor in self._changed_pages(obj, chunks[0], since, window.floor):
            with transaction(self.db) as conn:
                write(conn, records)
                if next_floor:  # (the last page commits no state: a kill after it re-reads it)
                    save_state(conn, obj.name, list_after=next_floor, pending_cursor_ms=newest,
                               pending_server_ms=window.run_server_ms, pending_start_ms=window.start_ms)
        proven_now = len(evidence) >= 2
        if window.read_cursor_ms_later and not proven_now:
            cursor_ms = [{"propertyName": prop, "operator": "GTE", "value": str(cursor)},
                         {"propertyName": prop, "operator": "LT", "value": str(cursor + 1)}]
            for records, _ in self._changed_pages(obj, chunks[0], cursor_ms, "0"):
                with transaction(self.db) as conn:
                    write(conn, records)
        with transaction(self.db) as conn:
            save_state(conn, obj.name, list_after=None, pending_cursor_ms=None, pending_server_ms=None,
                       pending_start_ms=None, cursor_ms=newest, server_ms=window.run_server_ms)
            if proven_now:
                mark_clock_proven(conn)
        self.progress.finish(f"{result.written} changed records")

    def _stored_at(self, obj: CrmObject, columns: PropertyColumns, moment_ms: int) -> int:
        """How many stored records carry this modified millisecond."""
        column = columns.columns.get(obj.modified_property)
        if column is None:
            return 0
        stamp = format_instant(EPOCH + timedelta(milliseconds=moment_ms))  # (exact; a float could round)
        return self.db.conn.execute(f"SELECT count(*) FROM [{obj.name}] WHERE [{column}] = ?", [stamp]).fetchone()[0]

    def _clock_evidence(self, stamps: list[int], previous_date_ms: int) -> set[int]:
        """The modified dates that only a records' clock running with HubSpot's Date can give:
        after the previous run's Date and not after the latest one, each with a margin for the
        Date header's whole seconds and a little skew. A clock that stands still gives one such
        time at most; a record dated in the future gives none."""
        latest = self.client.server_time_ms
        if latest is None:
            return set()
        return {m for m in stamps if previous_date_ms + CLOCK_MARGIN_MS <= m <= latest + CLOCK_MARGIN_MS}

    def _changed_pages(self, obj: CrmObject, properties: list[str], filters: list[dict],
                       floor: str) -> Iterator[tuple[list[dict], str | None]]:
        """(records, the id floor of the next page, or None on the last page) for one window.

        Keyset paging: every page is a fresh query `filters AND hs_object_id > floor`, sorted
        by id, so `after` stays at 0: HubSpot's 10,000-result cap is never approached, records
        that change while we page cannot shift others out of view, and any number of records
        sharing one modified millisecond (bulk imports) page like any others.
        """
        while True:
            body = {"filterGroups": [{"filters": [*filters, {"propertyName": "hs_object_id", "operator": "GT",
                                                             "value": floor}]}],
                    "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                    "properties": properties, "limit": SEARCH_PAGE_SIZE}
            page = self.client.search(obj.name, body)
            records = _results(page)
            if not (records and _next_after(page)):
                yield records, None
                return
            ids = [i for i in map(record_id, records) if i is not None]  # (junk records carry no id)
            last = max(ids, key=lambda i: int(i) if i.isdigit() else -1, default="")
            if not last.isdigit() or int(last) <= int(floor):
                raise HubSpotError(f"The {obj.name} search did not move past record {floor}; "
                                   "run `hubspot-metrics sync --full`.")
            floor = last
            yield records, floor

    def sweep_archived(self, obj: CrmObject, columns: PropertyColumns, wanted: list[str], result: ObjectResult) -> None:
        # Search never returns deleted records: the archived list is the only way to see them.
        chunks = chunk_names(wanted, URL_PROPERTY_BUDGET)
        for page in self._pages(obj, chunks[0], None, archived=True):
            records = _results(page)
            with transaction(self.db) as conn:
                result.archived += self._write_page(conn, obj, columns, chunks, records, archived=True)
