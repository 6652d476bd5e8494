"""The PostgreSQL store's connection: the same calls the code makes on SQLite.

The rest of the product calls `conn.execute(sql, params)` / `executemany` with SQLite's
placeholders (`?`, `:name`) and `[ident]` quoting. `PgConnection` translates each statement
once (cached by its text) and hands it to psycopg 3, so there is one code path for both
stores. Values come back in SQLite's shapes: instants as canonical ISO text, booleans as 0/1,
JSON as text. An integer parameter is sent untyped, so PostgreSQL reads it as whatever the
column is (a flag, a bigint, a double), just as SQLite's 0/1 flags work.

psycopg is an optional dependency (`pip install 'hubspot-metrics[postgres]'`): it is imported
only when a PostgreSQL URL is opened.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import urllib.parse
from functools import lru_cache

from hubspot_metrics.dialect import POSTGRES, quote
from hubspot_metrics.errors import StoreError

URL_PREFIXES = ("postgresql://", "postgres://")
MIGRATIONS_TABLE = "schema_migrations"
INSTALL_HINT = "pip install 'hubspot-metrics[postgres]'"
# Exit code for a server that cannot be reached (like an unreachable HubSpot); others are 2.
UNREACHABLE_EXIT = 3


def is_postgres_url(location) -> bool:
    return isinstance(location, str) and location.strip().lower().startswith(URL_PREFIXES)


def masked(url: str) -> str:
    """The URL as it may be shown: the password (in the authority or as a parameter) replaced by ***."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if userinfo.partition(":")[2]:  # (an empty password hides nothing)
            netloc = f"{userinfo.split(':', 1)[0]}:***@{host}"
    query = re.sub(r"(?i)(^|&)(password=)[^&]*", r"\1\2***", parts.query)
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _secrets(url: str) -> list[str]:
    """The password as the URL spells it and decoded, to scrub from any message."""
    parts = urllib.parse.urlsplit(url)
    found = [parts.password] if parts.password else []
    found += urllib.parse.parse_qs(parts.query).get("password", [])
    return [s for s in {*found, *(urllib.parse.unquote(s) for s in found)} if s]


# Every password this process connected with, so that an error raised far from its URL
# (a server lost mid-sync) is still shown without it.
_PASSWORDS: set[str] = set()


