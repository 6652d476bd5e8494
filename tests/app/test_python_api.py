"""The Python API (`hubspot_metrics.open`): its DataFrames hold exactly what the CLI prints
and exports, its tables are typed, and importing the package loads no pandas."""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys

import pandas as pd
import pytest
from click.testing import CliRunner

import hubspot_metrics as hm
from hubspot_metrics.api import PERIOD_FIELDS
from hubspot_metrics.cli import cli
from hubspot_metrics.errors import ConfigError, StoreError
from hubspot_metrics.metrics import KPI_KEYS, LABELS
from hubspot_metrics.store import open_store


@pytest.fixture(autouse=True)
def no_user_settings(monkeypatch, tmp_path):
    # The resolution under test reads these; a developer's own must not leak in.
    for name in ("HUBSPOT_METRICS_DB", "HUBSPOT_METRICS_CONFIG", "HUBSPOT_ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def metrics(synced_store):
    return hm.open(synced_store)


def cli_json(store: str, *args: str) -> dict:
    result = CliRunner().invoke(cli, ["--db", store, "kpis", *args, "--format", "json"])
    assert (result.exit_code, result.stderr) == (0, ""), result.output
    return json.loads(result.stdout)


def plain(value):
    """A frame cell as JSON would hold it: NaN and NA are null, numpy numbers Python numbers."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def same_number(frame_value, json_value) -> bool:
    frame_value = plain(frame_value)
    if json_value is None or frame_value is None:
        return frame_value is None and json_value is None
    return math.isclose(frame_value, json_value, rel_tol=0, abs_tol=0)


PERIODS = [
    (["--period", "2026-10"], {"period": "2026-10"}),
    (["--period", "2026-Q3"], {"period": "2026-Q3"}),
    (["--period", "2026"], {"period": "2026"}),  # open: measured up to the sync
    (["--period", "last_month"], {"period": "last_month"}),
    (["--since", "2026-01-15", "--until", "2026-02-15"], {"since": "2026-01-15", "until": "2026-02-15"}),
]


@pytest.mark.parametrize("args, kwargs", PERIODS, ids=[" ".join(a) for a, _ in PERIODS])
def test_kpis_frame_equals_the_cli_json_on_every_key(synced_store, metrics, args, kwargs):
    expected = cli_json(synced_store, *args)
    frame = metrics.kpis(**kwargs)
    assert list(frame.index) == list(KPI_KEYS) == list(expected["kpis"])
    assert list(frame.columns) == ["value", "n", "reason", "unit", "label"]
    assert (str(frame["value"].dtype), str(frame["n"].dtype)) == ("float64", "int64")
    for key, kpi in expected["kpis"].items():
        row = frame.loc[key]
        assert same_number(row["value"], kpi["value"]), key
        assert (plain(row["n"]), plain(row["reason"]), row["unit"], row["label"]) == (
            kpi["n"], kpi["reason"], kpi["unit"], LABELS[key]), key
    assert frame.attrs == {field: expected[field] for field in PERIOD_FIELDS}


@pytest.mark.parametrize("by", ["owner", "pipeline", "source"])
@pytest.mark.parametrize("period", ["2026-Q3", "2026-11"])  # a closed quarter, the open month
def test_a_breakdown_frame_equals_the_cli_json_segment_by_segment(synced_store, metrics, by, period):
    expected = cli_json(synced_store, "--period", period, "--by", by)["breakdown"]
    frame = metrics.kpis(period, by=by)
    assert frame.index.name == by
    assert list(frame.columns) == ["label", "n", *KPI_KEYS]
    groups = expected["groups"]
    assert len(groups) > 1 and len(frame) == len(groups)
    assert [plain(i) for i in frame.index] == [g["key"] for g in groups]
    for (_, row), group in zip(frame.iterrows(), groups):
        assert (row["label"], plain(row["n"])) == (group["label"], group["n"])
        for key in KPI_KEYS:
            assert same_number(row[key], group["kpis"][key]["value"]), (group["key"], key)


def test_keys_narrow_the_frame_as_they_narrow_the_json(synced_store, metrics):
    expected = cli_json(synced_store, "--period", "2026-Q3", "--by", "owner", "--keys", "win_rate,revenue")
    assert list(expected["kpis"]) == ["revenue", "win_rate"]  # catalogue order
    assert all(list(g["kpis"]) == ["revenue", "win_rate"] for g in expected["breakdown"]["groups"])
    frame = metrics.kpis("2026-Q3", by="owner", keys=["win_rate", "revenue"])
    assert list(frame.columns) == ["label", "n", "revenue", "win_rate"]
    assert [same_number(v, g["kpis"]["revenue"]["value"])
            for v, g in zip(frame["revenue"], expected["breakdown"]["groups"])] == [True] * len(frame)


@pytest.mark.parametrize("wide", [False, True])
def test_history_holds_exactly_the_numbers_export_writes(synced_store, metrics, tmp_path, wide):
    out = tmp_path / "history.csv"
    result = CliRunner().invoke(cli, ["--db", synced_store, "export", "--out", str(out), "--periods", "4",
                                      *(["--wide"] if wide else [])])
    assert result.exit_code == 0, result.output
    written = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    frame = metrics.history(grain="month", periods=4, wide=wide)
    assert list(frame.columns) == written[0]
    assert len(frame) == len(written) - 1 == (4 if wide else 4 * len(KPI_KEYS))
    for (_, row), cells in zip(frame.iterrows(), written[1:]):
        for column, text in zip(written[0], cells):
            value = plain(row[column])
            if text == "":
                assert value is None, (column, value)
            elif isinstance(value, bool):  # wide's `partial`
                assert str(int(value)) == text
            elif isinstance(value, (int, float)):
                assert value == float(text), (column, value, text)
            else:
                assert value == text, column


def test_history_quarters_match_the_quarterly_export(synced_store, metrics, tmp_path):
    out = tmp_path / "q.csv"
    assert CliRunner().invoke(cli, ["--db", synced_store, "export", "--out", str(out), "--grain", "quarter",
                                    "--periods", "2"]).exit_code == 0
    written = pd.read_csv(out, dtype={"period": str})
    frame = metrics.history(grain="quarter", periods=2)
    assert list(frame["period"]) == list(written["period"])
    assert frame["value"].equals(written["value"].astype("float64"))
    assert list(frame["n"]) == list(written["n"])


def test_a_synced_table_comes_typed(synced_store, metrics):
    deals = metrics.table("deals")
    dtypes = {column: str(dtype) for column, dtype in deals.dtypes.items()}
    assert {c: dtypes[c] for c in ("id", "hs_object_id", "hubspot_owner_id", "merged_into", "dealstage")} == {
        c: "string" for c in ("id", "hs_object_id", "hubspot_owner_id", "merged_into", "dealstage")}
    assert {c: dtypes[c] for c in ("amount", "amount_in_home_currency")} == {
        "amount": "float64", "amount_in_home_currency": "float64"}
    assert {c: dtypes[c] for c in ("archived", "hs_is_closed_won")} == {"archived": "boolean",
                                                                        "hs_is_closed_won": "boolean"}
    for column in ("createdate", "closedate", "archived_at"):
        assert isinstance(deals[column].dtype, pd.DatetimeTZDtype) and str(deals[column].dt.tz) == "UTC", column

    with open_store(synced_store, create=False, readonly=True) as db:
        stored = db.conn.execute("SELECT id, amount, createdate, hs_is_closed_won, hs_object_id FROM deals "
                                 "ORDER BY rowid").fetchall()
        unparsable = {r[0] for r in db.conn.execute(
            "SELECT record_id FROM value_issues WHERE object_type = 'deals' AND property = 'amount'")}
    assert list(deals["id"]) == [r[0] for r in stored]
    first = deals.iloc[0]
    assert (first["createdate"], plain(first["hs_is_closed_won"]), first["hs_object_id"]) == (
        pd.Timestamp(stored[0][2]), None if stored[0][3] is None else bool(stored[0][3]), str(int(stored[0][4])))
    # amounts: the stored numbers, and NaN where HubSpot's value did not parse
    assert unparsable
    by_id = dict(zip(deals["id"], deals["amount"]))
    for rid, amount, *_ in stored:
        expected = None if rid in unparsable or amount is None else amount
        assert plain(by_id[rid]) == expected, rid


def test_reference_and_association_tables_come_typed(metrics):
    owners = metrics.table("owners")
    assert {c: str(t) for c, t in owners.dtypes.items() if c in ("id", "userId", "archived")} == {
        "id": "string", "userId": "string", "archived": "boolean"}
    assert owners["archived"].any() and not owners["archived"].all()  # deactivated owners are kept
    links = metrics.table("associations_deals_contacts")
    assert [str(t) for t in links.dtypes[["deal_id", "contact_id"]]] == ["string", "string"]


def test_an_unknown_table_is_one_sentence(metrics):
    with pytest.raises(ConfigError) as refused:
        metrics.table("sync_state")
    assert str(refused.value) == (
        "There is no synced table 'sync_state'; use one of contacts, companies, deals, tickets, feedback_submissions, "
        "owners, pipelines, pipeline_stages, account, associations_deals_contacts, associations_deals_companies, "
        "associations_contacts_companies, associations_tickets_contacts, associations_feedback_submissions_contacts.")


@pytest.mark.parametrize("call, error, message", [
    (lambda m: m.kpis("2026-13"), ConfigError, "The period '2026-13' has no month 13; use 2026-10 (month), "
                                               "2026-Q3 (quarter), 2026 (year) or --since 2026-01-15 --until "
                                               "2026-02-15."),
    (lambda m: m.kpis("2027-01"), ConfigError, None),  # after the last sync
    (lambda m: m.kpis("2026-10", by="team"), ConfigError, "--by 'team' is not a breakdown; use owner, pipeline "
                                                          "or source."),
    (lambda m: m.kpis("2026-10", keys=["revenue", "profit"]), ConfigError, None),
    (lambda m: m.history(periods=0), ConfigError, "--periods must be 1 or more."),
])
def test_errors_are_the_cli_sentences(synced_store, metrics, call, error, message):
    with pytest.raises(error) as refused:
        call(metrics)
    text = str(refused.value)
    assert "\n" not in text and text.endswith(".")
    if message is not None:
        assert text == message


def test_the_same_error_reaches_the_cli_user(synced_store):
    result = CliRunner().invoke(cli, ["--db", synced_store, "kpis", "--period", "2026-10", "--keys", "revenue,profit"])
    with pytest.raises(ConfigError) as refused:
        hm.open(synced_store).kpis("2026-10", keys=["revenue", "profit"])
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", f"Error: {refused.value}\n")
    assert str(refused.value).startswith("'profit' is not a KPI key; use any of cac, customer_retention_rate, ")


def test_open_resolves_the_store_and_config_as_the_cli_does(synced_store, tmp_path, monkeypatch):
    config = tmp_path / "hubspot-metrics.toml"
    config.write_text(f'[store]\npath = "{synced_store}"\n\n[metrics]\ntimezone = "America/New_York"\n')
    m = hm.open()  # ./hubspot-metrics.toml, as the CLI finds it
    assert m.config.store_path == synced_store
    expected = cli_json(synced_store, "--period", "2026-10")  # (the CLI reads the same file)
    assert expected["timezone"] == "America/New_York"
    assert m.kpis("2026-10").attrs["timezone"] == "America/New_York"
    assert {k: plain(v) for k, v in m.kpis("2026-10")["value"].items()} == {
        k: v["value"] for k, v in expected["kpis"].items()}

    elsewhere = tmp_path / "other.toml"
    elsewhere.write_text('[metrics]\ntimezone = "UTC"\n')
    monkeypatch.setenv("HUBSPOT_METRICS_DB", synced_store)
    assert hm.open(config=str(elsewhere)).kpis("2026-10").attrs["timezone"] == "UTC"
    monkeypatch.setenv("HUBSPOT_METRICS_CONFIG", str(elsewhere))
    assert hm.open().config.metrics.timezone == "UTC"
    with pytest.raises(StoreError) as refused:  # the argument beats the environment
        hm.open(str(tmp_path / "absent.db"))
    assert str(refused.value) == (f"No store at {tmp_path / 'absent.db'}; run `hubspot-metrics sync` first (or point "
                                  "--db / HUBSPOT_METRICS_DB at it).")


def test_importing_the_package_and_opening_a_store_loads_no_pandas(synced_store):
    script = ("import sys, hubspot_metrics as hm\n"
              f"m = hm.open({synced_store!r})\n"
              "print(sorted(name for name in ('pandas', 'numpy') if name in sys.modules))\n"
              "m.kpis('2026-10')\n"
              "print('pandas' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines() == ["[]", "True"]


@pytest.mark.parametrize("args, kwargs", [(["--period", "2026-Q3"], {"period": "2026-Q3"}),
                                          (["--period", "2026", "--all"], {"period": "2026", "all": True})],
                         ids=["closed quarter", "open year with --all"])
def test_explain_frame_holds_exactly_the_rows_the_cli_prints_for_every_key(synced_store, metrics, args, kwargs):
    for key in KPI_KEYS:
        result = CliRunner().invoke(cli, ["--db", synced_store, "explain", key, *args, "--format", "json"])
        assert (result.exit_code, result.stderr) == (0, ""), result.output
        expected = json.loads(result.stdout)
        frame = metrics.explain(key, **kwargs)
        assert list(frame.columns) == expected["columns"], key
        got = [{c: plain(v) for c, v in row.items()} for row in frame.to_dict("records")]
        assert got == expected["rows"], key
        assert frame.attrs["kpi"] == expected["kpi"] and frame.attrs["as_of"] == expected["as_of"], key
        if "--all" not in args:
            assert len(frame) == expected["kpi"]["n"], key
