"""CSV export of KPI history for spreadsheets and BI tools.

UTF-8 without a byte-order mark (a BOM would become part of the first header name for most
CSV readers), a header row, RFC 4180 quoting by the csv module, numbers unformatted (Python's
shortest round-trip form), and text cells that a spreadsheet would run as a formula
neutralized with a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone
from pathlib import Path

from hubspot_metrics.config import MetricsSettings
from hubspot_metrics.errors import ConfigError
from hubspot_metrics.metrics import KPI_KEYS, compute_kpis
from hubspot_metrics.periods import Period, closed_periods
from hubspot_metrics.results.snapshots import latest_rows
from hubspot_metrics.values import format_instant

LONG_COLUMNS = ("period", "start", "end", "key", "value", "n", "reason", "unit", "computed_at")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_text(text: str) -> str:
    """A spreadsheet runs a cell starting with = + - @ as a formula (CSV injection)."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def cell(value) -> str | int:
    if value is None:
        return ""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return repr(float(value)) if isinstance(value, float) else value
    return safe_text(str(value))


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


def write_file(path: str, text: str, setting: str = "--out path") -> None:
    """`setting` names where the path came from, so the error says what to change."""
    try:
        Path(path).write_text(text, encoding="utf-8", newline="")
    except OSError as exc:
        raise ConfigError(f"Cannot write {path} ({exc.strerror}); choose another {setting}.") from None
