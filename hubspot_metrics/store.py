"""The SQLite store: schema, migrations, record upserts, sync state and run records.

Layout (users query it directly, so it is a contract; see README "Store layout"):
- one table per CRM object (`contacts`, `companies`, `deals`, `tickets`,
  `feedback_submissions`): `id` TEXT primary key, `archived` 0/1, `archived_at`,
  `merged_into` (the surviving id when HubSpot merged this record away), then one column per
  synced property named exactly as the HubSpot property (REAL numbers, 0/1 booleans,
  ISO-8601 UTC instants; a value that failed to parse is kept raw and listed in
  `value_issues`);
- `owners` and `account`, with HubSpot's own field names;
- `pipelines`, `pipeline_stages`, `associations_<from>_<to>`, `properties`;
- `sync_state` (cursor per object), `sync_runs` (one row per run).
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import urllib.parse
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator



def _import_sqlite_utils():
    """Import sqlite-utils without pandas and numpy.

    sqlite-utils imports pandas (about 60 MB and half a second) and numpy when they are
    installed, only to map their scalar types to SQLite types. The store never hands it such
    values, and the sync must stay lean, so both are hidden for that one import unless
    something already loaded them.
    """
    import sys

    hidden = [name for name in ("pandas", "numpy") if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # makes `import name` raise ImportError
    try:
        import sqlite_utils
        from sqlite_utils.migrations import Migrations
    finally:
        for name in hidden:
            del sys.modules[name]
    return sqlite_utils, Migrations


sqlite_utils, Migrations = _import_sqlite_utils()

from hubspot_metrics import postgres
from hubspot_metrics.dialect import dialect_of, in_list, quote
from hubspot_metrics.errors import StoreError
from hubspot_metrics.objects import ASSOCIATIONS, OBJECTS
from hubspot_metrics.config import DEFAULT_SCHEMA
from hubspot_metrics.postgres import is_postgres_url
from hubspot_metrics.values import UNPARSED, convert, converter, store_kind

# The columns every object table has before its properties (README "Store layout").
RECORD_COLUMNS = ("id", "archived", "archived_at", "merged_into")
# A table holds at most `dialect.max_columns` columns (SQLite 2,000, PostgreSQL 1,600). A
# portal can define more properties than that (`all_properties`): those past the limit share
# one JSON column.
OVERFLOW_COLUMN = "_more_properties"

migrations = Migrations("hubspot_metrics")


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    # The types come from the store's dialect: SQLite keeps its own names, PostgreSQL gets the
    # types a BI tool expects (timestamptz, double precision, boolean, bigint, jsonb).
    t = dialect_of(db)
    for name in OBJECTS:
        db.execute(f"""CREATE TABLE IF NOT EXISTS [{name}] (
            id {t.text} PRIMARY KEY, archived {t.flag} NOT NULL DEFAULT {t.false}, archived_at {t.instant},
            merged_into {t.text})""")
    for pair in ASSOCIATIONS:
        db.execute(f"""CREATE TABLE IF NOT EXISTS [{pair.table}] (
            [{pair.from_column}] {t.text} NOT NULL, [{pair.to_column}] {t.text} NOT NULL, types {t.json},
            PRIMARY KEY ([{pair.from_column}], [{pair.to_column}]))""")
        db.execute(f"CREATE INDEX IF NOT EXISTS [idx_{pair.table}_to] ON [{pair.table}] ([{pair.to_column}])")
    db.executescript(f"""
        CREATE TABLE IF NOT EXISTS owners (
            id {t.text} PRIMARY KEY, email {t.text}, [firstName] {t.text}, [lastName] {t.text}, type {t.text},
            [userId] {t.integer}, [userIdIncludingInactive] {t.integer}, [createdAt] {t.text}, [updatedAt] {t.text},
            archived {t.flag} NOT NULL DEFAULT {t.false}, teams {t.json});
        CREATE TABLE IF NOT EXISTS account (
            [portalId] {t.integer}, [accountType] {t.text}, [timeZone] {t.text}, [companyCurrency] {t.text},
            [additionalCurrencies] {t.json}, [utcOffset] {t.text}, [utcOffsetMilliseconds] {t.integer},
            [uiDomain] {t.text}, [dataHostingLocation] {t.text});
        CREATE TABLE IF NOT EXISTS pipelines (
            object_type {t.text} NOT NULL, id {t.text} NOT NULL, label {t.text}, display_order {t.integer},
            archived {t.flag} NOT NULL DEFAULT {t.false}, created_at {t.text}, updated_at {t.text},
            PRIMARY KEY (object_type, id));
        CREATE TABLE IF NOT EXISTS pipeline_stages (
            object_type {t.text} NOT NULL, pipeline_id {t.text} NOT NULL, id {t.text} NOT NULL, label {t.text},
            display_order {t.integer}, archived {t.flag} NOT NULL DEFAULT {t.false}, is_closed {t.flag},
            probability {t.number}, ticket_state {t.text}, metadata {t.json},
            PRIMARY KEY (object_type, pipeline_id, id));
        CREATE TABLE IF NOT EXISTS properties (
            object_type {t.text} NOT NULL, name {t.text} NOT NULL, column_name {t.text} NOT NULL, type {t.text},
            field_type {t.text}, label {t.text}, hubspot_defined {t.integer}, described {t.integer} NOT NULL DEFAULT 1,
            PRIMARY KEY (object_type, name));
        CREATE TABLE IF NOT EXISTS value_issues (
            object_type {t.text} NOT NULL, record_id {t.text} NOT NULL, property {t.text} NOT NULL,
            raw_value {t.text}, PRIMARY KEY (object_type, record_id, property));
        CREATE TABLE IF NOT EXISTS sync_state (
            object_type {t.text} PRIMARY KEY, mode {t.text}, list_after {t.text}, cursor_ms {t.integer},
            server_ms {t.integer}, pending_cursor_ms {t.integer}, pending_server_ms {t.integer},
            full_completed_at {t.instant}, updated_at {t.instant});
        -- ids changed by an incremental sync whose associations still need a refresh
        CREATE TABLE IF NOT EXISTS sync_changed (
            object_type {t.text} NOT NULL, id {t.text} NOT NULL, PRIMARY KEY (object_type, id));
        CREATE TABLE IF NOT EXISTS sync_runs (
            id {t.run_id_key}, started_at {t.instant} NOT NULL, ended_at {t.instant},
            status {t.text} NOT NULL, mode {t.text}, counts {t.json}, requests {t.integer} DEFAULT 0,
            rate_limited {t.integer} DEFAULT 0, retries {t.integer} DEFAULT 0, errors {t.integer} DEFAULT 0,
            message {t.text}, warnings {t.json}, pid {t.integer});
    """)


@migrations()
def m002_portal_totals(db: sqlite_utils.Database) -> None:
    # HubSpot's own record count when a full sync started, for the completeness check.
    db.execute(f"ALTER TABLE sync_state ADD COLUMN portal_total {dialect_of(db).integer}")


@migrations()
def m003_kpi_snapshots(db: sqlite_utils.Database) -> None:
    # One row per (day, period, KPI): re-running a day replaces that day's rows, older days stay.
    t = dialect_of(db)
    db.execute(f"""CREATE TABLE IF NOT EXISTS kpi_snapshots (
        snapshot_date {t.text} NOT NULL, computed_at {t.instant} NOT NULL, period {t.text} NOT NULL,
        grain {t.text} NOT NULL, start {t.text} NOT NULL, "end" {t.text} NOT NULL, key {t.text} NOT NULL,
        value {t.number}, n {t.integer}, reason {t.text}, unit {t.text}, definition_version {t.text} NOT NULL,
        sync_run_id {t.integer}, PRIMARY KEY (snapshot_date, period, key))""")


@migrations()
def m004_pending_window(db: sqlite_utils.Database) -> None:
    # Where an interrupted incremental run's search window started: its resume keeps it.
    db.execute(f"ALTER TABLE sync_state ADD COLUMN pending_start_ms {dialect_of(db).integer}")


@migrations()
def m005_snapshot_definition(db: sqlite_utils.Database) -> None:
    # What a snapshot's values meant (spec version and settings, metrics/definition.py) and
    # how far it measured: rows of v1, which have no definition, never mix into a v2 history.
    t = dialect_of(db)
    for column in (f"definition {t.text}", f"as_of {t.text}", f"partial {t.flag}"):
        db.execute(f"ALTER TABLE kpi_snapshots ADD COLUMN {column}")


@migrations()
def m006_property_options(db: sqlite_utils.Database) -> None:
    # An enumeration's options as HubSpot defines them (JSON list of {"value", "label"}), so a
    # breakdown by source can show "Direct traffic" rather than DIRECT_TRAFFIC.
    db.execute("ALTER TABLE properties ADD COLUMN options TEXT")


def _create_private(path: Path) -> None:
    """Create the database file readable by its owner only: it holds customer personal data."""
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)


def open_store(path: str | os.PathLike, *, schema: str = DEFAULT_SCHEMA, create: bool = True,
               readonly: bool = False) -> sqlite_utils.Database:
    """Open (and migrate) the store, turning every failure into one clear sentence.

    `path` is a SQLite file, or a `postgresql://` URL whose store lives in `schema`. Use it as
    `with open_store(path) as db:`: the connection closes when the block ends, however it ends.
    """
    if is_postgres_url(path):
        return postgres.open_database(str(path), schema, migrations, create=create, readonly=readonly)
    path = Path(path)
    refuse_folder(path)
    if not path.exists():
        if not create:
            raise StoreError(f"No store at {path}; run `hubspot-metrics sync` first (or point --db / HUBSPOT_METRICS_DB at it).")
        if not path.parent.exists():
            raise StoreError(f"The folder {path.parent} for the store does not exist; create it or choose another --db path.")
        try:
            _create_private(path)
        except FileExistsError:
            pass
        except OSError as exc:
            raise StoreError(f"Cannot create the store at {path} ({exc.strerror}); choose a writable --db path.")
    if not readonly:
        _check_writable(path)
    try:
        if readonly:
            conn = connect_read_only(path, isolation_level=None, check_same_thread=False)
        else:
            conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 30000")
        if not readonly:
            _check_ours(conn, path)
            conn.execute("PRAGMA journal_mode = WAL")  # readers (kpis, export) keep working during a sync
            conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        db = sqlite_utils.Database(conn)
        if not readonly:
            migrations.apply(db)
    except sqlite3.DatabaseError as exc:
        message = str(exc)
        if "not a database" in message or "malformed" in message:
            raise StoreError(f"{path} is not a readable SQLite store (it may be corrupt); move it aside and run `hubspot-metrics sync --full`.")
        if "readonly" in message or "read-only" in message:
            raise _read_only(path)
        if "locked" in message:
            raise StoreError(f"The store {path} is locked by another process; wait for it to finish and try again.")
        raise StoreError(f"Cannot open the store {path} ({message}); check the path and its permissions.")
    return db


def connect_read_only(path: str | os.PathLike, **options) -> sqlite3.Connection:
    """A read-only connection that works wherever the file can be read.

    The path is escaped for SQLite's `file:` URI: an unescaped `#`, `?` or `%` would cut it
    short, and SQLite would open (and create) a stray database at the cut. A WAL store
    needs its `-shm` file beside it; in a folder this user cannot write (a read-only mount,
    a backup), it is opened `immutable`, reading the database file as it is on disk (no sync
    can be writing it there).
    """
    base = f"file:{urllib.parse.quote(os.fspath(path))}?mode=ro"
    conn = sqlite3.connect(base, uri=True, timeout=30, **options)
    try:
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError as exc:
        conn.close()
        if "unable to open" not in str(exc) or os.access(Path(path).parent, os.W_OK):
            raise
    conn = sqlite3.connect(base + "&immutable=1", uri=True, timeout=30, **options)
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    return conn


def refuse_folder(path: Path) -> None:
    if path.is_dir():
        raise StoreError(f"{path} is a folder; give --db the path of the store file, e.g. {path / 'hubspot-metrics.db'}.")


def prepare_demo_store(location: str, schema: str) -> None:
    """An empty PostgreSQL schema for the demo (a SQLite demo store is a file it deletes itself)."""
    postgres.reset_demo_schema(location, schema)


def describe(location: str | os.PathLike) -> str:
    """The store's location as it may be shown (a PostgreSQL URL without its password)."""
    return postgres.masked(str(location)) if is_postgres_url(location) else str(location)


