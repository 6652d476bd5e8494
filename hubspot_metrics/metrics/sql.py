"""The store as the metrics see it: which columns exist, which records count, and SQL pieces
that read values as docs/metrics.md, "Reading HubSpot's values", says.

Values follow the store contract: an instant is valid only in the canonical form
`2024-01-17T19:55:04.281Z` (it matches `TIMESTAMP_GLOB`; anything else in a datetime column
is a raw value the sync could not parse), a number only when SQLite holds it as a number, a
boolean only as 0/1. Canonical instants compare correctly as text, so period tests are plain
text comparisons against the period's bounds in UTC.

Speed: the KPI queries are single aggregate scans with `FILTER (WHERE ...)` clauses. SQLite
compiles those conditions like a WHERE clause, with short-circuit jumps, so every condition
here puts the cheap range comparison first and the validity check last. That check is a
`GLOB` only where the store cannot say which raw values a column holds: with the sync's
raw-instant index (indexes.py) it is a comparison with those few values, or none at all.

PostgreSQL runs the same queries; `SqlFlavour` holds the few pieces written differently there
(typed columns, so a value that did not parse is NULL and only `value_issues` knows it;
booleans; JSON lists; epoch milliseconds). Each piece's SQLite text is the one the queries
always had, so SQLite's plans do not change.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field, replace

from hubspot_metrics.dialect import dialect_of
from hubspot_metrics.indexes import excluded_where, raw_instant_index, raw_instant_where
from hubspot_metrics.objects import OBJECT_NAMES
from hubspot_metrics.store import RECORD_COLUMNS as META_COLUMNS
from hubspot_metrics.values import TIMESTAMP_GLOB

OBJECT_TABLES = OBJECT_NAMES
# deal -> customer association table and its columns, per customer unit
CUSTOMER_ASSOCIATIONS = {"contacts": ("associations_deals_contacts", "deal_id", "contact_id"),
                         "companies": ("associations_deals_companies", "deal_id", "company_id")}


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def connection(db) -> sqlite3.Connection:
    """A sqlite_utils.Database or a sqlite3.Connection."""
    return db if isinstance(db, sqlite3.Connection) else db.conn


def ms(instant_sql: str) -> str:
    """Integer epoch milliseconds of a canonical instant, so that durations are exact integers.
    SQLite keeps julian days as integer milliseconds internally; the double it returns is
    within microseconds of that, so rounding recovers it exactly (and beats strftime)."""
    return f"CAST(round((julianday({instant_sql}) - 2440587.5) * 86400000.0) AS INTEGER)"


@dataclass(frozen=True)
class SqlFlavour:
    """The pieces of KPI SQL that differ between SQLite and PostgreSQL (dialect.py names the store).

    On SQLite a typed column may hold the raw text of a value that did not parse, so validity is
    a pattern or type test on the cell. On PostgreSQL such a cell is NULL and the raw text lives
    only in `value_issues`, so "valid" is "not NULL" and "unparsable" is a lookup there.
    """

    name: str
    true: str
    false: str
    no_flatten: str      # keeps an inner query from being merged into the aggregates above it
    no_index: str        # a prefix that keeps SQLite off an index (nothing on PostgreSQL)
    join_in_order: str   # a join that keeps the written order
    separator: str       # char(31) between a pipeline and a stage id

    @property
    def postgres(self) -> bool:
        return self.name == "postgresql"

    def ms(self, instant_sql: str) -> str:
        if not self.postgres:
            return ms(instant_sql)
        if instant_sql == "NULL":
            return "NULL"
        return f"CAST(round(extract(epoch FROM {instant_sql}) * 1000) AS bigint)"

    def ms_between(self, later: str, earlier: str) -> str:
        """The integer milliseconds from instant `earlier` to `later`. SQLite subtracts the two
        julian days first: one rounding instead of two, still exact (both doubles are within
        0.05 ms of whole milliseconds, and subtracting them is exact)."""
        if self.postgres:
            return f"{self.ms(later)} - {self.ms(earlier)}"
        return f"CAST(round((julianday({later}) - julianday({earlier})) * 86400000.0) AS INTEGER)"

    def valid_instant(self, c: str, raw: tuple[str, ...] | None = None) -> str:
        """`c` holds an instant; `raw` as for the module's valid_instant (SQLite only)."""
        return f"{c} IS NOT NULL" if self.postgres else valid_instant(c, raw)

    def number(self, c: str | None) -> str:
        """The column's number, NULL when empty or unparsable (raw text)."""
        if c is None or not self.postgres:
            return number(c)
        return c

    def is_number(self, c: str) -> str:
        """The column holds a number (not empty, not raw text): `number(c)` is not NULL."""
        return f"{c} IS NOT NULL" if self.postgres else f"{c} < ''"

    def is_true(self, c: str) -> str:
        return f"{c} IS TRUE" if self.postgres else f"{c} IS 1"

    def flag_unusable(self, c: str) -> str:
        """Empty, or a raw value that is not a boolean."""
        return f"{c} IS NULL" if self.postgres else flag(c)[1]

    def not_archived(self, column: str) -> str:
        return f"NOT coalesce({column}, false)" if self.postgres else f"coalesce({column}, 0) = 0"

    def archived(self, column: str) -> str:
        return column if self.postgres else f"{column} <> 0"

    def unparsable(self, value: str, record_id: str, table: str, prop: str, kind: str,
                   raw: tuple[str, ...] | None = None) -> str:
        """The record holds a value of `prop` that did not parse as `kind` (instant, number, flag).
        `value`: the SQL of the cell, `record_id`: of the record's id; `raw`: an instant
        column's raw values when the store knows them (StoreView.raw_instants, SQLite only)."""
        if self.postgres:
            return (f"{record_id} IN (SELECT record_id FROM value_issues WHERE object_type = {sql_text(table)} "
                    f"AND property = {sql_text(prop)})")
        if kind == "number":
            return bad_number(value)
        if kind == "flag":
            return bad_flag(value)
        return raw_instant(value, raw)

    def in_json_list(self, expression: str, parameter: str, negate: bool = False) -> str:
        """`expression` is (`negate`: is not) one of the texts of the JSON list in :parameter."""
        op = "NOT IN" if negate else "IN"
        if self.postgres:
            return f"{expression} {op} (SELECT jsonb_array_elements_text(CAST(:{parameter} AS jsonb)))"
        return f"{expression} {op} (SELECT value FROM json_each(:{parameter}))"

    def not_among(self, alias: str, parameter: str) -> str:
        """The record `alias` is none of those whose keys (StoreView.record_keys) are the JSON
        list in :parameter.

        On SQLite the keys are rowids and the test is an IN inside a CASE: NOT IN on text ids
        searched the list by text and first checked it for a NULL, for every row (a third of a
        1M-contact scan); the CASE form skips that check, which no list of keys needs."""
        if self.postgres:
            return self.in_json_list(f"{alias}.id", parameter, negate=True)
        return f"(CASE WHEN {alias}.rowid IN (SELECT value FROM json_each(:{parameter})) THEN 0 ELSE 1 END)"

    def json_list(self, expression: str, condition: str) -> str:
        """A JSON array (text) of `expression` over the rows meeting `condition`; [] for none."""
        if self.postgres:
            return f"coalesce(json_agg({expression}) FILTER (WHERE {condition}), '[]')"
        return f"json_group_array({expression}) FILTER (WHERE {condition})"

    def json_pair(self, a: str, b: str) -> str:
        return f"json_build_array({a}, {b})" if self.postgres else f"json_array({a}, {b})"

    def as_text(self, json_sql: str) -> str:
        """A JSON value as plain text: a JSON list of it holds strings, not nested values."""
        return f"CAST({json_sql} AS text)" if self.postgres else f"({json_sql} || '')"

    def instant_text(self, instant_sql: str) -> str:
        """An instant as the canonical text Python compares (SQLite already stores that text)."""
        if not self.postgres:
            return instant_sql
        return f"to_char({instant_sql} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

    def earliest(self, a: str, b: str) -> str:
        return f"least({a}, {b})" if self.postgres else f"min({a}, {b})"

    def no_instant(self) -> str:
        """A stand-in instant meaning "none" that is not NULL (SQLite: '', before every instant)."""
        return "CAST('-infinity' AS timestamptz)" if self.postgres else "''"

    def any_of(self, condition: str) -> str:
        """1 when `condition` holds for some row of the group, else 0."""
        return f"bool_or({condition})" if self.postgres else f"max({condition})"

    def duration(self, later: str, earlier: str, unit_ms: int) -> str:
        """The time from instant `earlier` to instant `later` in units of `unit_ms` milliseconds,
        as a float (PostgreSQL would divide its bigint milliseconds as an exact numeric)."""
        if self.postgres:
            return f"CAST({self.ms_between(later, earlier)} AS double precision) / {unit_ms}"
        return f"{self.ms_between(later, earlier)} / {unit_ms}.0"

    def no_value(self, column: str, record_id: str, table: str, prop: str, kind: str) -> str:
        """HubSpot sent no value of `prop` (a raw one that did not parse is a value: on SQLite
        it fills the cell, on PostgreSQL value_issues)."""
        if not self.postgres:
            return f"{column} IS NULL"
        return f"({column} IS NULL AND NOT {self.unparsable(column, record_id, table, prop, kind)})"

    def instant_as_stored(self, column: str, record_id: str, table: str, prop: str) -> str:
        """An instant column's cell as the sync stored what HubSpot sent: the canonical text, else
        the raw value that did not parse (on PostgreSQL it is kept in value_issues, not the cell)."""
        if not self.postgres or column == "NULL":
            return column
        return (f"coalesce({self.instant_text(column)}, (SELECT raw_value FROM value_issues "
                f"WHERE object_type = {sql_text(table)} AND record_id = {record_id} AND property = {sql_text(prop)}))")

    def total(self, expression: str, condition: str) -> str:
        """The sum of `expression` over the group's rows meeting `condition`, as a float: 0.0 for
        none (SQLite's total())."""
        if self.postgres:
            return f"coalesce(sum({expression}) FILTER (WHERE {condition}), 0.0)"
        return f"total({expression}) FILTER (WHERE {condition})"

    def latest(self, a: str, condition: str, b: str) -> str:
        """The later of instant `a` (maybe NULL) and, where `condition` holds, instant `b`; NULL
        when neither is there ('' on SQLite, whose two-value max() is NULL as soon as one is)."""
        if self.postgres:
            return f"greatest({a}, CASE WHEN {condition} THEN {b} END)"
        return f"max(coalesce({a}, ''), CASE WHEN {condition} THEN {b} ELSE '' END)"

    def bit_union(self, cell: str, offset: int, width: int) -> str:
        """An aggregate: bit (cell - offset) set for each of the rows' `cell` values in
        [offset, offset + width), 0 when none (width <= 62, the bits of a signed 64-bit integer).
        SQLite has no bitwise-or aggregate; summing the distinct powers of two is the same."""
        if self.postgres:
            bit = f"(CAST(1 AS bigint) << ({cell} - {offset}))"
            return f"coalesce(bit_or(CASE WHEN {cell} >= {offset} AND {cell} < {offset + width} THEN {bit} END), 0)"
        bit = f"(1 << ({cell} - {offset}))"
        return f"coalesce(sum(DISTINCT CASE WHEN {cell} >= {offset} AND {cell} < {offset + width} THEN {bit} END), 0)"