def scrub(text: str, url: str | None = None) -> str:
    for secret in sorted({*_PASSWORDS, *(_secrets(url) if url else [])}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def driver_failure(exc: BaseException) -> StoreError | None:
    """A PostgreSQL error that escaped a command, as one sentence; None when `exc` is not one."""
    psycopg = sys.modules.get("psycopg")
    if psycopg is None or not isinstance(exc, psycopg.Error):
        return None
    detail = scrub(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
    if isinstance(exc, psycopg.OperationalError):
        return StoreError(f"The connection to the PostgreSQL store was lost ({detail}); check the server and run "
                          "again: what was committed is kept.", exit_code=UNREACHABLE_EXIT)
    return StoreError(f"The PostgreSQL store failed ({detail}); fix that and run again: what was committed is kept.")


# --- translating SQLite-flavoured SQL ----------------------------------------------------------

# Strings and quoted names pass through untouched; `[name]` (a name starting with a letter,
# so an array subscript stays) becomes "name", `?` and `:name` become psycopg's placeholders,
# and a literal % is doubled because psycopg reads % as a placeholder.
_TOKEN = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|\[([A-Za-z_][^\]]*)\]|\?|(?<!:):([A-Za-z_]\w*)|::|%""")


@lru_cache(maxsize=2048)
def translate(sql: str) -> str:
    def one(match: re.Match) -> str:
        token = match.group(0)
        if match.group(1) is not None:
            return quote(match.group(1))
        if token == "?":
            return "%s"
        if match.group(2) is not None:
            return f"%({match.group(2)})s"
        if token == "%":
            return "%%"
        return token

    return _TOKEN.sub(one, sql)


def split_script(script: str) -> list[str]:
    """A script's statements (semicolons inside strings or comments do not split)."""
    statements, start = [], 0
    for match in re.finditer(r"'(?:[^']|'')*'|--[^\n]*|;", script):
        if match.group(0) == ";":
            statements.append(script[start:match.start()])
            start = match.end()
    statements.append(script[start:])
    return [s for s in (s.strip() for s in statements) if s and not all(
        line.strip().startswith("--") or not line.strip() for line in s.splitlines())]


# --- the connection ---------------------------------------------------------------------------

def _psycopg():
    try:
        import psycopg
    except ImportError:
        raise StoreError(f"A PostgreSQL store needs the PostgreSQL driver; install it with {INSTALL_HINT}.") from None
    return psycopg


def _register_types(conn) -> None:
    """Loaders and dumpers that give PostgreSQL values SQLite's Python shapes (see module doc)."""
    from psycopg.adapt import Dumper, Loader  # (connect() has found the driver)

    class InstantLoader(Loader):
        # With TimeZone UTC and DateStyle ISO the server writes 2024-01-17 19:55:04.281+00
        # (fraction trimmed, absent when zero); the store's form is 2024-01-17T19:55:04.281Z.
        def load(self, data) -> str:
            text = bytes(data).decode()
            head, fraction = text[:19], text[19:-3]
            return f"{head[:10]}T{head[11:]}.{(fraction[1:] + '000')[:3]}Z"

    class FlagLoader(Loader):
        def load(self, data) -> int:
            return 1 if bytes(data) == b"t" else 0

    class JsonTextLoader(Loader):
        def load(self, data) -> str:
            return bytes(data).decode()

    class UntypedIntDumper(Dumper):
        oid = 0  # unknown: the server takes the type of the column or expression

        def dump(self, obj) -> bytes:
            return str(int(obj)).encode()

    adapters = conn.adapters
    adapters.register_loader("timestamptz", InstantLoader)
    adapters.register_loader("bool", FlagLoader)
    adapters.register_loader("jsonb", JsonTextLoader)
    adapters.register_loader("json", JsonTextLoader)
    adapters.register_dumper(int, UntypedIntDumper)
    adapters.register_dumper(bool, UntypedIntDumper)


class PgConnection:
    """A psycopg connection in autocommit mode that takes the SQL the SQLite code writes."""

    dialect = POSTGRES

    def __init__(self, raw, url: str, schema: str):
        self.raw = raw
        self.url = url
        self.schema = schema
        self.read_only = False

    def execute(self, sql: str, params=()):
        cursor = self.raw.cursor()
        cursor.execute(translate(sql), _bindable(params))
        return cursor

    def executemany(self, sql: str, rows):
        cursor = self.raw.cursor()
        # psycopg sends the rows in pipeline mode: one round trip per batch, not per row.
        cursor.executemany(translate(sql), [_bindable(r) for r in rows])
        return cursor

    def executescript(self, script: str) -> None:
        for statement in split_script(script):
            self.execute(statement)

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != _psycopg().pq.TransactionStatus.IDLE

    def close(self) -> None:
        self.raw.close()


def _bindable(params):
    if params is None:
        return ()
    return params if isinstance(params, (dict, list, tuple)) else list(params)


class PgDatabase:
    """The store on PostgreSQL, in the shape of the sqlite_utils.Database the code uses."""

    dialect = POSTGRES

    def __init__(self, conn: PgConnection):
        self.conn = conn

    def execute(self, sql: str, params=()):
        return self.conn.execute(sql, params)

    def executescript(self, script: str) -> None:
        self.conn.executescript(script)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "PgDatabase":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def connect(url: str, schema: str) -> PgConnection:
    """Connect with the session the store relies on (UTC, ISO dates, our schema first)."""
    psycopg = _psycopg()
    _PASSWORDS.update(_secrets(url))
    if os.environ.get("PGPASSWORD"):  # (libpq reads it; no message of ours may show it either)
        _PASSWORDS.add(os.environ["PGPASSWORD"])
    try:
        raw = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise connection_error(exc, url) from None
    raw.execute("SET TimeZone = 'UTC'")
    raw.execute("SET DateStyle = 'ISO, YMD'")
    raw.execute(f"SET search_path = {quote(schema)}")
    _register_types(raw)
    return PgConnection(raw, url, schema)


def connection_error(exc, url: str) -> StoreError:
    """One sentence for a failed connection: exit 3 when the server cannot be reached, else 2."""
    detail = scrub(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__, url)
    where = masked(url)
    lowered = detail.lower()
    if any(s in lowered for s in ("password authentication failed", "no password supplied", "authentication failed")):
        return StoreError(f"PostgreSQL refused the login for {where} ({detail}); check the user and password "
                          "(in the URL, PGPASSWORD or ~/.pgpass).")
    if "does not exist" in lowered and "database" in lowered:
        return StoreError(f"PostgreSQL has no such database for {where} ({detail}); create it or fix the URL.")
    if "permission denied" in lowered:
        return StoreError(f"The PostgreSQL user of {where} may not connect ({detail}); grant it CONNECT on the database.")
    if "invalid" in lowered and ("uri" in lowered or "connection option" in lowered or "dsn" in lowered
                                 or "integer value" in lowered or "sslmode" in lowered):
        return StoreError(f"The PostgreSQL URL {where} is not valid ({detail}); fix --db, HUBSPOT_METRICS_DB or [store] path.")
    return StoreError(f"Cannot reach the PostgreSQL server of {where} ({detail}); check the host and port and that "
                      "the server is running.", exit_code=UNREACHABLE_EXIT)


def lock_key(schema: str) -> int:
    """The advisory-lock key of a schema: a stable signed 64-bit number from its name."""
    digest = hashlib.sha256(f"hubspot-metrics sync {schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def try_lock(conn: PgConnection) -> bool:
    """Take the schema's sync lock for this session; the server frees it when the session ends,
    however it ends (kill -9 included)."""
    return bool(conn.execute("SELECT pg_try_advisory_lock(?)", [lock_key(conn.schema)]).fetchone()[0])


def lock_held(conn: PgConnection) -> bool:
    """Whether some session holds the sync lock of this connection's schema (without taking it)."""
    key = lock_key(conn.schema) & 0xFFFFFFFFFFFFFFFF
    return conn.execute(
        "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database "
        "WHERE datname = current_database()) AND classid::bigint = ? AND objid::bigint = ? AND objsubid = 1",
        [key >> 32, key & 0xFFFFFFFF]).fetchone() is not None


# --- opening a store --------------------------------------------------------------------------

def open_database(url: str, schema: str, migrations, *, create: bool, readonly: bool) -> PgDatabase:
    """Open (and migrate) the store in `schema`; `migrations` is the store's one numbered list.

    A reader gets one REPEATABLE READ READ ONLY transaction for the life of the store, so
    `kpis`, `export` and `report` see one consistent state while a sync writes.
    """
    psycopg = _psycopg()
    conn = connect(url, schema)
    try:
        _check_schema(conn, url, schema, migrations.name, create=create and not readonly)
        db = PgDatabase(conn)
        if readonly:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            conn.read_only = True
        else:
            # Like SQLite's synchronous = NORMAL: a commit does not wait for its WAL flush. A
            # server crash can lose the last pages' commits, never half of one (each page
            # commits with its cursor), so the next sync reads them again.
            conn.execute("SET synchronous_commit = off")
            apply_migrations(db, migrations)
        return db
    except psycopg.errors.InsufficientPrivilege as exc:
        conn.close()
        raise StoreError(f"The PostgreSQL user of {masked(url)} lacks a privilege the store needs "
                         f"({scrub(str(exc).splitlines()[0], url)}); grant it CREATE on the database (or on schema "
                         f"{schema}) and USAGE on the schema.") from None
    except psycopg.Error as exc:
        conn.close()
        raise StoreError(f"PostgreSQL failed on the store {masked(url)}, schema {schema} "
                         f"({scrub(str(exc).splitlines()[0], url)}).") from None
    except BaseException:
        conn.close()
        raise


def second_reader(conn: PgConnection):
    """For a reader (`conn` in its snapshot transaction): a function opening another session on
    the very same snapshot, so that two server processes can share one command's reads. The
    snapshot is exported here, in the caller's thread; the session is opened where it is used."""
    snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
    if not re.fullmatch(r"[0-9A-Fa-f-]+", snapshot):  # (SET TRANSACTION SNAPSHOT takes no parameter)
        raise StoreError(f"PostgreSQL exported an unexpected snapshot id {snapshot!r}.")

    def open_reader() -> PgConnection:
        other = connect(conn.url, conn.schema)
        try:
            other.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            other.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
        except BaseException:
            other.close()
            raise
        other.read_only = True
        return other

    return open_reader


def _check_schema(conn: PgConnection, url: str, schema: str, migration_set: str, *, create: bool) -> None:
    """One store per schema: create it when missing, refuse one that holds somebody else's tables."""
    exists = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = ?", [schema]).fetchone()
    if not exists:
        if not create:
            raise StoreError(f"No store in schema {schema} of {masked(url)}; run `hubspot-metrics sync` first "
                             "(or set [store] schema).")
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
        return
    tables = {row[0] for row in conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = ?", [schema])}
    ours = MIGRATIONS_TABLE in tables and conn.execute(
        f"SELECT 1 FROM {quote(schema)}.{MIGRATIONS_TABLE} WHERE migration_set = ? LIMIT 1",
        [migration_set]).fetchone()
    if tables - {MIGRATIONS_TABLE} and not ours:
        raise StoreError(f"Schema {schema} of {masked(url)} holds tables that are not a hubspot-metrics store, and "
                         "it is left as it is; choose another schema with [store] schema.")
    if not ours and not create:
        raise StoreError(f"No store in schema {schema} of {masked(url)}; run `hubspot-metrics sync` first "
                         "(or set [store] schema).")


DEMO_MARK = "hubspot-metrics demo store"


def reset_demo_schema(url: str, schema: str) -> None:
    """Give the demo an empty schema: drop one a previous demo made (it carries DEMO_MARK),
    refuse any other that holds tables."""
    conn = connect(url, schema)
    try:
        row = conn.execute("SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = ?",
                           [schema]).fetchone()
        if row is not None and row[0] == DEMO_MARK:
            conn.execute(f"DROP SCHEMA {quote(schema)} CASCADE")
        elif row is not None and conn.execute("SELECT 1 FROM information_schema.tables WHERE table_schema = ? LIMIT 1",
                                              [schema]).fetchone():
            raise StoreError(f"Schema {schema} of {masked(url)} holds tables the demo did not make, and it is left "
                             "as it is; give the demo another schema with --schema.")
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
        conn.execute(f"COMMENT ON SCHEMA {quote(schema)} IS '{DEMO_MARK}'")
    except _psycopg().errors.InsufficientPrivilege as exc:
        raise StoreError(f"The PostgreSQL user of {masked(url)} lacks a privilege the demo needs "
                         f"({scrub(str(exc).splitlines()[0], url)}); grant it CREATE on the database.") from None
    finally:
        conn.close()


def apply_migrations(db: PgDatabase, migrations) -> None:
    """Run the numbered migrations not yet applied, each in its own transaction with its record.

    The list is sqlite-utils' `Migrations` object the SQLite store applies itself; here its
    entries are run the same way, their names recorded in MIGRATIONS_TABLE.
    """
    conn = db.conn
    conn.execute(f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (migration_set text NOT NULL, name text NOT NULL, "
                 "applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (migration_set, name))")
    applied = {row[0] for row in conn.execute(f"SELECT name FROM {MIGRATIONS_TABLE} WHERE migration_set = ?",
                                              [migrations.name])}
    for migration in migrations._migrations:  # (sqlite-utils keeps the list there, in order)
        if migration.name in applied:
            continue
        conn.execute("BEGIN")
        try:
            # Two first syncs racing on one schema: the second waits, then finds it applied.
            conn.execute("SELECT pg_advisory_xact_lock(?)", [lock_key(conn.schema) ^ 1])
            if not conn.execute(f"SELECT 1 FROM {MIGRATIONS_TABLE} WHERE migration_set = ? AND name = ?",
                                [migrations.name, migration.name]).fetchone():
                migration.fn(db)
                conn.execute(f"INSERT INTO {MIGRATIONS_TABLE} (migration_set, name) VALUES (?, ?)",
                             [migrations.name, migration.name])
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