def sync_running(db_path: str | os.PathLike, schema: str = DEFAULT_SCHEMA) -> bool:
    """Whether a sync holds the store's lock (`sync.SyncLock`), tested without waiting."""
    if is_postgres_url(db_path):
        conn = postgres.connect(str(db_path), schema)
        try:
            return postgres.lock_held(conn)
        finally:
            conn.close()
    lock = f"{db_path}.lock"
    if not os.path.exists(lock):
        return False
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:  # e.g. another user's lock file: cannot tell, so read as if no sync ran
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _check_writable(path: Path) -> None:
    # SQLite opens a file it cannot write without complaint and fails at the first write,
    # halfway through a sync: say so before anything starts.
    if not os.access(path, os.W_OK):
        raise _read_only(path)
    if not os.access(path.parent, os.W_OK) and not Path(f"{path}-wal").exists():
        raise StoreError(f"The folder {path.parent} of the store is read-only, and SQLite keeps its write-ahead "
                         "log beside the store; make the folder writable or choose another --db path.")


def _read_only(path: Path) -> StoreError:
    return StoreError(f"The store {path} is read-only; make it writable by this user (chmod u+w) or choose "
                      "another --db path.")


def _check_ours(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse to add our tables to somebody else's database (a mistyped --db)."""
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    ours = "_sqlite_migrations" in tables and conn.execute(
        "SELECT 1 FROM _sqlite_migrations WHERE migration_set = ? LIMIT 1", [migrations.name]).fetchone()
    # (a first open killed before its first migration committed leaves just the bookkeeping)
    if tables - {"_sqlite_migrations", "sqlite_sequence"} and not ours:
        raise StoreError(f"{path} is a SQLite database but not a hubspot-metrics store, and it is left as it is; "
                         "choose another --db path.")


def stored_portal_id(conn: sqlite3.Connection) -> str | None:
    """The HubSpot portal this store belongs to (that of its first sync), if known."""
    row = conn.execute("SELECT [portalId] FROM account WHERE [portalId] IS NOT NULL LIMIT 1").fetchone()
    return None if row is None else str(row[0])


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite3.Connection]:
    """One write transaction: a page and the state that describes it commit together."""
    conn = db.conn
    conn.execute(dialect_of(db).begin_write)
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


