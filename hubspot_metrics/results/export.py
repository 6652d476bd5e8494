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
from datetime import datetime, timezone
from pathlib import Path

from hubspot_metrics.config import MetricsSettings
from hubspot_metrics.errors import ConfigError
from hubspot_metrics.metrics import KPI_KEYS, compute_kpis
from hubspot_metrics.periods import Period, closed_periods
from hubspot_metrics.results.snapshots import latest_rows
from hubspot_metrics.values import format_instant, spreadsheet_safe

LONG_COLUMNS = ("period", "start", "end", "key", "value", "n", "reason", "unit", "computed_at")

def cell(value) -> str | int:
    if value is None:
        return ""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return repr(float(value)) if isinstance(value, float) else value
    return spreadsheet_safe(str(value))


def period_rows(db, period: Period, settings: MetricsSettings, now: datetime) -> list[dict]:
    """The period's latest snapshot; computed from the store when it was never snapshotted."""
    rows = latest_rows(db, period.label)
    if not rows:
        result = compute_kpis(db, period, settings)
        computed_at = format_instant(now)
        rows = [{"period": period.label, "start": result["start"], "end": result["end"], "key": key,
                 "value": kpi["value"], "n": kpi["n"], "reason": kpi["reason"], "unit": kpi["unit"],
                 "computed_at": computed_at} for key, kpi in result["kpis"].items()]
    order = {key: i for i, key in enumerate(KPI_KEYS)}
    return sorted(rows, key=lambda r: order.get(r["key"], len(order)))


def export_csv(db, settings: MetricsSettings, *, grain: str = "month", periods: int = 12, wide: bool = False,
               now: datetime | None = None) -> str:
    if periods < 1:
        raise ConfigError("--periods must be 1 or more.")
    now = now or datetime.now(timezone.utc)
    chosen = closed_periods(grain, periods, settings.timezone, now)
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    if wide:
        writer.writerow(["period", "start", "end", "computed_at", *KPI_KEYS])
        for period in chosen:
            rows = period_rows(db, period, settings, now)
            values = {r["key"]: r["value"] for r in rows}
            first = rows[0]
            writer.writerow([cell(first["period"]), cell(first["start"]), cell(first["end"]),
                             cell(first["computed_at"]), *(cell(values.get(k)) for k in KPI_KEYS)])
    else:
        writer.writerow(LONG_COLUMNS)
        for period in chosen:
            for row in period_rows(db, period, settings, now):
                writer.writerow([cell(row[c]) for c in LONG_COLUMNS])
    return out.getvalue()


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
