"""The sync: HubSpot → SQLite, full on the first run, incremental after, resumable anywhere.

For each object the first run (or `--full`) streams the list endpoint page by page; every
page is written in one transaction together with the cursor that follows it, so a killed
sync resumes at the next page. Later runs search on the modified-date property from the
saved cursor, 200 a page, paging by record id (keyset) so that HubSpot's 10,000-result cap
never applies.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import queue
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from hubspot_metrics.client import (
    ASSOCIATION_BATCH_SIZE, BATCH_READ_SIZE, SEARCH_PAGE_SIZE, HubSpotClient, MissingScopeError)
from hubspot_metrics.config import Config
from hubspot_metrics.errors import HubSpotError, StoreError, UserError
from hubspot_metrics.objects import ASSOCIATIONS, OBJECTS, PIPELINE_OBJECTS, AssociationPair, CrmObject
from hubspot_metrics.store import (
    MAX_TABLE_COLUMNS, OVERFLOW_COLUMN, PropertyColumns, refuse_folder, save_json, stored_portal_id, transaction, upsert_records)
from hubspot_metrics.values import format_instant, parse_instant, parse_number

if TYPE_CHECKING:
    import sqlite_utils

log = logging.getLogger(__name__)

URL_PROPERTY_BUDGET = 6_000  # characters of property names per GET, under HubSpot's URL limit
SEARCH_PROPERTY_BUDGET = 1_500
LOCK_ATTEMPTS = 10  # 0.5 s
CLOCK_STATE = "clock"  # sync_state row: HubSpot's Date proven to run on the records' clock
CLOCK_MARGIN_MS = 2_000
FUTURE_MARGIN_MS = 60_000  # how far past HubSpot's clock (or ours) a modified time may be and still move the cursor
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
KPIS_BY_OBJECT = {
    "contacts": "cac, conversion_rate, customer_retention_rate, churn_rate, customer_lifetime_value (customer unit contacts)",
    "companies": "the customer KPIs when metrics.customer_object = companies",
    "deals": "revenue, win_rate, avg_sales_cycle_days, pipeline_velocity, customer_lifetime_value",
    "tickets": "avg_first_response_hours",
    "feedback_submissions": "nps, csat",
}


def now_iso() -> str:
    return format_instant(datetime.now(timezone.utc))


# --- the single-sync lock ---------------------------------------------------------------

class SyncLock:
    """An exclusive lock beside the store; the OS releases it even after kill -9."""

    def __init__(self, db_path: str):
        self.path = Path(str(db_path) + ".lock")
        self._fd: int | None = None

    def __enter__(self) -> "SyncLock":
        refuse_folder(self.path.with_suffix(""))  # (before a lock file lands beside a folder)
        if not self.path.parent.exists():
            raise StoreError(f"The folder {self.path.parent} for the store does not exist; create it or choose another --db path.")
        try:
            self._fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
        except OSError as exc:
            raise StoreError(f"Cannot create the lock file {self.path} ({exc.strerror}); check the folder's permissions.")
        # `kpis` and `status` test the lock by taking it shared for an instant: a sync that
        # starts in that instant waits a moment instead of calling itself a second sync.
        for attempt in range(LOCK_ATTEMPTS):
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except BlockingIOError:
                if attempt + 1 < LOCK_ATTEMPTS:
                    time.sleep(0.05)
        os.close(self._fd)
        raise StoreError(f"Another sync is already running on {self.path.with_suffix('')}; wait for it to finish.",
                         exit_code=6)

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)


# --- progress ---------------------------------------------------------------------------

class Progress:
    """A progress bar per object on a terminal; plain log lines otherwise (cron)."""

    def __init__(self, echo: Callable[[str], None] | None = None, interactive: bool = False):
        self.echo = echo or (lambda line: None)
        self.interactive = interactive
        self._bar = None
        self._count = 0
        self._label = ""
        self._next_report = 0

    def start(self, label: str, total: int | None) -> None:
        self._label, self._count, self._next_report = label, 0, 10_000
        if self.interactive and total:
            import click

            self._bar = click.progressbar(length=total, label=f"{label:<30}", show_pos=True, file=sys.stderr)
            self._bar.__enter__()
        elif self.interactive:
            self._write(f"\r{label:<30} …")
        else:
            self.echo(f"{label}: started" + (f" ({total} records in HubSpot)" if total is not None else ""))

    def _write(self, text: str) -> None:
        sys.stderr.write(text)
        sys.stderr.flush()

    def advance(self, n: int) -> None:
        self._count += n
        if self._bar is not None:
            self._bar.update(n)
        elif self.interactive:
            self._write(f"\r{self._label:<30} {self._count:,}")
        elif self._count >= self._next_report:
            self.echo(f"{self._label}: {self._count} records")
            self._next_report += 10_000

    def finish(self, summary: str) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None
            return
        if self.interactive:
            self._write(f"\r{self._label:<30} {summary}\n")
        else:
            self.echo(f"{self._label}: {summary}")


def prefetch(iterator: Iterator, depth: int = 2) -> Iterator:
    """Fetch the next pages in a thread while the current one is written (two cores)."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return True
            except queue.Full:
                pass
        return False

    def worker():
        try:
            for item in iterator:
                if not put((True, item)):
                    return
            put((True, done))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put((False, exc))

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    try:
        while True:
            ok, item = q.get()
            if not ok:
                raise item
            if item is done:
                return
            yield item
    finally:
        # The fetcher ends after its current request, never blocked on a full queue; nobody
        # waits for it, so an interrupted run ends at once (the client's cancel() cuts its
        # retry waits short).
        stop.set()


