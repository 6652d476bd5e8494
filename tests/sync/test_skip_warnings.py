"""The warning of a skipped object names exactly the KPIs `check` and `status` say it feeds."""

from dataclasses import replace

from hubspot_metrics.config import ChurnSettings, MetricsSettings
from hubspot_metrics.portal import PortalServer, generate_portal
from hubspot_metrics.metrics.catalog import kpis_blocked_by
from tests.sync.conftest import NOW, TOKEN, make_config, run_sync

ALL_BUT_DEALS_AND_CONTACTS = {"crm.objects.companies.read", "tickets", "crm.objects.feedback_submissions.read",
                              "crm.objects.owners.read"}
LACKS = "the token lacks crm.objects.{0}.read, crm.schemas.{0}.read"


def test_skipped_deals_and_contacts_name_the_kpis_of_the_companies_unit_in_inactivity_mode(tmp_path):
    portal = generate_portal(scale=60, seed=21, now=NOW)
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None,
                      scopes=ALL_BUT_DEALS_AND_CONTACTS) as server:
        config = make_config(server, tmp_path / "store.db")
        config = replace(config, metrics=MetricsSettings(customer_object="companies",
                                                         churn=ChurnSettings(mode="inactivity")))
        result, _ = run_sync(config)
    skipped = [w for w in result.warnings if w.startswith("Skipped ")]
    assert skipped == [
        # Not the customer unit: no KPI reads contacts when companies are the customers.
        f"Skipped contacts: {LACKS.format('contacts')}; no KPI reads them with this configuration.",
        # In inactivity mode a customer is active while it buys: retention and churn read deals.
        f"Skipped deals: {LACKS.format('deals')}; KPIs not updated: customer_lifetime_value, avg_sales_cycle_days, "
        "pipeline_velocity, revenue, win_rate, customer_retention_rate, churn_rate.",
    ]
    # `check` blocks exactly the KPIs the warnings name.
    assert kpis_blocked_by({"contacts"}, "companies", "inactivity") == []
    assert kpis_blocked_by({"deals"}, "companies", "inactivity") == [
        "customer_retention_rate", "customer_lifetime_value", "churn_rate", "avg_sales_cycle_days",
        "pipeline_velocity", "revenue", "win_rate"]


def test_the_contacts_unit_in_property_mode_names_the_customer_kpis_and_deals_without_retention(tmp_path):
    portal = generate_portal(scale=60, seed=21, now=NOW)
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None,
                      scopes=ALL_BUT_DEALS_AND_CONTACTS) as server:
        config = make_config(server, tmp_path / "store.db")
        config = replace(config, metrics=MetricsSettings(churn=ChurnSettings(mode="property")))
        result, _ = run_sync(config)
    assert [w for w in result.warnings if w.startswith("Skipped ")] == [
        f"Skipped contacts: {LACKS.format('contacts')}; KPIs not updated: cac, conversion_rate, "
        "customer_retention_rate, churn_rate, customer_lifetime_value.",
        f"Skipped deals: {LACKS.format('deals')}; KPIs not updated: customer_lifetime_value, avg_sales_cycle_days, "
        "pipeline_velocity, revenue, win_rate.",
    ]