# --- property columns -------------------------------------------------------------------

class PropertyColumns:
    """Maps HubSpot property names to safe column names in one object table.

    Columns are named exactly as the property unless SQLite would confuse it with another
    column (SQLite column names ignore case) or with a metadata column; then a suffix `__2`,
    `__3`, ... is added and the `properties` table records the mapping. Once a table holds as
    many columns as SQLite allows, further properties map to `OVERFLOW_COLUMN`, a JSON object
    of their stored values.
    """

    def __init__(self, db: sqlite_utils.Database, object_type: str):
        self.db = db
        self.dialect = dialect_of(db)
        self.object_type = object_type
        self.columns: dict[str, str] = {}
        self.kinds: dict[str, str] = {}
        self.types: dict[str, str | None] = {}
        self.undescribed: set[str] = set()  # stored before HubSpot's properties API defined them
        for name, column, typ, described in db.execute(
                "SELECT name, column_name, type, described FROM properties WHERE object_type = ?",
                [object_type]).fetchall():
            self.columns[name] = column
            self.kinds[name] = store_kind(typ)
            self.types[name] = typ
            if not described:
                self.undescribed.add(name)

    def ensure(self, conn: sqlite3.Connection, definitions: dict[str, dict]) -> list[str]:
        """Add columns for properties not seen before; returns their names.

        `definitions`: name -> {type, ...}; `described: False` marks a guess (the properties API
        did not define it), which never changes a stored column. A definition from HubSpot whose
        type differs from the stored one re-types the column's values (`retype`)."""
        added = []
        existing = {name.lower() for name in self.dialect.column_names(conn, self.object_type)}
        for name, definition in definitions.items():
            if name in self.columns:
                if definition.get("described", True) and (
                        name in self.undescribed or definition.get("type") != self.types[name]):
                    self.retype(conn, name, definition)
                continue
            if len(existing) >= self.dialect.max_columns - 1 or OVERFLOW_COLUMN.lower() in existing:
                if OVERFLOW_COLUMN.lower() not in existing:
                    conn.execute(f"ALTER TABLE [{self.object_type}] ADD COLUMN {quote(OVERFLOW_COLUMN)} "
                                 f"{self.dialect.json}")
                    existing.add(OVERFLOW_COLUMN.lower())
                self.columns[name] = OVERFLOW_COLUMN
                self._describe(conn, name, definition)
                added.append(name)
                continue
            column = name
            n = 1
            while column.lower() in existing:
                n += 1
                column = f"{name}__{n}"
            kind = store_kind(definition.get("type"))
            conn.execute(f"ALTER TABLE [{self.object_type}] ADD COLUMN {quote(column)} {self.dialect.column_type(kind)}")
            existing.add(column.lower())
            self.columns[name] = column
            self._describe(conn, name, definition)
            added.append(name)
        return added

    def _describe(self, conn: sqlite3.Connection, name: str, definition: dict) -> None:
        described = bool(definition.get("described", True))
        conn.execute(
            replace_sql("properties", ("object_type", "name", "column_name", "type", "field_type", "label",
                                       "hubspot_defined", "described"), key=("object_type", "name")),
            [self.object_type, name, self.columns[name], definition.get("type"), definition.get("fieldType"),
             definition.get("label"), int(bool(definition.get("hubspotDefined", True))), int(described)])
        self.kinds[name] = store_kind(definition.get("type"))
        self.types[name] = definition.get("type")
        if described:
            self.undescribed.discard(name)
        else:
            self.undescribed.add(name)

    def retype(self, conn: sqlite3.Connection, name: str, definition: dict) -> None:
        """HubSpot (re)defined a stored property: convert what the column holds to the new kind.

        E.g. a churn date named in the config before HubSpot defined it was stored as text;
        once it is a date, its values must become instants or the KPIs never see them. The
        raw text of every value is recovered (from `value_issues` where it did not parse, else
        from the column) and converted again, exactly as a fresh read would store it.
        """
        table, column = self.object_type, self.columns[name]
        old_kind = self.kinds[name]
        self._describe(conn, name, definition)
        new_kind = self.kinds[name]
        if new_kind == old_kind or column == OVERFLOW_COLUMN:  # (JSON values are re-typed by the next read)
            return
        raws = {rid: _as_hubspot_text(value, old_kind) for rid, value in conn.execute(
            f"SELECT id, {quote(column)} FROM [{table}] WHERE {quote(column)} IS NOT NULL")}
        raws.update(conn.execute("SELECT record_id, raw_value FROM value_issues WHERE object_type = ? AND property = ?",
                                 [table, name]).fetchall())
        new_type = self.dialect.column_type(new_kind)
        if new_type != self.dialect.column_type(old_kind):
            # SQLite cannot change a column's type: drop it (and the indexes that use it: the
            # metrics create them again after the sync) and add it with the new type.
            self.dialect.drop_indexes_on(conn, table, column)
            conn.execute(f"ALTER TABLE [{table}] DROP COLUMN {quote(column)}")
            conn.execute(f"ALTER TABLE [{table}] ADD COLUMN {quote(column)} {new_type}")
        conn.execute("DELETE FROM value_issues WHERE object_type = ? AND property = ?", [table, name])
        updates, issues = [], []
        for rid, raw in raws.items():
            value, unparsed = stored_value(raw, new_kind, self.dialect.keeps_raw_in_typed_columns)
            if unparsed is not None:
                issues.append((table, rid, name, unparsed))
            updates.append((value, rid))
        conn.executemany(f"UPDATE [{table}] SET {quote(column)} = ? WHERE id = ?", updates)
        conn.executemany(VALUE_ISSUES_REPLACE, issues)


