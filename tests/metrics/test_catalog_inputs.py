"""Each KPI's inputs are declared once, in the metrics catalogue: the queries read exactly the
properties it declares, and `check`, `status` and the sync's skip warnings name them from it."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from hubspot_metrics.cli import cli
from hubspot_metrics.config import ChurnSettings, MetricsSettings
from hubspot_metrics.metrics import KPI_KEYS, compute_kpis
from hubspot_metrics.metrics.catalog import kpi_inputs, kpis_missing_properties
from hubspot_metrics.metrics import compute
from hubspot_metrics.metrics.sql import META_COLUMNS, StoreView
from hubspot_metrics.objects import OBJECTS
from hubspot_metrics.periods import parse_period
from hubspot_metrics.portal import PortalServer, generate_portal
from hubspot_metrics.store import open_store
from tests.sync.conftest import NOW, TOKEN, make_config, run_sync

from .builder import StoreBuilder

CONFIGURATIONS = [(unit, mode) for unit in ("contacts", "companies") for mode in ("inactivity", "property")]


def declared(unit: str, mode: str, churn_property: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for inputs in kpi_inputs(unit, mode, churn_property, keys=KPI_KEYS).values():
        for name in inputs.objects:
            out.setdefault(name, set()).update(inputs.property_names(name))
    return out


@pytest.fixture(scope="module")
def every_column(tmp_path_factory):
    """A store in which every object has a column for every property the sync reads, and a churn date."""
    store = StoreBuilder(tmp_path_factory.mktemp("catalogue") / "store.db")
    for name, obj in OBJECTS.items():
        store.columns(name, **obj.properties, **({"cancelled_on": "date"} if name in ("contacts", "companies") else {}))
    store.close()
    return store.path


@pytest.mark.parametrize("unit, mode", CONFIGURATIONS)
def test_the_queries_read_exactly_the_properties_the_catalogue_declares(every_column, monkeypatch, unit, mode):
    # Every property the queries look up, with the SQL reference they got for it; a property
    # counts as read when that reference is in a statement SQLite ran.
    looked_up: list[tuple[str, str, str]] = []
    column = StoreView.column

    def recording(self, table, prop, alias=None):
        ref = column(self, table, prop, alias)
        if ref is not None:
            looked_up.append((table, prop, ref))
        return ref

    monkeypatch.setattr(StoreView, "column", recording)
    monkeypatch.setattr(compute, "_in_two_lanes", lambda queries, first, second: (first(queries), second(queries)))
    statements: list[str] = []
    # (with pipeline filters: without them the pipelines are not read to filter)
    settings = MetricsSettings(timezone="UTC", customer_object=unit, deal_pipelines=("default",),
                               ticket_pipelines=("0",), churn=ChurnSettings(mode=mode, property="cancelled_on"))
    with open_store(every_column, create=False, readonly=True) as db:
        db.conn.set_trace_callback(statements.append)
        compute_kpis(db, parse_period("2025-Q3", "UTC"), settings)
    sql = "\n".join(statements)
    read: dict[str, set[str]] = {}
    for table, prop, ref in looked_up:
        if prop not in META_COLUMNS and ref in sql:
            read.setdefault(table, set()).add(prop)
    assert read == declared(unit, mode, "cancelled_on")


def test_every_declared_property_is_one_the_sync_reads():
    for unit, mode in CONFIGURATIONS:
        for name, properties in declared(unit, mode, "cancelled_on").items():
            assert properties - set(OBJECTS[name].properties) <= ({"cancelled_on"} if name == unit else set()), name


def _cli(server, config_path, db_path, *args):
    env = {"HUBSPOT_ACCESS_TOKEN": TOKEN, "HUBSPOT_API_BASE_URL": server.url, "HUBSPOT_METRICS_DB": str(db_path),
           "HUBSPOT_METRICS_CONFIG": str(config_path)}
    return CliRunner().invoke(cli, list(args), env=env)


def test_check_and_status_name_a_churn_property_the_portal_does_not_define(tmp_path):
    portal = generate_portal(scale=60, seed=21, now=NOW)
    config_path = tmp_path / "hubspot-metrics.toml"
    config_path.write_text('[metrics.churn]\nmode = "property"\nproperty = "cancelled_on"\n')
    warning = ("contacts property cancelled_on ([metrics.churn] property) is {}; customer_retention_rate, "
               "customer_lifetime_value, churn_rate cannot be computed without it")
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        checked = _cli(server, config_path, tmp_path / "store.db", "check")
        assert checked.exit_code == 0, checked.output
        assert checked.output.splitlines()[-3:] == [
            "",
            "Warning: " + warning.format("not defined in the portal") + ".",
            "Every KPI can be computed with this token."]

        # A store synced before the churn mode was switched to the property has no column for it.
        run_sync(make_config(server, tmp_path / "store.db"))
        status = _cli(server, config_path, tmp_path / "store.db", "status")
    assert status.exit_code == 0, status.output
    assert "  - " + warning.format("not in the store (run `hubspot-metrics sync`)") in status.output.splitlines()


def test_with_the_default_churn_mode_check_and_status_have_no_such_warning(tmp_path):
    portal = generate_portal(scale=60, seed=21, now=NOW)
    with PortalServer(portal, token=TOKEN, requests_per_10s=None, search_per_second=None) as server:
        config_path = tmp_path / "hubspot-metrics.toml"
        config_path.write_text("")
        checked = _cli(server, config_path, tmp_path / "store.db", "check")
        run_sync(make_config(server, tmp_path / "store.db"))
        status = _cli(server, config_path, tmp_path / "store.db", "status")
    assert checked.output.splitlines()[-2:] == ["", "Every KPI can be computed with this token."]
    assert "cannot be computed without it" not in status.output


def test_an_input_is_missing_only_when_none_of_its_alternatives_is_there():
    # The v2 lifecycle dates and the pipelines are absent, the legacy dates and the won flag's
    # fallback (the stage) are there: nothing is blocked.
    defined = {"contacts": {"hs_lifecyclestage_customer_date", "hs_lifecyclestage_lead_date", "createdate"},
               "deals": {"dealstage", "closedate", "amount", "createdate"}}
    assert kpis_missing_properties(defined, "contacts", "inactivity", "churn_date") == {}
    # Without the stage either, the won and closed flags block every KPI that reads a deal's outcome.
    defined["deals"] = {"closedate", "amount", "createdate"}
    outcome = ["customer_retention_rate", "customer_lifetime_value", "churn_rate", "avg_sales_cycle_days",
               "pipeline_velocity", "revenue", "win_rate"]
    assert kpis_missing_properties(defined, "contacts", "inactivity", "churn_date") == {
        ("deals", "hs_is_closed_won"): outcome, ("deals", "hs_is_closed"): outcome}
    # In property mode the churn date is an input of the customer unit, not the deals.
    assert kpis_missing_properties({"contacts": defined["contacts"]}, "contacts", "property", "churn_date") == {
        ("contacts", "churn_date"): ["customer_retention_rate", "customer_lifetime_value", "churn_rate"]}
