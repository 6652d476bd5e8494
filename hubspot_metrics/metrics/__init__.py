"""The KPIs of docs/metrics.md, computed from the SQLite store only (never from HubSpot).

    from hubspot_metrics.metrics import compute_kpis, KPI_KEYS, KPI_UNITS
    result = compute_kpis(db, period, settings, by=None, now=None)
"""

from hubspot_metrics.indexes import ensure_indexes
from hubspot_metrics.metrics.catalog import DEFINITION_VERSION, KPI_KEYS, KPI_UNITS, LABELS, definitions
from hubspot_metrics.metrics.compute import BREAKDOWNS, complete_to, compute_kpis, with_store_timezone

__all__ = ["BREAKDOWNS", "DEFINITION_VERSION", "KPI_KEYS", "KPI_UNITS", "LABELS", "complete_to", "compute_kpis",
           "definitions", "ensure_indexes", "with_store_timezone"]
