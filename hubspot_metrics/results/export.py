"""CSV export of KPI history for spreadsheets and BI tools.

UTF-8 without a byte-order mark (a BOM would become part of the first header name for most
CSV readers), a header row, RFC 4180 quoting by the csv module, numbers unformatted (Python's
shortest round-trip form), and text cells that a spreadsheet would run as a formula
neutralized with a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
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
