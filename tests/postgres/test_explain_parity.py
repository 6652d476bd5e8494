"""`explain` on a postgresql:// store lists the records it lists on SQLite: every KPI key, a
closed quarter and the open month, with and without the left-out records (`include_all`)."""

from __future__ import annotations

import pytest

from hubspot_metrics import app
from hubspot_metrics.config import load_config
from hubspot_metrics.metrics import KPI_KEYS
from tests.postgres.test_kpi_commands_on_postgres import config_file, portal, twins  # noqa: F401 (fixtures)
from tests.postgres.test_kpi_parity import assert_equal

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
