"""CSV export of KPI history for spreadsheets and BI tools.

UTF-8 without a byte-order mark (a BOM would become part of the first header name for most
CSV readers), a header row, RFC 4180 quoting by the csv module, numbers unformatted (Python's
shortest round-trip form), and text cells that a spreadsheet would run as a formula
neutralized with a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

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


@dataclass(frozen=True)
class HistoryRows:
    """KPI history as the export writes it: its columns, one row of plain values per row of
    the file (None where the cell is empty), and how many periods came from snapshots."""

    columns: tuple[str, ...]
    rows: list[tuple]
    from_snapshots: int


def history_rows(db, settings: MetricsSettings, *, grain: str = "month", periods: int = 12, wide: bool = False,
                 now: datetime | None = None) -> HistoryRows:
    """The `periods` most recent closed periods of `grain` (history.py's rule), long (a row per
    period and key) or wide (a row per period, a column per key). `now`: the instant the store
    is complete to (by default the start of its last completed sync)."""
    if periods < 1:
        raise ConfigError("--periods must be 1 or more.")
    settings = with_store_timezone(db, settings)
    now = now or complete_to(db)
    results = history(db, closed_periods(grain, periods, settings.timezone, now), settings, now)
    from_snapshots = sum(r["source"] == SNAPSHOT for r in results)
    if wide:
        rows = [(*(r[c] for c in WIDE_COLUMNS), *(r["kpis"][k]["value"] if k in r["kpis"] else None for k in KPI_KEYS))
                for r in results]
        return HistoryRows((*WIDE_COLUMNS, *KPI_KEYS), rows, from_snapshots)
    rows = [(r["period"], r["start"], r["end"], key, k["value"], k["n"], k["reason"], k["unit"], r["currency"],
             r["computed_at"], r["source"]) for r in results for key, k in r["kpis"].items()]
    return HistoryRows(LONG_COLUMNS, rows, from_snapshots)


def history_csv(table: HistoryRows) -> str:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.columns)
    writer.writerows([cell(v) for v in row] for row in table.rows)
    return out.getvalue()


def export_history(db, settings: MetricsSettings, *, grain: str = "month", periods: int = 12, wide: bool = False,
                   now: datetime | None = None) -> tuple[str, int]:
    """The CSV of `history_rows`, and how many of its periods came from snapshots."""
    table = history_rows(db, settings, grain=grain, periods=periods, wide=wide, now=now)
    return history_csv(table), table.from_snapshots


def export_csv(db, settings: MetricsSettings, *, grain: str = "month", periods: int = 12, wide: bool = False,
               now: datetime | None = None) -> str:
    return export_history(db, settings, grain=grain, periods=periods, wide=wide, now=now)[0]
