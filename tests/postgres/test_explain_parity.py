"""`explain` on a postgresql:// store lists the records it lists on SQLite: every KPI key, a
closed quarter and the open month, with and without the left-out records (`include_all`), on
a clean portal through `app.explain` and on one with garbage values (test_kpi_parity's)."""

from __future__ import annotations

import pytest

from hubspot_metrics import app
from hubspot_metrics.config import load_config
from hubspot_metrics.metrics import KPI_KEYS, compute_kpis
from hubspot_metrics.metrics.explain import Explainer, explain_kpi
from hubspot_metrics.periods import measured_up_to
from tests.postgres.test_kpi_commands_on_postgres import config_file, portal, twins  # noqa: F401 (fixtures)
from tests.postgres.test_kpi_parity import (  # noqa: F401 (stores: a fixture)
    CHURN_MODES, UNITS, assert_equal, both, period_of, settings_for, stores)
from tests.sync.conftest import NOW

PERIODS = ("last_quarter", "month_to_date")


@pytest.mark.parametrize("include_all", [False, True], ids=["counted", "all"])
def test_explain_lists_the_same_records_on_both_stores(pg_server, twins, include_all):
    folder, schema = twins
    on_sqlite = load_config(config_file(folder, None), str(folder / "store.db"))
    on_postgres = load_config(config_file(folder, schema), pg_server.url)
    listed = left_out = 0
    for period in PERIODS:
        for key in KPI_KEYS:
            expected = app.explain(on_sqlite, key, period=period, include_all=include_all)
            actual = app.explain(on_postgres, key, period=period, include_all=include_all)
            assert (actual.period, actual.columns) == (expected.period, expected.columns), (period, key)
            assert_equal(actual.rows, expected.rows, f"{period}/{key}")
            listed += len(expected.rows)
            left_out += sum(1 for r in expected.rows if r.get("reason") is not None)
    # Not an empty comparison: both periods list records, and --all adds left-out ones.
    assert listed > 500
    assert (left_out > 0) == include_all


# Each unit and each churn mode once (every combination would double the time, not the reach).
@pytest.mark.parametrize("unit, mode", list(zip(UNITS, CHURN_MODES)))
def test_explain_lists_the_same_records_on_both_stores_with_unparsable_values(stores, unit, mode):
    """The portal with garbage typed into its instants, numbers and flags: the left-out records
    and their reasons (unparsable dates and amounts, no reply, ...) agree too, and so do the
    records of one owner's segment."""
    sqlite_db, pg_db = both(stores)
    reasons: set[str] = set()
    segments = 0
    with sqlite_db, pg_db:
        settings = settings_for(sqlite_db, unit, mode)
        for text in ("2026-Q3", "2026-11"):
            period = period_of(text, settings.timezone)
            measured = measured_up_to(period, NOW)
            owners = [g["key"] for g in compute_kpis(sqlite_db, period, settings, by="owner", now=NOW)
                      ["breakdown"]["groups"] if g["key"] is not None]
            for key in KPI_KEYS:
                expected = explain_kpi(sqlite_db, period, settings, key, now=NOW, include_all=True)
                actual = explain_kpi(pg_db, period, settings, key, now=NOW, include_all=True)
                assert (actual.kpi, actual.columns) == (expected.kpi, expected.columns), (text, key)
                assert_equal(actual.rows, expected.rows, f"{unit}/{mode}/{text}/{key}")
                reasons |= {r["reason"] for r in expected.rows if r.get("reason")}
                # (the rows alone: an owner may have no records of this key's family)
                segment = dict(by="owner", segment=owners[len(owners) // 2])
                expected = Explainer(sqlite_db, measured, settings).rows(key, **segment)
                assert_equal(Explainer(pg_db, measured, settings).rows(key, **segment), expected,
                             f"{unit}/{mode}/{text}/{key}/owner")
                segments += len(expected)
    assert segments > 0
    assert {"unparsable_customer_date", "unparsable_closedate", "unparsable_amount", "no_reply",
            "archived"} <= reasons
