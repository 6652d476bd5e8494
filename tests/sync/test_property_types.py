"""A property whose definition changes in HubSpot: the stored column follows the new type."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hubspot_metrics.config import ChurnSettings, MetricsSettings
from hubspot_metrics.metrics import compute_kpis
from hubspot_metrics.periods import period_from_range
from hubspot_metrics.portal.schema import Prop
from hubspot_metrics.store import open_store

from .conftest import make_config, run_sync

CHURN = MetricsSettings(churn=ChurnSettings(mode="property", property="churn_date"))
YEAR = period_from_range("2025-11-01", "2026-11-01", "UTC")


def churn_config(server, db_path):
    config = make_config(server, db_path, objects=("contacts",))
    return replace(config, metrics=CHURN)


def churn_rate(db_path) -> dict:
    with open_store(db_path, create=False) as db:
        return compute_kpis(db, YEAR, CHURN)["kpis"]["churn_rate"]


def column(db_path, name: str) -> tuple[str, dict, dict]:
    """(the properties row's type, id -> stored value, id -> raw value of value_issues)."""
    with open_store(db_path, create=False) as db:
        typ = db.conn.execute("SELECT type FROM properties WHERE object_type = 'contacts' AND name = ?",
                              [name]).fetchone()[0]
        values = dict(db.conn.execute(f'SELECT id, "{name}" FROM contacts WHERE "{name}" IS NOT NULL'))
        issues = dict(db.conn.execute("SELECT record_id, raw_value FROM value_issues WHERE property = ?", [name]))
        return typ, values, issues


@pytest.mark.parametrize("full", [False, True], ids=["sync", "sync --full"])
def test_a_churn_date_defined_after_its_values_were_stored_is_retyped(portal, server, tmp_path, full):
    contacts = portal.table("contacts")
    definition = contacts.props.pop("churn_date")  # HubSpot serves the values but does not define it yet
    config = churn_config(server, tmp_path / "store.db")
    result, _ = run_sync(config)
    assert result.warnings == ["HubSpot does not define the contacts property churn_date named in the config "
                               "(deleted, or misspelled?); its column stays, empty in every record read from now on."]
    typ, as_text, _ = column(config.store_path, "churn_date")
    assert typ == "string" and any(len(v) == 10 for v in as_text.values())  # dates kept as HubSpot's text
    assert churn_rate(config.store_path)["value"] == 0.0  # the KPI cannot read text as dates

    contacts.props["churn_date"] = definition  # now a date property, no record changed
    result, _ = run_sync(config, full=full)
    assert (result.status, result.warnings) == ("ok", [])

    reference = churn_config(server, tmp_path / "reference.db")  # a fresh store of the same portal
    run_sync(reference)
    assert column(config.store_path, "churn_date") == column(reference.store_path, "churn_date")
    typ, values, _ = column(config.store_path, "churn_date")
    assert typ == "date" and len(values) > 10
    assert churn_rate(config.store_path) == churn_rate(reference.store_path)
    assert churn_rate(config.store_path)["value"] > 0


def test_a_text_property_redefined_as_a_number_becomes_a_real_column(portal, server, tmp_path):
    ids = sorted((r["id"] for r in portal.records("contacts")), key=int)[:3]
    for cid, raw in zip(ids, ("12", "0.5", "many")):
        portal.update("contacts", cid, {"seats": raw})  # a custom text property, defined on first use
    base = make_config(server, tmp_path / "store.db", objects=("contacts",))
    config = replace(base, sync=replace(base.sync, extra_properties={"contacts": ("seats",)}))
    run_sync(config)
    assert column(config.store_path, "seats") == ("string", dict(zip(ids, ("12", "0.5", "many"))), {})

    contacts = portal.table("contacts")
    contacts.props["seats"] = Prop("seats", "number", "number", "Seats", "custom", hubspot_defined=False)
    run_sync(config, full=True)
    assert column(config.store_path, "seats") == ("number", {ids[0]: 12.0, ids[1]: 0.5, ids[2]: "many"},
                                                  {ids[2]: "many"})
    db = open_store(config.store_path, create=False)
    assert db.conn.execute("SELECT type FROM pragma_table_info('contacts') WHERE name = 'seats'").fetchone() == ("REAL",)
    db.conn.close()