def replace_sql(table: str, columns: tuple[str, ...], *, key: tuple[str, ...]) -> str:
    """An insert that replaces the row with the same `key`, in SQL both stores read
    (SQLite's INSERT OR REPLACE is its own)."""
    updates = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in columns if c not in key)
    return (f"INSERT INTO {quote(table)} ({', '.join(map(quote, columns))}) VALUES ({', '.join('?' * len(columns))}) "
            f"ON CONFLICT ({', '.join(map(quote, key))}) DO " + (f"UPDATE SET {updates}" if updates else "NOTHING"))


VALUE_ISSUES_REPLACE = replace_sql("value_issues", ("object_type", "record_id", "property", "raw_value"),
                                   key=("object_type", "record_id", "property"))


def upsert_records(conn: sqlite3.Connection, columns: PropertyColumns, records: Iterable[dict],
                   property_names: list[str], *, archived: bool = False) -> int:
    """Upsert API records (`{"id", "properties", "archivedAt"?}`) into their table.

    Only the requested properties are written, so a record read with fewer properties (a
    chunk of a wide property list) does not blank the others. Returns the rows written.
    """
    table = columns.object_type
    dialect = columns.dialect
    keeps_raw = dialect.keeps_raw_in_typed_columns
    names = [p for p in property_names if p in columns.columns and columns.columns[p] != OVERFLOW_COLUMN]
    overflow = [p for p in property_names if columns.columns.get(p) == OVERFLOW_COLUMN]
    cols = [*RECORD_COLUMNS] + [columns.columns[p] for p in names]
    cols += [OVERFLOW_COLUMN] if overflow else []
    kinds = [columns.kinds[p] for p in names]
    converters = [converter(kind) for kind in kinds]
    placeholders = ", ".join("?" * len(cols))
    # merged_into is set by merge handling only; a re-read must not clear it. The overflow
    # object is merged (a null removes a property), since a chunk holds only some of them.
    updates = ", ".join(
        f"{quote(c)} = {dialect.json_merge(f'[{table}].{quote(c)}', f'excluded.{quote(c)}')}" if c == OVERFLOW_COLUMN
        else f"{quote(c)} = excluded.{quote(c)}" for c in cols[1:] if c != "merged_into")
    sql = (f"INSERT INTO [{table}] ({', '.join(quote(c) for c in cols)}) VALUES ({placeholders}) "
           f"ON CONFLICT(id) DO UPDATE SET {updates}")
    rows = []
    issues = []
    ids = []
    for record in records:
        props = record.get("properties")
        if not isinstance(props, dict):  # a malformed record still keeps its id
            props = {}
        rid = str(record["id"])
        ids.append(rid)
        # A record of the archived list that says it is live (a lenient server) stays live.
        is_archived = archived and record.get("archived") is not False
        archived_at = record.get("archivedAt") if is_archived else None
        if archived_at is not None and not keeps_raw:  # (a typed instant column takes no raw text)
            archived_at, _ = stored_value(archived_at, "datetime", keeps_raw)
        row = [rid, 1 if is_archived else 0, archived_at, None]
        for name, kind, convert_cell in zip(names, kinds, converters):
            raw = props.get(name)
            value = None if raw is None else convert_cell(raw)  # (the hot path; stored_value only for the rest)
            if value is UNPARSED:
                value, unparsed = stored_value(raw, kind, keeps_raw)
                issues.append((table, rid, name, unparsed))
            row.append(value)
        if overflow:
            more = {}
            for name in overflow:
                more[name], unparsed = stored_value(props.get(name), columns.kinds[name])  # (JSON holds any text)
                if unparsed is not None:
                    issues.append((table, rid, name, unparsed))
            row.append(json.dumps(more, ensure_ascii=False, sort_keys=True))
        rows.append(row)
    if not rows:
        return 0
    conn.executemany(sql, rows)
    if overflow:  # a newly inserted object still holds its nulls: drop them, as the merge does
        conn.execute(f"UPDATE [{table}] SET {quote(OVERFLOW_COLUMN)} = {dialect.json_without_nulls(quote(OVERFLOW_COLUMN))} "
                     f"WHERE id IN ({','.join('?' * len(ids))})", ids)
    # A record re-read with good values clears its old issues for these properties.
    written = names + overflow
    conn.execute(f"DELETE FROM value_issues WHERE object_type = ? AND record_id IN ({','.join('?' * len(ids))})"
                 f" AND property IN {in_list(len(written))}", [table, *ids, *written])
    if issues:
        conn.executemany(VALUE_ISSUES_REPLACE, issues)
    return len(rows)


def stored_value(raw, kind: str, keeps_raw: bool = True) -> tuple[object, str | None]:
    """(what the column holds, the raw text for `value_issues` when it did not parse).

    `keeps_raw`: whether a typed column can hold the raw text (SQLite); where it cannot
    (PostgreSQL) the cell stays NULL and `value_issues` alone keeps the text."""
    value = convert(raw, kind)
    if value is not UNPARSED:
        return value, None
    if not isinstance(raw, str):
        raw = json.dumps(raw, ensure_ascii=False)
    if not keeps_raw and kind != "text":
        return None, raw
    # Kept raw, except where SQLite's REAL affinity would turn it into a number ("1e400"
    # becomes inf): then only value_issues keeps it.
    return (None if kind == "number" and _float_or_none(raw) is not None else raw), raw


def _as_hubspot_text(value, kind: str) -> str:
    """A stored value as HubSpot sent it: booleans as true/false, numbers without a needless `.0`."""
    if kind == "bool" and value in (0, 1):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _float_or_none(raw) -> float | None:
    try:
        return float(str(raw).strip())
    except ValueError:
        return None


def save_json(value) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)
