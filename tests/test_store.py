"""The store: safe column names, private files, and clear errors for bad database files."""

import json
import os
import stat

import pytest
from click.testing import CliRunner

from hubspot_metrics.cli import cli

from hubspot_metrics.errors import StoreError
from hubspot_metrics.store import PropertyColumns, open_store, transaction, upsert_records

from .metrics.builder import StoreBuilder
from .readonly import read_only_file, read_only_filesystem

AWKWARD = {
    'say "hi"': {"type": "string"},
    "with space": {"type": "number"},
    "select": {"type": "string"},
    "Größe_ü": {"type": "string"},
    "Amount": {"type": "number"},
    "amount": {"type": "number"},
    "id": {"type": "string"},
    "archived": {"type": "bool"},
    "x]; DROP TABLE deals; --": {"type": "string"},
}


def test_awkward_property_names_become_safe_distinct_columns(tmp_path):
    db = open_store(tmp_path / "s.db")
    columns = PropertyColumns(db, "deals")
    with transaction(db) as conn:
        columns.ensure(conn, AWKWARD)
        upsert_records(conn, columns, [{"id": "7", "properties": {
            'say "hi"': "hello", "with space": "1.5", "select": "x", "Größe_ü": "groß 🚀", "Amount": "10",
            "amount": "20", "id": "not-the-id", "archived": "true", "x]; DROP TABLE deals; --": "boom"}}],
            list(AWKWARD))
    mapping = dict(db.conn.execute("SELECT name, column_name FROM properties WHERE object_type = 'deals'"))
    assert mapping == {'say "hi"': 'say "hi"', "with space": "with space", "select": "select", "Größe_ü": "Größe_ü",
                       "Amount": "Amount", "amount": "amount__2", "id": "id__2", "archived": "archived__2",
                       "x]; DROP TABLE deals; --": "x]; DROP TABLE deals; --"}
    row = db.conn.execute('SELECT id, archived, "say ""hi""", "with space", "select", "Größe_ü", "Amount", '
                          '"amount__2", "id__2", "archived__2", "x]; DROP TABLE deals; --" FROM deals').fetchall()
    assert row == [("7", 0, "hello", 1.5, "x", "groß 🚀", 10.0, 20.0, "not-the-id", 1, "boom")]
    # Reopening keeps the mapping: nothing is added twice.
    again = PropertyColumns(open_store(tmp_path / "s.db"), "deals")
    assert again.columns == mapping


def test_unparsable_values_are_kept_raw_and_listed_then_cleared(tmp_path):
    db = open_store(tmp_path / "s.db")
    columns = PropertyColumns(db, "deals")
    with transaction(db) as conn:
        columns.ensure(conn, {"amount": {"type": "number"}, "closedate": {"type": "datetime"}})
        upsert_records(conn, columns, [{"id": "1", "properties": {"amount": "12,5k", "closedate": "soon"}}],
                       ["amount", "closedate"])
    assert db.conn.execute("SELECT amount, closedate FROM deals").fetchall() == [("12,5k", "soon")]
    assert db.conn.execute("SELECT * FROM value_issues ORDER BY property").fetchall() == [
        ("deals", "1", "amount", "12,5k"), ("deals", "1", "closedate", "soon")]
    with transaction(db) as conn:
        upsert_records(conn, columns, [{"id": "1", "properties": {"amount": "125", "closedate": "2024-01-02"}}],
                       ["amount", "closedate"])
    assert db.conn.execute("SELECT amount, closedate FROM deals").fetchall() == [(125.0, "2024-01-02T00:00:00.000Z")]
    assert db.conn.execute("SELECT count(*) FROM value_issues").fetchone() == (0,)


def test_store_file_is_private(tmp_path):
    open_store(tmp_path / "s.db")
    assert stat.S_IMODE(os.stat(tmp_path / "s.db").st_mode) == 0o600


def test_missing_folder_corrupt_file_and_missing_store_get_one_sentence(tmp_path):
    with pytest.raises(StoreError) as info:
        open_store(tmp_path / "nope" / "s.db")
    assert str(info.value) == f"The folder {tmp_path / 'nope'} for the store does not exist; create it or choose another --db path."
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError) as info:
        open_store(corrupt)
    assert str(info.value) == (f"{corrupt} is not a readable SQLite store (it may be corrupt); move it aside and "
                               "run `hubspot-metrics sync --full`.")
    assert corrupt.read_bytes() == b"this is not sqlite" * 100  # untouched
    with pytest.raises(StoreError, match=r"^No store at .*; run `hubspot-metrics sync` first"):
        open_store(tmp_path / "absent.db", create=False)


