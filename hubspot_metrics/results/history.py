"""KPI history, by one rule for the export and the report (docs/metrics.md, "History"): each
closed period from its latest snapshot taken under the current definition, else computed now."""

from __future__ import annotations

from datetime import datetime

from hubspot_metrics.config import MetricsSettings
from hubspot_metrics.metrics import KPI_KEYS, KPI_UNITS, compute_kpis
from hubspot_metrics.metrics.definition import definition_fingerprint
from hubspot_metrics.metrics.kpis import output_number
from hubspot_metrics.metrics.sql import StoreView
from hubspot_metrics.periods import Period
from hubspot_metrics.results.snapshots import latest_closed_rows
from hubspot_metrics.values import format_instant

SNAPSHOT, COMPUTED = "snapshot", "computed"


def history(db, periods: list[Period], settings: MetricsSettings, now: datetime) -> list[dict]:
    """One result per period, in the shape of compute_kpis (without the data-quality report),
    plus `source` (snapshot or computed) and `computed_at`.

    `settings.timezone` is the zone in use; `now` the instant the store is complete to."""
    out = []
    currency = StoreView.open(db).home_currency()
    for period in periods:
        rows = latest_closed_rows(db, period.label, definition_fingerprint(settings, period))
        if rows:
            kpis = {r["key"]: {"value": output_number(r["value"], KPI_UNITS[r["key"]]), "n": int(r["n"] or 0),
                               "reason": r["reason"], "unit": r["unit"]} for r in rows if r["key"] in KPI_UNITS}
            first = rows[0]
            out.append({"period": period.label, "start": first["start"], "end": first["end"], "as_of": first["end"],
                        "partial": False, "timezone": settings.timezone, "currency": currency,
                        "kpis": {key: kpis[key] for key in KPI_KEYS if key in kpis}, "source": SNAPSHOT,
                        "computed_at": first["computed_at"]})
            continue
        result = compute_kpis(db, period, settings, now=now)
        result.update(source=COMPUTED, computed_at=format_instant(now))
        result.pop("data_quality", None)
        out.append(result)
    return out
