"""CSV export of KPI history for spreadsheets and BI tools.

UTF-8 without a byte-order mark (a BOM would become part of the first header name for most
CSV readers), a header row, RFC 4180 quoting by the csv module, numbers unformatted (Python's
shortest round-trip form), and text cells that a spreadsheet would run as a formula
neutralized with a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
import os
import secrets
import stat
from datetime import datetime
from pathlib import Path

from hubspot_metrics.config import MetricsSettings
from hubspot_metrics.errors import ConfigError
from hubspot_metrics.metrics import KPI_KEYS, complete_to, with_store_timezone
from hubspot_metrics.periods import closed_periods
from hubspot_metrics.results.history import SNAPSHOT, history
from hubspot_metrics.values import spreadsheet_safe

# `unit` says what role a value plays (`currency` for money); `currency` names the portal's home
# currency on every row, as `kpis --format csv` does (docs/metrics.md, "Output").
LONG_COLUMNS = ("period", "start", "end", "key", "value", "n", "reason", "unit", "currency", "computed_at", "source")
# `partial` keeps an open period from being read as a closed one once a row leaves its context.
WIDE_COLUMNS = ("period", "start", "end", "partial", "currency", "computed_at", "source")


def cell(value) -> str | int:
    if value is None:
        return ""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return repr(float(value)) if isinstance(value, float) else value
    return spreadsheet_safe(str(value))


def export_history(db, settings: MetricsSettings, *, grain: str = "month", periods: int = 12, wide: bool = False,
                   now: datetime | None = None) -> tuple[str, int]:
    """The CSV of the `periods` most recent closed periods of `grain` (history.py's rule), and
    how many of them came from snapshots. `now`: the instant the store is complete to (by
    default the start of its last completed sync)."""
    if periods < 1:
        raise ConfigError("--periods must be 1 or more.")
    settings = with_store_timezone(db, settings)
    now = now or complete_to(db)
    results = history(db, closed_periods(grain, periods, settings.timezone, now), settings, now)
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    if wide:
        writer.writerow([*WIDE_COLUMNS, *KPI_KEYS])
        for r in results:
            writer.writerow([*(cell(r[c]) for c in WIDE_COLUMNS),
                             *(cell(r["kpis"][k]["value"] if k in r["kpis"] else None) for k in KPI_KEYS)])
    else:
        writer.writerow(LONG_COLUMNS)
        for r in results:
            for key, k in r["kpis"].items():
                writer.writerow([cell(v) for v in (r["period"], r["start"], r["end"], key, k["value"], k["n"],
                                                   k["reason"], k["unit"], r["currency"], r["computed_at"],
                                                   r["source"])])
    return out.getvalue(), sum(r["source"] == SNAPSHOT for r in results)


def export_csv(db, settings: MetricsSettings, *, grain: str = "month", periods: int = 12, wide: bool = False,
               now: datetime | None = None) -> str:
    return export_history(db, settings, grain=grain, periods=periods, wide=wide, now=now)[0]


# The store's own files: SQLite's write-ahead log and shared memory, and the sync lock.
STORE_FILES = ("", "-wal", "-shm", ".lock")


def _same_file(a: str, b: str) -> bool:
    """Resolved paths catch symlinks and not-yet-existing files; samefile catches hard links."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist
        return False


def check_output(path: str, store_path: str, setting: str = "--out path", example: str = "kpis.csv") -> None:
    """Refuse, before any work, an output path that is a folder or would overwrite the store."""
    if os.path.isdir(path):
        raise ConfigError(f"Cannot write {path}: it is a folder; give a file path as the {setting}, "
                          f"e.g. {os.path.join(path, example)}.")
    if any(_same_file(path, str(store_path) + suffix) for suffix in STORE_FILES):
        raise ConfigError(f"Cannot write {path}: it would overwrite the store {store_path}; choose another {setting}.")


def _cannot_write(path: str, reason, setting: str) -> ConfigError:
    return ConfigError(f"Cannot write {path} ({reason}); choose another {setting}.")


def write_file(path: str, text: str, setting: str = "--out path") -> None:
    """Write atomically: a temporary file beside the target, then os.replace, so a failure
    leaves the old file whole. `setting` names where the path came from, so the error says what to change."""
    target = os.path.realpath(path)  # through a symlink, replace what it points to, as writing through it did
    try:
        existing = os.stat(target).st_mode
    except FileNotFoundError:
        existing = None
    except OSError as exc:
        raise _cannot_write(path, exc.strerror, setting) from None
    if existing is not None and not stat.S_ISREG(existing):  # /dev/stdout, a pipe: nothing to replace
        try:
            with open(path, "w", encoding="utf-8", newline="") as f:
                f.write(text)
        except OSError as exc:
            raise _cannot_write(path, exc.strerror or exc, setting) from None
        return
    if existing is not None and not os.access(target, os.W_OK):
        # Replacing needs only a writable folder; a read-only file must stay as refused as before.
        raise _cannot_write(path, "Permission denied", setting)
    temp = os.path.join(os.path.dirname(target), f".{os.path.basename(target)}.{secrets.token_hex(4)}.tmp")
    try:
        # 0o666 less the umask, as open() gives a new file; an existing file keeps its mode.
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise _cannot_write(path, exc.strerror, setting) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            if existing is not None:
                os.fchmod(f.fileno(), existing & 0o7777)
            f.write(text)
            f.flush()
            os.fsync(f.fileno())  # the data is on disk before the name points at it
        os.replace(temp, target)
    except BaseException as exc:
        try:
            os.unlink(temp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise _cannot_write(path, exc.strerror or exc, setting) from None
        raise