def test_read_only_store(tmp_path):
    path = tmp_path / "s.db"
    open_store(path).conn.close()
    with read_only_file(path), pytest.raises(StoreError) as info:
        open_store(path)
    assert str(info.value) == (f"The store {path} is read-only; make it writable by this user (chmod u+w) or "
                               "choose another --db path.")


def _small_store(path) -> None:
    store = StoreBuilder(path)
    store.pipeline("deals", "default", {"closedwon": (True, 1.0)}, label="Sales")
    store.add("deals", "d1", createdate="2024-01-02", closedate="2024-01-09", pipeline="default",
              dealstage="closedwon", hs_is_closed_won=True, amount=500)
    store.close()


def _kpis(db_path, *extra):
    return CliRunner().invoke(cli, ["--db", str(db_path), "kpis", "--period", "2024-01", "--format", "json", *extra])


def test_a_store_path_with_hash_question_mark_and_percent_is_read_without_a_stray_database(tmp_path):
    folder = tmp_path / "q#1?x%41"
    folder.mkdir()
    path = folder / "s#2?y%42.db"
    _small_store(path)
    result = _kpis(path, "--compare")
    assert (result.exit_code, result.stderr) == (0, "")
    assert json.loads(result.stdout)["kpis"]["revenue"]["value"] == 500.0
    assert open_store(path, create=False, readonly=True).conn.execute("SELECT id FROM deals").fetchall() == [("d1",)]
    assert {p.name for p in tmp_path.rglob("*")} <= {"q#1?x%41", "s#2?y%42.db", "s#2?y%42.db-wal", "s#2?y%42.db-shm"}


def test_a_store_on_a_read_only_filesystem_can_be_read(tmp_path):
    path = tmp_path / "s.db"
    _small_store(path)
    expected = _kpis(path, "--compare")
    assert expected.exit_code == 0
    with read_only_filesystem(tmp_path / "mounted", [path]) as folder:
        copy = folder / "s.db"
        result = _kpis(copy, "--compare")
        assert (result.exit_code, result.stderr, result.stdout) == (0, "", expected.stdout)
        db = open_store(copy, create=False, readonly=True)
        assert db.conn.execute("SELECT id, amount FROM deals").fetchall() == [("d1", 500.0)]
        db.conn.close()
        with pytest.raises(StoreError) as info:  # and a sync says why it cannot write there
            open_store(copy)
        assert str(info.value) == (f"The store {copy} is read-only; make it writable by this user (chmod u+w) or "
                                   "choose another --db path.")
        assert sorted(p.name for p in folder.iterdir()) == ["s.db"]


def test_a_store_from_an_older_version_is_migrated_and_keeps_its_data(tmp_path):
    import sqlite3

    import sqlite_utils

    from hubspot_metrics.store import migrations

    path = tmp_path / "old.db"
    old = sqlite_utils.Database(sqlite3.connect(path))
    migrations.apply(old, stop_before="m002_portal_totals")  # the schema of version 0.1's first release
    old.execute("INSERT INTO contacts (id) VALUES ('42')")
    old.execute("INSERT INTO sync_state (object_type, mode, cursor_ms) VALUES ('contacts', 'incremental', 7)")
    old.conn.commit()
    old.conn.close()

    db = open_store(path)
    assert [m.name for m in migrations.applied(db)] == ["m001_initial", "m002_portal_totals", "m003_kpi_snapshots",
                                                      "m004_pending_window", "m005_snapshot_definition",
                                                      "m006_property_options"]
    assert db.conn.execute("SELECT id FROM contacts").fetchall() == [("42",)]
    assert "options" in {r[1] for r in db.conn.execute("PRAGMA table_info(properties)")}
    assert db.conn.execute("SELECT object_type, mode, cursor_ms, portal_total FROM sync_state").fetchall() == [
        ("contacts", "incremental", 7, None)]