SQLITE_SQL = SqlFlavour(name="sqlite", true="1", false="0", no_flatten="LIMIT -1", no_index="+",
                        join_in_order="CROSS JOIN", separator="char(31)")
POSTGRES_SQL = SqlFlavour(name="postgresql", true="TRUE", false="FALSE", no_flatten="OFFSET 0", no_index="",
                          join_in_order="JOIN", separator="chr(31)")


def flavour_of(db) -> SqlFlavour:
    return POSTGRES_SQL if dialect_of(db).name == "postgresql" else SQLITE_SQL


def sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


DAY_SUFFIX = "__day"  # a :parameter's twin for date-only columns (see Instant)
MAX_LISTED_RAW = 64  # beyond this many distinct raw values, matching the pattern is simpler


def valid_instant(c: str, raw: tuple[str, ...] | None = None) -> str:
    """`c` holds an instant (0 or 1 when c is NULL or raw). `raw`: every non-instant value the
    column holds, when known (StoreView.raw_instants); None: unknown, so the pattern decides."""
    if raw is None:
        return f"{c} GLOB '{TIMESTAMP_GLOB}'"
    if not raw:
        return f"({c} IS NOT NULL)"
    if len(raw) <= 3:  # a few comparisons beat building a lookup table
        return "(" + " AND ".join([f"{c} IS NOT NULL", *(f"{c} <> {sql_text(v)}" for v in raw)]) + ")"
    return f"({c} IS NOT NULL AND {c} NOT IN ({', '.join(map(sql_text, raw))}))"


