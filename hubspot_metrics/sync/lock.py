"""The single-sync lock: one writer per store."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from hubspot_metrics import postgres
from hubspot_metrics.config import DEFAULT_SCHEMA
from hubspot_metrics.errors import StoreError
from hubspot_metrics.store import describe, refuse_folder

LOCK_ATTEMPTS = 10  # 0.5 s


class SyncLock:
    """One sync per store: an exclusive lock file beside a SQLite store, a PostgreSQL advisory
    lock keyed on the schema. The OS or the server releases either even after kill -9."""

    def __init__(self, db_path: str, schema: str = DEFAULT_SCHEMA):
        self.location = str(db_path)
        self.schema = schema
        self.path = Path(str(db_path) + ".lock")
        self._fd: int | None = None
        self._session = None  # the PostgreSQL connection holding the advisory lock

    def __enter__(self) -> "SyncLock":
        if postgres.is_postgres_url(self.location):
            return self._lock_schema()
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

    def _lock_schema(self) -> "SyncLock":
        self._session = postgres.connect(self.location, self.schema)
        for attempt in range(LOCK_ATTEMPTS):
            if postgres.try_lock(self._session):
                return self
            if attempt + 1 < LOCK_ATTEMPTS:
                time.sleep(0.05)
        self._session.close()
        raise StoreError(f"Another sync is already running on schema {self.schema} of {describe(self.location)}; "
                         "wait for it to finish.", exit_code=6)

    def __exit__(self, *exc) -> None:
        if self._session is not None:
            self._session.close()
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)

