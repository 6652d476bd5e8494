"""Where `export`, `report` and `nightly` write: never over the store, never into a folder's
name, and atomically, so a failure leaves the old file whole and no temporary file behind."""

from __future__ import annotations

import errno
import os
import stat

import pytest
from click.testing import CliRunner

from hubspot_metrics.cli import cli
from hubspot_metrics.errors import ConfigError
from hubspot_metrics.files import write_file
from hubspot_metrics.store import open_store

from ..readonly import read_only_file



@pytest.fixture
def store(tmp_path):
    """A real store file with its -wal, -shm and .lock siblings, and its bytes to compare after."""
    path = tmp_path / "victim.db"
    db = open_store(path)
    db.conn.close()
    for suffix in ("-wal", "-shm", ".lock"):
        (tmp_path / f"victim.db{suffix}").write_bytes(b"sibling " + suffix.encode())
    return path


def _files(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


@pytest.mark.parametrize("command", ["export", "report"])
@pytest.mark.parametrize("suffix", ["", "-wal", "-shm", ".lock"])
def test_out_refuses_the_store_and_its_files_and_leaves_them_untouched(store, command, suffix):
    before = _files(store.parent)
    out = f"{store}{suffix}"
    result = CliRunner().invoke(cli, ["--db", str(store), command, "--out", out])
    assert (result.exit_code, result.output) == (
        2, f"Error: Cannot write {out}: it would overwrite the store {store}; choose another --out path.\n")
    assert _files(store.parent) == before


def test_out_refuses_the_store_by_another_name(store, tmp_path, monkeypatch):
    """A relative path, a symlink and a hard link all still name the store."""
    before = _files(tmp_path)
    os.symlink(store, tmp_path / "link.csv")
    os.link(store, tmp_path / "hard.csv")
    monkeypatch.chdir(tmp_path)
    for out in ("./victim.db", "link.csv", "hard.csv", "../" + tmp_path.name + "/victim.db-wal"):
        result = CliRunner().invoke(cli, ["--db", "victim.db", "export", "--out", out])
        assert (result.exit_code, result.output) == (
            2, f"Error: Cannot write {out}: it would overwrite the store victim.db; choose another --out path.\n")
    assert {k: v for k, v in _files(tmp_path).items() if not k.endswith(".csv")} == before


@pytest.mark.parametrize("key", ["export_path", "report_path"])
def test_nightly_refuses_a_path_onto_the_store_before_syncing(store, tmp_path, key):
    config = tmp_path / "c.toml"
    config.write_text(f'[nightly]\n{key} = "{store}"\n')
    before = _files(tmp_path)
    # No token and an unreachable HubSpot: the refusal must come before the sync would fail.
    env = {"HUBSPOT_METRICS_CONFIG": str(config), "HUBSPOT_ACCESS_TOKEN": "", "HUBSPOT_API_BASE_URL": "http://127.0.0.1:9"}
    result = CliRunner().invoke(cli, ["--db", str(store), "nightly"], env=env)
    assert (result.exit_code, result.output) == (
        2, f"Error: Cannot write {store}: it would overwrite the store {store}; choose another [nightly] {key}.\n")
    assert _files(tmp_path) == before


@pytest.mark.parametrize("command, example", [("export", "kpis.csv"), ("report", "report.html")])
def test_out_a_folder_is_one_sentence_saying_to_give_a_file(store, tmp_path, command, example):
    result = CliRunner().invoke(cli, ["--db", str(store), command, "--out", str(tmp_path)])
    assert (result.exit_code, result.output) == (
        2, f"Error: Cannot write {tmp_path}: it is a folder; give a file path as the --out path, "
           f"e.g. {tmp_path / example}.\n")


def test_nightly_report_path_a_folder_is_one_sentence(store, tmp_path):
    config = tmp_path / "c.toml"
    config.write_text(f'[nightly]\nreport_path = "{tmp_path}"\n')
    result = CliRunner().invoke(cli, ["--db", str(store), "nightly"], env={"HUBSPOT_METRICS_CONFIG": str(config)})
    assert (result.exit_code, result.output) == (
        2, f"Error: Cannot write {tmp_path}: it is a folder; give a file path as the [nightly] report_path, "
           f"e.g. {tmp_path / 'report.html'}.\n")


def test_a_failed_write_keeps_the_old_file_whole_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    out = tmp_path / "kpis.csv"
    out.write_text("old,complete\r\n")

    def disk_full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(ConfigError) as info:
        write_file(str(out), "new" * 100_000, "[nightly] export_path")
    assert str(info.value) == f"Cannot write {out} (No space left on device); choose another [nightly] export_path."
    assert _files(tmp_path) == {"kpis.csv": b"old,complete\r\n"}


def test_an_interrupted_write_keeps_the_old_file_whole_and_leaves_no_temporary_file(tmp_path):
    out = tmp_path / "report.html"
    out.write_text("<p>old</p>")
    with pytest.raises(UnicodeEncodeError):  # fails halfway, after the first characters were written
        write_file(str(out), "<p>new" + "\ud800")
    assert _files(tmp_path) == {"report.html": b"<p>old</p>"}


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600)])
def test_a_new_file_gets_the_mode_open_gives_it(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        write_file(str(tmp_path / "kpis.csv"), "a,b\r\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "kpis.csv").stat().st_mode) == mode
    assert _files(tmp_path) == {"kpis.csv": b"a,b\r\n"}


def test_an_existing_file_keeps_its_mode_and_a_symlink_keeps_pointing_at_it(tmp_path):
    target = tmp_path / "shared.csv"
    target.write_text("old")
    os.chmod(target, 0o640)
    link = tmp_path / "kpis.csv"
    os.symlink(target, link)
    write_file(str(link), "new")
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert (target.read_text(), stat.S_IMODE(target.stat().st_mode)) == ("new", 0o640)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kpis.csv", "shared.csv"]


def test_a_read_only_file_stays_refused(tmp_path):
    out = tmp_path / "kpis.csv"
    out.write_text("old")
    with read_only_file(out), pytest.raises(ConfigError) as info:
        write_file(str(out), "new")
    assert str(info.value) == f"Cannot write {out} (Permission denied); choose another --out path."
    assert out.read_text() == "old"


def test_a_device_or_a_pipe_is_written_to_not_replaced(tmp_path):
    import threading

    write_file(os.devnull, "period,key\n")
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)  # still the device, not a regular file
    fifo = tmp_path / "kpis.fifo"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text(encoding="utf-8")))
    reader.start()
    write_file(str(fifo), "period,key\n")
    reader.join(5)
    assert received == ["period,key\n"] and stat.S_ISFIFO(os.stat(fifo).st_mode)