def chunk_names(names: list[str], budget: int) -> list[list[str]]:
    chunks: list[list[str]] = [[]]
    used = 0
    for name in names:
        cost = len(name) + 12  # "&properties=" per name
        if chunks[-1] and used + cost > budget:
            chunks.append([])
            used = 0
        chunks[-1].append(name)
        used += cost
    return chunks


def _items(payload, key: str = "results") -> list[dict]:
    """The objects of a list in a payload; anything that is not an object is dropped."""
    value = payload.get(key) if isinstance(payload, dict) else None
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _results(payload) -> list:
    """A page's records as sent, junk included: `_write_page` counts what it cannot use."""
    value = payload.get("results") if isinstance(payload, dict) else None
    return value if isinstance(value, list) else []


def _next_after(payload) -> str | None:
    """`paging.next.after`, or None on the last page (HubSpot omits `paging` there)."""
    paging = payload.get("paging") if isinstance(payload, dict) else None
    after = ((paging or {}).get("next") or {}).get("after") if isinstance(paging, dict) else None
    return str(after) if after not in (None, "") else None


def id_text(value) -> str | None:
    """An id as text, or None when it is missing or neither text nor a number (HubSpot's ids
    are numbers, usually sent as text)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        return None
    return str(value)


def record_id(record) -> str | None:
    """A record's id as text, or None for junk (not an object, or no usable id)."""
    return id_text(record.get("id")) if isinstance(record, dict) else None


def follow(after: str | None, seen: set[str], what: str) -> str | None:
    """The next page's cursor, once: a cursor HubSpot already sent means its paging is stuck."""
    if after is not None:
        if after in seen:
            shown = after if len(after) <= 40 else after[:40] + "…"
            raise HubSpotError(f"HubSpot's paging of {what} sent the cursor {shown!r} a second time; the sync "
                               "stopped instead of reading the same pages forever, run it again later.")
        seen.add(after)
    return after


def modified_ms(record, prop: str) -> int | None:
    if not isinstance(record, dict):
        return None
    props = record.get("properties") if isinstance(record.get("properties"), dict) else {}
    raw = props.get(prop) or record.get("updatedAt")
    moment = parse_instant(raw) if isinstance(raw, str) else None
    return int(moment.timestamp() * 1000) if moment else None


@dataclass
class ObjectResult:
    written: int = 0
    archived: int = 0
    mode: str = ""
    skipped: str | None = None


@dataclass
class SyncResult:
    run_id: int
    status: str
    objects: dict[str, ObjectResult] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    message: str | None = None


