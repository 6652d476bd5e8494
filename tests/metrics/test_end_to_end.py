"""From a generated portal to the KPIs: the simulated HubSpot portal is synced over real
sockets into a store, and the KPIs computed from the store must equal the plain reference
implementation applied to the portal's own records (as HubSpot serves them)."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from hubspot_metrics import app
from hubspot_metrics.client import HubSpotClient, RunStats
from hubspot_metrics.config import ChurnSettings, Config, HubSpotSettings, MetricsSettings, SyncSettings
from hubspot_metrics.metrics import KPI_KEYS, compute_kpis
from hubspot_metrics.periods import parse_period
from hubspot_metrics.portal import PortalServer, generate_portal
from hubspot_metrics.portal.schema import DEAL_PIPELINES
from hubspot_metrics.store import open_store

from .reference import Portal, Setup, reference_kpis

TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def synced(tmp_path_factory):
    portal = generate_portal(scale=1500, seed=11, now=NOW)
    path = tmp_path_factory.mktemp("e2e") / "store.db"
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        config = Config(
            hubspot=HubSpotSettings(base_url=server.url, access_token=TOKEN, requests_per_10s=10_000,
                                    search_requests_per_second=10_000, timeout_seconds=10, max_retries=3),
            store_path=str(path),
            sync=replace(SyncSettings(), extra_properties={"contacts": ("churn_date",)}, lookback_seconds=0))
        app.sync(config, full=True, client=HubSpotClient(config.hubspot, stats=RunStats(), sleep=lambda s: None))
    return portal, path


def as_reference(portal) -> Portal:
    def records(object_type: str) -> list[dict]:
        out = []
        for archived in (False, True):
            for r in portal.records(object_type, archived=archived):
                out.append({"id": r["id"], "archived": archived, **r["properties"]})
        return out

    stages = {(pid, sid): (meta["isClosed"] == "true", float(meta["probability"]))
              for pid, _, _, pipeline_stages in DEAL_PIPELINES for sid, _, meta in pipeline_stages}
    return Portal(contacts=records("contacts"), companies=records("companies"), deals=records("deals"),
                  tickets=records("tickets"), feedback=records("feedback_submissions"),
                  deal_contacts=list(portal.association_pairs("deals", "contacts")),
                  deal_companies=list(portal.association_pairs("deals", "companies")),
                  stages=stages, currency=portal.home_currency)


@pytest.mark.parametrize("period, tz, overrides", [
    ("2026-Q3", "Europe/Berlin", {}),
    ("2026-10", "UTC", {"churn_mode": "property"}),
    ("2026", "America/New_York", {"customer_object": "companies"}),  # open: measured up to NOW
])
def test_kpis_of_a_synced_portal_match_the_reference(synced, period, tz, overrides):
    portal, path = synced
    p = parse_period(period, tz)
    setup = Setup(start=p.start.astimezone(timezone.utc), end=p.end.astimezone(timezone.utc), months=p.months,
                  calendar_months=p.calendar_months, timezone=tz, as_of=NOW if p.end > NOW else None, **overrides)
    settings = MetricsSettings(timezone=tz, customer_object=setup.customer_object,
                               churn=ChurnSettings(mode=setup.churn_mode))
    db = open_store(path, create=False, readonly=True)
    got = compute_kpis(db, p, settings, now=NOW)  # the portal's clock, not the wall clock of the sync
    db.conn.close()
    expected = reference_kpis(as_reference(portal), setup)
    for key in KPI_KEYS:
        value, n, reason = expected[key]
        actual = got["kpis"][key]
        assert (actual["n"], actual["reason"]) == (n, reason), key
        assert (actual["value"] is None) == (value is None), key
        if value is not None:
            assert math.isclose(actual["value"], value, rel_tol=1e-9, abs_tol=5e-7), (key, actual["value"], value)
    assert got["kpis"]["deals_won"]["value"] >= 3 and got["kpis"]["nps_responses"]["value"] >= 3
    assert got["partial"] == (p.end > NOW)
    assert got["warnings"]  # a realistic portal has gaps (tickets without reply, survey junk, ...)
