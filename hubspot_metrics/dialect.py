"""The few real differences between the two stores, SQLite and PostgreSQL, in one place.

Everything else is one code path: the code writes SQLite-flavoured SQL (`?` and `:name`
placeholders, `[ident]` quoting) and the PostgreSQL connection (`postgres.py`) translates it
once per statement. What cannot be translated lives here: column types, the catalogue
queries ("which tables, which columns"), JSON merging and the SQLite-only index clean-up.

How code below the CLI asks which store it runs on:

    from hubspot_metrics.dialect import dialect_of
    d = dialect_of(db)          # db: a store from open_store, its .conn, or a sqlite3.Connection
    if d.name == "postgresql": ...   # or better, use d's attributes: d.instant, d.flag, ...

Reads come back in the same Python shapes on both: instants as canonical ISO text
(`2024-01-17T19:55:04.281Z`), booleans as 0/1, JSON columns as text.

What SQL written for SQLite must mind to run on PostgreSQL as well:
- flags (`archived`, boolean properties, `is_closed`, `partial`) are `boolean` there: write
  `NOT archived` / `archived`, not `archived = 0` / `coalesce(archived, 0)`; the excluded-records
  condition is `indexes.excluded_where(dialect)`;
- instants are `timestamptz`: every stored value is a valid instant (a raw one is NULL and in
  `value_issues`), and an ISO text parameter compares with them as an instant;
- JSON functions differ (`json_each`, `json_group_array`, `json_patch`), as do `GLOB`,
  `julianday`/`strftime`, and an empty `IN ()` (use `in_list`);
- an integer parameter is sent untyped (it takes the type of what it meets); a text one too;
- a PostgreSQL store's connection carries `.url` and `.schema` (`store.sync_running(url, schema)`
  tells whether a sync holds it); there is no file, so `PRAGMA database_list` has no answer.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Dialect:
    name: str                 # "sqlite" or "postgresql"
    title: str                # as people write it
    # Column types, by what the column holds.
    text: str
    integer: str              # 64-bit: epoch milliseconds do not fit in 32 bits
    number: str
    flag: str                 # a yes/no column
    instant: str              # a moment in time (read back as canonical ISO text on both)
    json: str
    false: str                # the literal for a flag's default
    run_id_key: str           # an integer key the database numbers itself
    # How many columns a table may have (SQLite 2,000; PostgreSQL 1,600).
    max_columns: int
    # SQLite's typed columns accept any text, so a value that did not parse stays in its
    # cell; PostgreSQL's refuse it, so there the cell is NULL and only `value_issues` keeps it.
    keeps_raw_in_typed_columns: bool
    begin_write: str          # opens a page's write transaction

    def column_type(self, kind: str) -> str:
        """The type of a property column of store kind `kind` (values.store_kind)."""
        return {"number": self.number, "datetime": self.instant, "bool": self.flag}.get(kind, self.text)

    def table_names(self, conn) -> set[str]:
        if self.name == "sqlite":
            sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
        else:
            sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        return {row[0] for row in conn.execute(sql)}

    def column_names(self, conn, table: str) -> list[str]:
        """The columns of `table` in their order; [] when there is no such table."""
        if self.name == "sqlite":
            return [row[1] for row in conn.execute(f"PRAGMA table_info({quote(table)})")]
        return [row[0] for row in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = ? ORDER BY ordinal_position", [table])]

    def index_exists(self, conn, name: str) -> bool:
        if self.name == "sqlite":
            sql = "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?"
        else:
            sql = "SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() AND indexname = ?"
        return conn.execute(sql, [name]).fetchone() is not None

    def drop_indexes_on(self, conn, table: str, column: str) -> None:
        """Before a column is dropped: SQLite refuses while an index uses it (PostgreSQL drops those itself)."""
        if self.name != "sqlite":
            return
        for index, sql in conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND "
                                       "tbl_name = ? AND sql IS NOT NULL", [table]).fetchall():
            if column.lower() in sql.lower():
                conn.execute(f"DROP INDEX {quote(index)}")

    def json_merge(self, stored: str, incoming: str) -> str:
        """SQL merging JSON object `incoming` into `stored` (a null in `incoming` removes the key)."""
        if self.name == "sqlite":
            return f"json_patch(COALESCE({stored}, '{{}}'), {incoming})"
        return f"jsonb_strip_nulls(COALESCE({stored}, '{{}}'::jsonb) || {incoming})"

    def json_without_nulls(self, expression: str) -> str:
        if self.name == "sqlite":
            return f"json_patch('{{}}', {expression})"
        return f"jsonb_strip_nulls({expression})"


SQLITE = Dialect(
    name="sqlite", title="SQLite", text="TEXT", integer="INTEGER", number="REAL", flag="INTEGER", instant="TEXT", json="TEXT",
    false="0", run_id_key="INTEGER PRIMARY KEY AUTOINCREMENT", max_columns=2000, keeps_raw_in_typed_columns=True,
    begin_write="BEGIN IMMEDIATE")

POSTGRES = Dialect(
    name="postgresql", title="PostgreSQL", text="text", integer="bigint", number="double precision", flag="boolean",
    instant="timestamptz", json="jsonb", false="false", run_id_key="bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
    max_columns=1600, keeps_raw_in_typed_columns=False, begin_write="BEGIN")


def dialect_of(db) -> Dialect:
    """The dialect of a store, its connection, or a bare sqlite3.Connection (SQLite)."""
    found = getattr(db, "dialect", None) or getattr(getattr(db, "conn", None), "dialect", None)
    return found or SQLITE


def in_list(n: int) -> str:
    """`IN` / `NOT IN` operand for n placeholders; also right for none, which PostgreSQL does not
    accept as `()` (the empty subquery matches nothing)."""
    return f"({', '.join('?' * n)})" if n else "(SELECT NULL WHERE 1 = 0)"


def quote(identifier: str) -> str:
    """An identifier quoted the standard way, which both databases read."""
    return '"' + identifier.replace('"', '""') + '"'
