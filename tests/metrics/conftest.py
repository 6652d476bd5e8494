"""Fixtures for KPI tests: a tiny store builder and a one-call KPI computation."""

from __future__ import annotations

import pytest

from hubspot_metrics.config import ChurnSettings, CsatSettings, MetricsSettings
from hubspot_metrics.metrics import compute_kpis, ensure_indexes, with_store_timezone
from hubspot_metrics.metrics.kpis import output_number
from hubspot_metrics.periods import parse_period, period_from_range

from .builder import DEFAULT_DEAL_STAGES, StoreBuilder


@pytest.fixture
def store(tmp_path):
    builder = StoreBuilder(tmp_path / "store.db")
    yield builder
    builder.close()


def settings(**overrides) -> MetricsSettings:
    churn = overrides.pop("churn", None)
    csat = overrides.pop("csat", None)
    return MetricsSettings(churn=ChurnSettings(**churn) if churn else ChurnSettings(),
                           csat=CsatSettings(**csat) if csat else CsatSettings(), **overrides)


def kpis(builder: StoreBuilder, period: str, by: str | None = None, **overrides) -> dict:
    """compute_kpis for `period` ("2024-Q1" or "2024-01-15..2024-02-15") with settings overrides,
    on the store indexed as the sync leaves it."""
    config = with_store_timezone(builder.db, settings(**overrides))
    ensure_indexes(builder.db, (config.customer_object, config.churn.property))
    if ".." in period:
        since, until = period.split("..")
        p = period_from_range(since, until, config.timezone)
    else:
        p = parse_period(period, config.timezone)
    return compute_kpis(builder.db, p, config, by=by)


def kpi(v, n: int, unit: str, reason: str | None = None) -> dict:
    """The expected output of one KPI."""
    return {"value": output_number(v, unit), "n": n, "reason": reason, "unit": unit}


def with_default_pipeline(builder: StoreBuilder) -> StoreBuilder:
    return builder.pipeline("deals", "default", DEFAULT_DEAL_STAGES, label="Sales Pipeline")