def raw_instant(c: str, raw: tuple[str, ...] | None = None) -> str:
    """`c` holds a value that is not an instant (the negation of valid_instant for a value)."""
    if raw is None:
        return f"({c} IS NOT NULL AND NOT {c} GLOB '{TIMESTAMP_GLOB}')"
    if not raw:
        return "0"
    return f"({c} IN ({', '.join(map(sql_text, raw))}))"


@dataclass(frozen=True)
class Instant:
    """A datetime property, or a property with fallbacks (legacy, then its `hs_v2_` twin):
    the value is the first of `columns` that holds a valid instant (its legacy-then-v2 fallback).

    A HubSpot `date` property (a churn date) is stored as midnight UTC of its date, but means
    midnight in the configured zone. Comparing it with an instant t is comparing its date with
    the first local date whose midnight is at or after t, which the caller passes as the
    parameter `:name__day` beside `:name` (Queries does so for every instant parameter)."""

    columns: tuple[str, ...]  # SQL column references; empty when the store lacks the property
    day_columns: frozenset = frozenset()  # those holding date-only values
    raw_values: tuple = ()  # (column, its raw values) where the store knows them (valid_instant)
    sql: SqlFlavour = SQLITE_SQL

    def _at(self, c: str, x: str) -> str:
        return x + DAY_SUFFIX if c in self.day_columns and x.startswith(":") else x

    # Every condition is 0 or 1, never NULL (an `IS NOT NULL` guard comes first), so that
    # conditions can be negated and combined safely.

    def _raw(self, c: str) -> tuple[str, ...] | None:
        return dict(self.raw_values).get(c)

    def _valid(self, c: str) -> str:
        return self.sql.valid_instant(c, self._raw(c))

    def _unusable(self, c: str) -> str:
        return f"({c} IS NULL)" if self.sql.postgres else f"({c} IS NULL OR NOT {self._valid(c)})"

    def _first(self, test) -> str:
        # value in X  <=>  c1 in X, or (c2 in X and c1 unusable): the twin's cheap range test
        # comes before the GLOB that tells whether c1 is usable.
        if not self.columns:
            return self.sql.false
        head, *rest = self.columns
        if not rest:
            return test(head)
        return f"({test(head)} OR ({replace(self, columns=tuple(rest))._first(test)} AND {self._unusable(head)}))"

    def between(self, lo: str, hi: str) -> str:
        """lo <= value < hi (SQL expressions or :parameters)."""
        return self._first(lambda c: f"({c} IS NOT NULL AND {c} >= {self._at(c, lo)} AND {c} < {self._at(c, hi)} "
                                     f"AND {self._valid(c)})")

    def before(self, x: str) -> str:
        return self._first(lambda c: f"({c} IS NOT NULL AND {c} < {self._at(c, x)} AND {self._valid(c)})")

    def at_or_after(self, x: str) -> str:
        return self._first(lambda c: f"({c} IS NOT NULL AND {c} >= {self._at(c, x)} AND {self._valid(c)})")

    def missing(self) -> str:
        """No valid value in any column (empty or unparsable)."""
        if not self.columns:
            return self.sql.true
        return "(" + " AND ".join(self._unusable(c) for c in self.columns) + ")"

    def value(self) -> str:
        if not self.columns:
            return "NULL"
        return "(CASE " + " ".join(f"WHEN {self._valid(c)} THEN {c}" for c in self.columns) + " END)"

    def position(self, lo: str, hi: str) -> str:
        """-1 before lo, 0 in [lo, hi), 1 from hi on; NULL without a valid value. One GLOB per value."""
        if not self.columns:
            return "NULL"
        assert len(self.columns) == 1, "positions are for single-column instants"
        c = self.columns[0]
        lo, hi = self._at(c, lo), self._at(c, hi)
        return f"(CASE WHEN {self._valid(c)} THEN (CASE WHEN {c} < {lo} THEN -1 WHEN {c} < {hi} THEN 0 ELSE 1 END) END)"

    @property
    def date_only(self) -> bool:
        """Every column holds date-only values: its value() compares with `:name__day` twins."""
        return bool(self.columns) and set(self.columns) <= self.day_columns

    def unparsable(self) -> dict[str, str]:
        """Per column: a condition true when it holds a value that is not an instant."""
        return {c: raw_instant(c, self._raw(c)) for c in self.columns}


