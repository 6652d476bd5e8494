"""The fingerprint of a KPI definition: what a stored value meant when it was computed.

Two values of one period mean the same only if the spec version and every setting that
changes a value were the same (docs/metrics.md, "History"). A snapshot records the
fingerprint; history reads a snapshot back only under the fingerprint in force now.
"""

from __future__ import annotations

import hashlib
import json

from hubspot_metrics.config import MetricsSettings
from hubspot_metrics.metrics.catalog import DEFINITION_VERSION
from hubspot_metrics.periods import Period


def definition_fingerprint(settings: MetricsSettings, period: Period) -> str:
    """`kpi-spec-v2:` and a short hash of the settings that change the values of `period`.

    `settings.timezone` must be the zone in use (metrics.compute.with_store_timezone)."""
    months = period.calendar_months or []
    facts = {
        "timezone": settings.timezone,
        "customer_object": settings.customer_object,
        "gross_margin": settings.gross_margin,
        "deal_pipelines": sorted(settings.deal_pipelines),
        "ticket_pipelines": sorted(settings.ticket_pipelines),
        "churn": [settings.churn.mode, settings.churn.inactivity_days,
                  settings.churn.property if settings.churn.mode == "property" else None],
        "csat": [settings.csat.scale_min, settings.csat.scale_max, settings.csat.satisfied_min],
        "spend": {month: settings.spend.get(month) for month in months},
    }
    digest = hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:16]
    return f"{DEFINITION_VERSION}:{digest}"
