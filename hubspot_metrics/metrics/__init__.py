"""The KPIs of docs/kpi-spec.md, computed from the SQLite store only (never from HubSpot).

    from hubspot_metrics.metrics import compute_kpis, KPI_KEYS, KPI_UNITS
    result = compute_kpis(db, period, settings, by=None)
"""

from hubspot_metrics.metrics.catalog import DEFINITION_VERSION, KPI_KEYS, KPI_UNITS, LABELS, definitions
from hubspot_metrics.metrics.compute import BREAKDOWNS, compute_kpis
from hubspot_metrics.metrics.sql import ensure_indexes

__all__ = ["BREAKDOWNS", "DEFINITION_VERSION", "KPI_KEYS", "KPI_UNITS", "LABELS", "compute_kpis", "definitions",
           "ensure_indexes"]