class Sync:
    def __init__(self, config: Config, db: sqlite_utils.Database, client: HubSpotClient, *,
                 full: bool = False, only: Iterable[str] | None = None, progress: Progress | None = None):
        self.config = config
        self.db = db
        self.client = client
        self.full = full
        self.objects = [o for o in config.sync.objects if not only or o in set(only)]
        self.progress = progress or Progress()
        self.warnings: list[str] = []
        self.results: dict[str, ObjectResult] = {}
        self.unavailable: set[str] = set()
        self.run_server_ms: int | None = None
        self.unread_associations: set[tuple[str, str]] = set()  # (object, id) to read again next run
        self.future_dated: dict[str, int] = {}  # object -> records modified after HubSpot's clock

    # --- run bookkeeping ----------------------------------------------------------------

    def run(self) -> SyncResult:
        conn = self.db.conn
        # The account is read before anything is written: a store of another portal is refused
        # untouched. (A failure to read it is recorded with the run, as any other failure.)
        details, failure = None, None
        try:
            details = self.read_account()
        except BaseException as exc:
            failure = exc
        else:
            self.check_portal(details)
        # A lock holder is the only writer: any 'running' row left is from a killed sync.
        conn.execute("UPDATE sync_runs SET status = 'interrupted', ended_at = COALESCE(ended_at, ?) "
                     "WHERE status = 'running'", [now_iso()])
        run_id = conn.execute(
            "INSERT INTO sync_runs (started_at, status, mode, pid) VALUES (?, 'running', ?, ?)",
            [now_iso(), "full" if self.full else "auto", os.getpid()]).lastrowid
        status, message = "ok", None
        try:
            if failure is not None:
                raise failure
            self._sync_all(details)
        except UserError as exc:
            status, message = ("quota" if exc.exit_code == 5 else "failed"), str(exc)
            raise
        except BaseException as exc:
            status, message = "failed", f"{type(exc).__name__}"
            self.client.cancel()  # (Ctrl-C, SIGTERM: a page fetcher thread stops waiting too)
            raise
        finally:
            self._finish_run(run_id, status, message)
        return SyncResult(run_id, status, self.results, self.warnings, message)

    def _finish_run(self, run_id: int, status: str, message: str | None) -> None:
        stats = self.client.stats
        counts = {name: {"written": r.written, "archived": r.archived, "mode": r.mode,
                         **({"skipped": r.skipped} if r.skipped else {})}
                  for name, r in self.results.items()}
        self.db.conn.execute(
            "UPDATE sync_runs SET ended_at = ?, status = ?, counts = ?, requests = ?, rate_limited = ?, "
            "retries = ?, errors = ?, message = ?, warnings = ? WHERE id = ?",
            [now_iso(), status, json.dumps(counts), stats.requests, stats.rate_limited, stats.retries,
             stats.errors, message, json.dumps(self.warnings), run_id])

    def warn(self, message: str) -> None:
        # The command prints each warning once when the run ends (and the run record keeps
        # them); the log line is for -v.
        log.info("warning: %s", message)
        self.warnings.append(message)

    def _sync_all(self, details: dict | None) -> None:
        if details is not None:
            self.save_account(details)
        self.run_server_ms = self.client.server_time_ms
        self.sync_owners()
        for object_type in PIPELINE_OBJECTS:
            if object_type in self.objects:
                self.sync_pipelines(object_type)
        for name in self.objects:
            try:
                self.sync_object(OBJECTS[name])
            except MissingScopeError as exc:
                self.unavailable.add(name)
                self.results[name] = ObjectResult(skipped="missing scope")
                what = ("the portal has no feedback submissions (Service Hub Professional) or the token lacks "
                        "crm.objects.feedback_submissions.read" if name == "feedback_submissions"
                        else f"the token lacks {', '.join(exc.scopes) or 'a scope'}")
                self.warn(f"Skipped {name}: {what}; KPIs not updated: {KPIS_BY_OBJECT[name]}.")
        self.sync_associations()
        try:
            from hubspot_metrics.metrics import ensure_indexes
        except ImportError:  # the metrics module is optional for a bare sync
            return
        ensure_indexes(self.db)

    # --- account, owners, pipelines -----------------------------------------------------

    def read_account(self) -> dict | None:
        """The account details, or None when the token may not read them."""
        try:
            details = self.client.account_details()
        except MissingScopeError:
            self.warn("Could not read the account details (scope); the home currency falls back to deal currencies.")
            return None
        if not isinstance(details, dict) or details.get("portalId") in (None, ""):
            # (without its portal id, a store could no longer tell which portal it belongs to)
            self.warn("HubSpot's account details were not an object with a portalId; the stored account "
                      "(portal id, home currency) is kept as it was.")
            return None
        return details

    def check_portal(self, details: dict | None) -> None:
        """One store, one portal: records of two portals mixed in one store cannot be told apart."""
        theirs = (details or {}).get("portalId")
        ours = stored_portal_id(self.db.conn)
        if ours is None or theirs in (None, "") or str(theirs) == ours:
            return
        raise StoreError(f"The store {self.config.store_path} holds HubSpot portal {ours}, but the token reads "
                         f"portal {theirs}; give that portal a store of its own with another --db path.")

    def save_account(self, details: dict) -> None:
        names = ("portalId", "accountType", "timeZone", "companyCurrency", "utcOffset", "utcOffsetMilliseconds",
                 "uiDomain", "dataHostingLocation")
        row = dict(zip(names, self._bindable("the account details", [details.get(k) for k in names])))
        row["additionalCurrencies"] = save_json(details.get("additionalCurrencies"))
        with transaction(self.db) as conn:
            conn.execute("DELETE FROM account")
            conn.execute(f"INSERT INTO account ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                         list(row.values()))

    def sync_owners(self) -> None:
        rows = []
        try:
            for archived in (False, True):  # deactivated owners keep historic records resolvable
                after, seen = None, set()
                while True:
                    page = self.client.owners_page(after=after, archived=archived)
                    for o in _items(page):
                        if record_id(o) is None:
                            continue
                        rows.append(self._bindable("owners", [
                            record_id(o), o.get("email"), o.get("firstName"), o.get("lastName"), o.get("type"),
                            o.get("userId"), o.get("userIdIncludingInactive"), o.get("createdAt"),
                            o.get("updatedAt"), 1 if archived else 0, save_json(o.get("teams"))]))
                    after = follow(_next_after(page), seen, "the owners")
                    if not after:
                        break
        except MissingScopeError:
            self.warn("Skipped owners: the token lacks crm.objects.owners.read; --by owner shows owner ids only.")
            return
        with transaction(self.db) as conn:
            conn.executemany("INSERT OR REPLACE INTO owners VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
        self.results["owners"] = ObjectResult(written=len(rows), mode="full")

    def sync_pipelines(self, object_type: str) -> None:
        try:
            payload = self.client.pipelines(object_type)
        except MissingScopeError:
            return  # the object itself will be skipped with its own warning
        pipelines, stages = [], []
        for p in _items(payload):
            if record_id(p) is None:
                continue
            pipelines.append(self._bindable(f"{object_type} pipelines", [
                object_type, record_id(p), p.get("label"), p.get("displayOrder"), int(bool(p.get("archived"))),
                p.get("createdAt"), p.get("updatedAt")]))
            for s in _items(p, "stages"):
                if record_id(s) is None:
                    continue
                meta = s.get("metadata") if isinstance(s.get("metadata"), dict) else {}
                closed = str(meta.get("isClosed", "")).lower()
                probability = meta.get("probability")
                stages.append(self._bindable(f"{object_type} pipelines", [
                    object_type, record_id(p), record_id(s), s.get("label"), s.get("displayOrder"),
                    int(bool(s.get("archived"))), 1 if closed == "true" else 0 if closed == "false" else None,
                    parse_number(str(probability)) if isinstance(probability, (str, int, float)) else None,
                    meta.get("ticketState"), save_json(meta)]))
        with transaction(self.db) as conn:
            conn.execute("DELETE FROM pipelines WHERE object_type = ?", [object_type])
            conn.execute("DELETE FROM pipeline_stages WHERE object_type = ?", [object_type])
            conn.executemany("INSERT INTO pipelines VALUES (?,?,?,?,?,?,?)", pipelines)
            conn.executemany("INSERT INTO pipeline_stages VALUES (?,?,?,?,?,?,?,?,?,?)", stages)

    def _bindable(self, what: str, row: list) -> list:
        """Reference data as SQLite can store it: a list or object where HubSpot promises text
        or a number is kept as JSON text, and the run says so once for each kind of data."""
        if not any(isinstance(v, (dict, list)) for v in row):
            return row
        warning = (f"HubSpot sent {what} with a list or object where text or a number belongs; "
                   "those fields are stored as JSON text.")
        if warning not in self.warnings:
            self.warn(warning)
        return [save_json(v) if isinstance(v, (dict, list)) else v for v in row]

    # --- properties ---------------------------------------------------------------------

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

    def prepare_columns(self, obj: CrmObject, state: dict | None) -> tuple[PropertyColumns, list[str], list[str]]:
        columns = PropertyColumns(self.db, obj.name)
        # Definitions change rarely: read them on a full sync, when a wanted property has no
        # column yet, or while a property named in the config is stored without HubSpot's
        # definition (it may be defined now, e.g. as a date: its column is then re-typed).
        provisional = self.wanted_properties(obj, {})
        need_definitions = (self.config.sync.all_properties or state is None or state.get("mode") == "full"
                            or self.full or any(p not in columns.columns for p in provisional)
                            or any(p in columns.undescribed for p in self.configured_properties(obj)))
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
        overflowing = [name for name in added if columns.columns[name] == OVERFLOW_COLUMN]
        if overflowing:
            self.warn(f"{obj.name} has more properties than SQLite allows columns ({MAX_TABLE_COLUMNS}); "
                      f"{len(overflowing)} of them are kept as JSON in the column {OVERFLOW_COLUMN} "
                      f"(e.g. {overflowing[0]}).")
        return columns, wanted, added

    # --- one object ---------------------------------------------------------------------

    def state(self, key: str) -> dict | None:
        row = self.db.conn.execute("SELECT * FROM sync_state WHERE object_type = ?", [key]).fetchone()
        if row is None:
            return None
        names = [d[0] for d in self.db.conn.execute("SELECT * FROM sync_state LIMIT 0").description]
        return dict(zip(names, row))

    @staticmethod
    def save_state(conn, key: str, **values) -> None:
        values["updated_at"] = now_iso()
        conn.execute("INSERT OR IGNORE INTO sync_state (object_type) VALUES (?)", [key])
        conn.execute(f"UPDATE sync_state SET {', '.join(f'{k} = ?' for k in values)} WHERE object_type = ?",
                     [*values.values(), key])

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
        state = self.state(obj.name)
        columns, wanted, added = self.prepare_columns(obj, state)
        result = self.results[obj.name] = ObjectResult()
        resuming_full = state is not None and state.get("mode") == "full"
        backfill = state is not None and not resuming_full and bool(added)
        if backfill:  # only a full re-read fills a newly synced property on unchanged records
            log.info("new %s properties %s: re-reading every record once to fill them", obj.name, ", ".join(added))
        if state is None or (self.full or backfill) and not resuming_full:
            self.start_full(obj)
            state = self.state(obj.name)
        if state["mode"] == "full":
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
            self.save_state(conn, obj.name, mode="full", list_after=None, pending_cursor_ms=newest[0] if newest else 0,
                            pending_server_ms=self.run_server_ms,
                            portal_total=total if isinstance(total, int) else None)
            for pair in ASSOCIATIONS:  # either side: a full re-read must also refresh its associations
                if obj.name in (pair.from_object, pair.to_object):
                    self.save_state(conn, "assoc:" + pair.table, mode="full", list_after=None)

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

    def full_list(self, obj: CrmObject, columns: PropertyColumns, wanted: list[str], state: dict,
                  result: ObjectResult) -> None:
        chunks = chunk_names(wanted, URL_PROPERTY_BUDGET)
        self.progress.start(f"{obj.name} (full)", self.state(obj.name).get("portal_total"))
        for page in prefetch(self._pages(obj, chunks[0], state.get("list_after"), archived=False)):
            records = _results(page)
            after = _next_after(page)
            self.plausible(obj, [m for m in (modified_ms(r, obj.modified_property) for r in records) if m is not None])
            with transaction(self.db) as conn:
                result.written += self._write_page(conn, obj, columns, chunks, records)
                if after:
                    self.save_state(conn, obj.name, list_after=after)
                else:
                    state = self.state(obj.name)
                    self.save_state(conn, obj.name, mode="incremental", list_after=None,
                                    cursor_ms=state["pending_cursor_ms"], server_ms=state["pending_server_ms"],
                                    full_completed_at=now_iso())
            self.progress.advance(len(records))
        self.progress.finish(f"{result.written} records (full)")

    def incremental(self, obj: CrmObject, columns: PropertyColumns, wanted: list[str], state: dict,
                    result: ObjectResult) -> None:
        """Search the records changed since the cursor, 200 a page (see `_changed_pages`).

        Search is eventually consistent, and records change while a run pages: the window
        starts at the older of the cursor and the previous run's start (HubSpot's clock, from
        its Date header) minus the lookback, and records are upserted by id, so the overlap
        makes no duplicates. When the cursor is older than that, everything of the cursor's
        millisecond was in the index at the previous run and was read then, so the window may
        start just after it: a bulk import sharing that millisecond is not read every night.
        That trusts Date to run on the records' clock, which is proven once a run has seen
        records stamped at two different times between the previous run's Date and the latest
        one (`_clock_evidence`; remembered in sync_state). Until then the millisecond is read
        once more, since on a simulated portal whose clock stands still an edit can share it:
        in the window when few records share it, else (a bulk import) by a search of its own
        that this run's proof makes unnecessary.
        """
        prop = obj.modified_property
        cursor = state.get("cursor_ms") or 0
        server_ms = state.get("server_ms")
        lookback_ms = self.config.sync.lookback_seconds * 1000
        floor = state.get("list_after") or "0"  # set when resuming an interrupted run
        proven = self.state(CLOCK_STATE) is not None
        if floor != "0" and state.get("pending_start_ms") is not None:
            # A resume keeps its first attempt's window: the records below the id floor were
            # read with it, and the counts that chose it have changed since.
            start = state["pending_start_ms"]
        elif server_ms is None:  # no Date header: overlap by the lookback
            start = cursor - lookback_ms
        elif cursor < server_ms - lookback_ms and (proven or self._stored_at(obj, columns, cursor) >= SEARCH_PAGE_SIZE):
            start = cursor + 1
        else:
            start = min(cursor, server_ms - lookback_ms)
        start = max(0, start)
        prove_later = start == cursor + 1 and not proven
        newest = max(cursor, state.get("pending_cursor_ms") or 0)
        # The run's start on HubSpot's clock; a resumed run keeps the first attempt's, so the
        # next run re-reads what changed below the id floor while this one was interrupted.
        run_server_ms = state.get("pending_server_ms") if floor != "0" else self.run_server_ms
        chunks = chunk_names(wanted, SEARCH_PROPERTY_BUDGET)
        evidence: set[int] = set()
        self.progress.start(f"{obj.name} (changes)", None)

        def write(conn, records: list[dict]) -> None:
            nonlocal newest
            stamps = [m for m in (modified_ms(r, prop) for r in records) if m is not None]
            newest = max([newest, *self.plausible(obj, stamps)])
            if server_ms is not None and len(evidence) < 2:
                evidence.update(self._clock_evidence(stamps, server_ms))
            result.written += self._write_page(conn, obj, columns, chunks, records)
            conn.executemany("INSERT OR IGNORE INTO sync_changed VALUES (?, ?)",
                             [(obj.name, str(r["id"])) for r in records])
            self.progress.advance(len(records))

        window = [{"propertyName": prop, "operator": "GTE", "value": str(start)}]
        for records, next_floor in self._changed_pages(obj, chunks[0], window, floor):
            with transaction(self.db) as conn:
                write(conn, records)
                if next_floor:  # (the last page commits no state: a kill after it re-reads it)
                    self.save_state(conn, obj.name, list_after=next_floor, pending_cursor_ms=newest,
                                    pending_server_ms=run_server_ms, pending_start_ms=start)
        clock_proven = len(evidence) >= 2
        if prove_later and not clock_proven:
            cursor_ms = [{"propertyName": prop, "operator": "GTE", "value": str(cursor)},
                         {"propertyName": prop, "operator": "LT", "value": str(cursor + 1)}]
            for records, _ in self._changed_pages(obj, chunks[0], cursor_ms, "0"):
                with transaction(self.db) as conn:
                    write(conn, records)
        with transaction(self.db) as conn:
            self.save_state(conn, obj.name, list_after=None, pending_cursor_ms=None, pending_server_ms=None,
                            pending_start_ms=None, cursor_ms=newest, server_ms=run_server_ms)
            if clock_proven:
                self.save_state(conn, CLOCK_STATE, mode="proven")
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

    # --- associations -------------------------------------------------------------------

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
                state = self.state("assoc:" + pair.table)
                if state is not None and state["mode"] == "full":
                    self._full_associations(pair, state)
                else:
                    self._changed_associations(pair)
            except MissingScopeError as exc:
                self.warn(f"Skipped {pair.from_object}-{pair.to_object} associations: the token lacks "
                          f"{', '.join(exc.scopes) or 'a scope'}.")
        with transaction(self.db) as conn:
            conn.execute(f"DELETE FROM sync_changed WHERE object_type NOT IN ({','.join('?' * len(pending))})",
                         sorted(pending))
            conn.executemany("INSERT OR IGNORE INTO sync_changed VALUES (?, ?)", sorted(self.unread_associations))

    def _read_associations(self, from_type: str, to_type: str, ids: list[str]) -> dict[str, dict[str, list]]:
        """All associations of `ids`, following each record's own paging."""
        found: dict[str, dict[str, list]] = {i: {} for i in ids}
        unreadable: set[str] = set()
        junk = 0
        inputs = [{"id": i} for i in ids]
        seen: set[str] = set()
        what = f"the {from_type}-{to_type} associations"
        while inputs:
            payload = self.client.associations(from_type, to_type, inputs)
            if not isinstance(payload, dict) or not isinstance(payload.get("results"), list):
                # Read as "no associations", it would delete every stored one of these records.
                raise HubSpotError(f"HubSpot's answer for the {from_type}-{to_type} associations was not a list of "
                                   "results; run the sync again (the stored associations are kept).")
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
        conn.executemany(f"INSERT OR REPLACE INTO [{pair.table}] VALUES (?, ?, ?)", rows)

    def _full_associations(self, pair: AssociationPair, state: dict) -> None:
        last = state.get("list_after") or ""
        self.progress.start(f"{pair.from_object}-{pair.to_object}", None)
        while True:
            ids = [r[0] for r in self.db.conn.execute(
                f"SELECT id FROM [{pair.from_object}] WHERE id > ? AND archived = 0 ORDER BY id LIMIT ?",
                [last, ASSOCIATION_BATCH_SIZE])]
            if not ids:
                break
            found = self._read_associations(pair.from_object, pair.to_object, ids)
            with transaction(self.db) as conn:
                self._replace_rows(conn, pair, found)
                self.save_state(conn, "assoc:" + pair.table, list_after=ids[-1])
            self.progress.advance(len(ids))
            last = ids[-1]
        with transaction(self.db) as conn:
            self.save_state(conn, "assoc:" + pair.table, mode="incremental", list_after=None)
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
            f"SELECT 1 FROM [{pair.from_object}] WHERE id = ? AND archived = 0", [i]).fetchone())
        for i in range(0, len(live), ASSOCIATION_BATCH_SIZE):
            found = self._read_associations(pair.from_object, pair.to_object, live[i:i + ASSOCIATION_BATCH_SIZE])
            with transaction(self.db) as conn:
                self._replace_rows(conn, pair, found)


def local_counts(db: sqlite_utils.Database) -> dict[str, int]:
    return {name: db.conn.execute(
        f"SELECT count(*) FROM [{name}] WHERE archived = 0 AND merged_into IS NULL").fetchone()[0]
        for name in OBJECTS}


def summarize(result: SyncResult, stats) -> str:
    parts = []
    for name, r in result.objects.items():
        parts.append(f"{name} {r.skipped}" if r.skipped else f"{name} {r.written}" + (f"/{r.archived} archived" if r.archived else ""))
    return (f"sync {result.status}: " + ", ".join(parts)
            + f"; {stats.requests} requests, {stats.rate_limited} rate-limited, {stats.retries} retries")