def test_a_database_that_is_not_a_store_is_refused_and_left_as_it_is(tmp_path):
    import sqlite3

    path = tmp_path / "invoices.db"
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE contacts (name TEXT, phone TEXT)")
    other.execute("INSERT INTO contacts VALUES ('Ada', '555')")
    other.commit()
    other.close()
    before = path.read_bytes()
    with pytest.raises(StoreError) as info:
        open_store(path)
    assert str(info.value) == (f"{path} is a SQLite database but not a hubspot-metrics store, and it is left as it "
                               "is; choose another --db path.")
    assert path.read_bytes() == before and not (tmp_path / "invoices.db-wal").exists()


def test_an_immutable_store_is_reported_before_anything_starts(tmp_path):
    import shutil
    import subprocess

    path = tmp_path / "s.db"
    open_store(path).conn.close()
    if not shutil.which("chattr") or subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode:
        pytest.skip("chattr +i is not available here")
    try:
        with pytest.raises(StoreError, match=r"^The store .* is read-only; make it writable by this user"):
            open_store(path)
    finally:
        subprocess.run(["chattr", "-i", str(path)])


def test_a_read_only_folder_without_the_write_ahead_log_is_reported(tmp_path, monkeypatch):
    path = tmp_path / "s.db"
    open_store(path).conn.close()  # closing the last connection removes the -wal file
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(tmp_path) else real_access(p, mode))
    with pytest.raises(StoreError, match=r"^The folder .* of the store is read-only"):
        open_store(path)


def test_a_folder_given_as_the_store_is_refused_before_a_lock_file_lands_beside_it(tmp_path):
    from hubspot_metrics.sync import SyncLock

    folder = tmp_path / "stores"
    folder.mkdir()
    expected = f"{folder} is a folder; give --db the path of the store file, e.g. {folder / 'hubspot-metrics.db'}."
    for attempt in (lambda: open_store(folder), lambda: SyncLock(str(folder)).__enter__()):
        with pytest.raises(StoreError) as info:
            attempt()
        assert str(info.value) == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stores"]


def test_a_sync_starting_while_kpis_test_the_lock_waits_a_moment_instead_of_refusing(tmp_path):
    import fcntl
    import threading

    from hubspot_metrics.store import sync_running
    from hubspot_metrics.sync import SyncLock

    path = tmp_path / "s.db"
    open_store(path).conn.close()
    probe = os.open(f"{path}.lock", os.O_CREAT | os.O_RDONLY, 0o600)
    fcntl.flock(probe, fcntl.LOCK_SH)              # what sync_running holds for an instant
    threading.Timer(0.15, fcntl.flock, (probe, fcntl.LOCK_UN)).start()
    with SyncLock(str(path)):
        assert sync_running(path)
    os.close(probe)
    assert not sync_running(path)


def test_compare_over_the_widest_range_ends_in_one_sentence(tmp_path):
    path = tmp_path / "s.db"
    _small_store(path)
    result = CliRunner().invoke(cli, ["--db", str(path), "kpis", "--since", "1900-01-01", "--until", "9998-12-31",
                                      "--compare"])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == ("Error: --compare needs an equally long period before this one, which would start "
                             "before the year 1; compare a shorter range.\n")
    assert _kpis(path, "--compare").exit_code == 0  # (an ordinary period still compares)


def test_a_century_long_range_is_measured_without_straining_sqlite(tmp_path):
    # One monthly piece per month: 1,500 cuts once overflowed SQLite's expression depth ("check the disk").
    path = tmp_path / "s.db"
    _small_store(path)
    result = CliRunner().invoke(cli, ["--db", str(path), "kpis", "--since", "1900-01-01", "--until", "2025-12-31",
                                      "--format", "json"])
    assert (result.exit_code, result.stderr) == (0, "")
    assert json.loads(result.stdout)["kpis"]["revenue"]["value"] == 500.0


def test_a_store_opened_in_a_with_block_is_closed_when_the_block_ends_even_by_an_error(tmp_path):
    import sqlite3

    with pytest.raises(RuntimeError):
        with open_store(tmp_path / "store.db") as db:
            assert db.conn.execute("SELECT count(*) FROM sync_runs").fetchone() == (0,)
            raise RuntimeError("stop")
    with pytest.raises(sqlite3.ProgrammingError, match="closed database"):
        db.conn.execute("SELECT 1")
