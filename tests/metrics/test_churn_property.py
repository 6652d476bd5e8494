"""Property churn through a real sync: before the property is in the store every churn-based
key says so; one plain sync reads it; only the customer unit is asked for it."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from hubspot_metrics.config import ChurnSettings, MetricsSettings
from hubspot_metrics.metrics import compute_kpis
from hubspot_metrics.metrics.catalog import CHURN_DEPENDENT
from hubspot_metrics.periods import parse_period
from hubspot_metrics.portal import PortalServer, generate_portal
from hubspot_metrics.store import open_store
from tests.sync.conftest import TOKEN, make_config, run_sync

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
PROPERTY = MetricsSettings(timezone="UTC", churn=ChurnSettings(mode="property", property="churn_date"))


def _kpis(path, settings):
    with open_store(path, create=False, readonly=True) as db:
        return compute_kpis(db, parse_period("2026-10", "UTC"), settings, now=NOW)


def test_churn_keys_wait_for_the_property_and_one_sync_brings_it(tmp_path):
    portal = generate_portal(scale=300, seed=5, now=NOW)
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        inactivity = make_config(server, tmp_path / "s.db", objects=("contacts", "companies", "deals"))
        run_sync(inactivity)  # synced before property churn was configured: no churn_date column
        before = _kpis(tmp_path / "s.db", PROPERTY)
        assert {k: before["kpis"][k]["reason"] for k in CHURN_DEPENDENT} == dict.fromkeys(
            CHURN_DEPENDENT, "churn_property_not_synced")
        assert {before["kpis"][k]["n"] for k in CHURN_DEPENDENT} == {0}
        assert any("run `hubspot-metrics sync`" in w for w in before["warnings"])

        # Contacts are the customer unit and HubSpot defines churn_date on contacts only: the
        # sync reads it there and does not warn that companies lack it.
        configured = replace(inactivity, metrics=PROPERTY)
        result, _ = run_sync(configured)
        assert result.warnings == []
        after = _kpis(tmp_path / "s.db", PROPERTY)
        assert {k: after["kpis"][k]["reason"] for k in ("customers_at_start", "churn_rate", "arpa")} == dict.fromkeys(
            ("customers_at_start", "churn_rate", "arpa"), None)
        assert after["kpis"]["customers_at_start"]["value"] > 0
        # ...and indexes its raw values, as for the other instants the KPIs test
        with open_store(tmp_path / "s.db", create=False, readonly=True) as db:
            raw_indexes = {r[0] for r in db.conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'idx_metrics_contacts_%_raw'")}
        assert raw_indexes == {f"idx_metrics_contacts_{p}_raw" for p in (
            "churn_date", "createdate", "hs_lifecyclestage_customer_date", "hs_v2_date_entered_customer",
            "hs_lifecyclestage_lead_date", "hs_v2_date_entered_lead")}

        # With companies as the unit the warning names companies, the object that needs it.
        companies = replace(configured, metrics=replace(PROPERTY, customer_object="companies"))
        result, _ = run_sync(companies, full=True)
        assert result.warnings == [
            "HubSpot does not define the companies property churn_date named in the config (deleted, or "
            "misspelled?); its column stays, empty in every record read from now on."]