# A typed column keeps the raw text of a value that did not parse. SQLite orders every number
# before every text (and blob), so one comparison with '' tells a number from such a value: it
# costs a fraction of a typeof() call and an IN list, on every row of the KPI scans.

def number(c: str | None) -> str:
    """The column's number, NULL when empty or unparsable (raw text)."""
    return "NULL" if c is None else f"(CASE WHEN {c} < '' THEN {c} END)"


def bad_number(c: str | None) -> str:
    return "0" if c is None else f"({c} IS NOT NULL AND {c} >= '')"


def flag(c: str | None) -> tuple[str, str]:
    """(is true, is empty or unparsable) for a boolean column stored as 0/1."""
    if c is None:
        return "0", "1"
    return f"({c} = 1)", f"({c} IS NULL OR ({c} <> 0 AND {c} <> 1))"


def bad_flag(c: str | None) -> str:
    return "0" if c is None else f"({c} IS NOT NULL AND {c} <> 0 AND {c} <> 1)"


@dataclass
class Stage:
    pipeline_id: str
    id: str
    is_closed: bool
    probability: float | None


@dataclass
class StoreView:
    """Schema facts and record exclusion for one connection."""

    conn: sqlite3.Connection
    tables: set[str] = field(default_factory=set)
    _columns: dict[str, dict[str, str]] = field(default_factory=dict)
    _date_only: set[tuple[str, str]] = field(default_factory=set)  # (table, property) of HubSpot type `date`
    _raw_instants: dict[tuple[str, str], tuple[str, ...] | None] = field(default_factory=dict)
    sql: SqlFlavour = SQLITE_SQL

    @classmethod
    def open(cls, db) -> "StoreView":
        conn = connection(db)
        dialect = dialect_of(conn)
        tables = dialect.table_names(conn)
        view = cls(conn, tables, sql=flavour_of(conn))
        for table in OBJECT_TABLES:
            if table in tables:
                view._columns[table] = {name: name for name in dialect.column_names(conn, table)}
        if "properties" in tables:
            # A property whose name clashed with another column lives in `name__2` (store.py).
            for table, name, column, kind in conn.execute(
                    "SELECT object_type, name, column_name, type FROM properties"):
                if table in view._columns and column in view._columns[table] and name not in META_COLUMNS:
                    view._columns[table][name] = column
                    if kind == "date":
                        view._date_only.add((table, name))
        return view

    def has(self, table: str) -> bool:
        return table in self._columns

    def column(self, table: str, prop: str, alias: str | None = None) -> str | None:
        """The SQL reference of a property's column, or None when the store has no such column."""
        name = self._columns.get(table, {}).get(prop)
        if name is None:
            return None
        return f"{alias}.{quote(name)}" if alias else quote(name)

    def instant(self, table: str, *props: str, alias: str | None = None) -> Instant:
        present = [(p, c) for p, c in ((p, self.column(table, p, alias)) for p in props) if c]
        raw = ((c, self.raw_instants(table, p)) for p, c in present)
        return Instant(tuple(c for _, c in present),
                       frozenset(c for p, c in present if (table, p) in self._date_only),
                       tuple((c, values) for c, values in raw if values is not None), self.sql)

    def raw_instants(self, table: str, prop: str) -> tuple[str, ...] | None:
        """Every value of the property's column that is not an instant, read from the sync's
        raw-instant index; None when the store has no such index or they are too many to list
        (then the queries match the pattern)."""
        key = (table, prop)
        if key not in self._raw_instants:
            self._raw_instants[key] = self._read_raw_instants(table, prop)
        return self._raw_instants[key]

    def _read_raw_instants(self, table: str, prop: str) -> tuple[str, ...] | None:
        name = self._columns.get(table, {}).get(prop)
        if name is None or self.sql.postgres:  # (a typed PostgreSQL column holds no raw values)
            return None
        index = raw_instant_index(table, name)
        if not self.scalar("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = ? AND tbl_name = ?",
                           [index, table]):
            return None
        try:
            rows = self.conn.execute(f"SELECT DISTINCT {quote(name)} FROM {quote(table)} INDEXED BY {quote(index)} "
                                     f"WHERE {raw_instant_where(name)} LIMIT {MAX_LISTED_RAW + 1}").fetchall()
        except sqlite3.OperationalError:  # an index of that name that does not fit (made by hand?)
            return None
        values = [r[0] for r in rows]
        # Only short text can be listed: a number would compare unequal to every listed text,
        # and a NUL character cannot stand in the SQL text.
        if len(values) > MAX_LISTED_RAW or not all(isinstance(v, str) and len(v) <= 200 and "\x00" not in v
                                                    for v in values):
            return None
        return tuple(sorted(values))

    def scalar(self, sql: str, params=()):
        row = self.conn.execute(sql, params).fetchone()
        return row[0] if row else None

    # --- exclusion: archived, merged away, or named in another record's hs_merged_object_ids

    def status_terms(self, table: str, alias: str | None = None) -> list[str]:
        prefix = f"{alias}." if alias else ""
        columns = self._columns.get(table, {})
        terms = []
        if "archived" in columns:
            terms.append(self.sql.not_archived(f"{prefix}archived"))
        if "merged_into" in columns:
            terms.append(f"{prefix}merged_into IS NULL")
        return terms

    def merged_ids(self, table: str) -> list[str]:
        """Ids named in another record's hs_merged_object_ids (same object type only) that are not
        already marked archived or merged; the sync marks most of them."""
        column = self.column(table, "hs_merged_object_ids")
        if column is None:
            return []
        named: set[str] = set()
        for owner_id, value in self.conn.execute(
                f"SELECT id, {column} FROM {quote(table)} WHERE {column} IS NOT NULL"):
            for part in str(value).split(";"):
                part = part.strip()
                if part.endswith(".0") and part[:-2].isdigit():  # an id that went through a number
                    part = part[:-2]
                if part and part != str(owner_id):
                    named.add(part)
        if not named:
            return []
        live = " AND ".join(self.status_terms(table)) or self.sql.true
        rows = self.conn.execute(f"SELECT id FROM {quote(table)} WHERE {live} AND {self.sql.in_json_list('id', 'named')}",
                                 {"named": json.dumps(sorted(named))}).fetchall()
        return sorted(str(r[0]) for r in rows)

    def record_keys(self, table: str, ids: list[str]) -> list:
        """The keys SqlFlavour.not_among compares for the records `ids`: rowids on SQLite (which
        the store never changes: records are upserted, never deleted), the ids on PostgreSQL."""
        if self.sql.postgres or not ids:
            return list(ids)
        rows = self.conn.execute(f"SELECT rowid FROM {quote(table)} WHERE {self.sql.in_json_list('id', 'ids')}",
                                 {"ids": json.dumps(ids)}).fetchall()
        return sorted(r[0] for r in rows)

    def not_live_keys(self, table: str, named_ids: list[str]) -> list[int]:
        """SQLite: the rowids of every record `live` leaves out of `table`: archived, merged
        away, or among `named_ids` (`merged_ids`). The first two come from the partial index of
        excluded records."""
        keys = set(self.record_keys(table, named_ids))
        keys.update(r[0] for r in self.conn.execute(
            f"SELECT rowid FROM {quote(table)} WHERE {excluded_where(dialect_of(self.conn))}"))
        return sorted(keys)

    def home_currency(self) -> str | None:
        if "account" not in self.tables:
            return None
        value = self.scalar("SELECT [companyCurrency] FROM account WHERE [companyCurrency] IS NOT NULL LIMIT 1")
        return str(value).strip().upper() if value not in (None, "") else None

    def stages(self, object_type: str) -> list[Stage]:
        if "pipeline_stages" not in self.tables:
            return []
        out = []
        for pipeline_id, stage_id, is_closed, probability, metadata in self.conn.execute(
                "SELECT pipeline_id, id, is_closed, probability, metadata FROM pipeline_stages WHERE object_type = ?",
                [object_type]):
            meta = _json_object(metadata)
            if is_closed is None and "isClosed" in meta:  # parsed columns first; the raw metadata as a fallback
                is_closed = str(meta["isClosed"]).strip().lower() == "true"
            if probability is None and meta.get("probability") not in (None, ""):
                try:
                    probability = float(str(meta["probability"]).strip())
                except ValueError:
                    probability = None
            out.append(Stage(str(pipeline_id), str(stage_id), bool(is_closed), probability))
        return out

    def portal_timezone(self) -> str | None:
        """The account's `timeZone` as the sync stored it (None before the first sync)."""
        if "account" not in self.tables:
            return None
        value = self.scalar("SELECT [timeZone] FROM account WHERE [timeZone] IS NOT NULL AND [timeZone] <> '' LIMIT 1")
        return str(value).strip() if value else None

    def complete_to(self) -> str | None:
        """The start of the last completed sync: the instant up to which the store is known
        complete, and so the `now` of every KPI (docs/metrics.md, "Open periods")."""
        if "sync_runs" not in self.tables:
            return None
        return self.scalar("SELECT max(started_at) FROM sync_runs WHERE status = 'ok'")

    def was_synced(self) -> bool:
        if "sync_runs" not in self.tables:
            return False
        return self.scalar("SELECT count(*) FROM sync_runs WHERE status IN ('ok', 'partial')") > 0


def _json_object(text) -> dict:
    try:
        value = json.loads(text) if text else {}
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
