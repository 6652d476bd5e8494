"""`hubspot-metrics explain KEY`: whole outputs in each format, and one sentence per user error."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from hubspot_metrics import app
from hubspot_metrics.cli import cli
from hubspot_metrics.config import Config

from .builder import StoreBuilder
from .conftest import with_default_pipeline

URL = "https://app-eu1.hubspot.com/contacts/4242/record/0-3/"
# id: (name, create, close, stage, amount, owner)
DEALS = {
    "D1": ('=HYPERLINK("http://x")', "2024-01-01", "2024-01-31", "closedwon", 3000, "101"),
    "D2": ("Big\rrenewal", "2024-01-10", "2024-03-10", "closedwon", 6000, "102"),
    "D3": ("<script>alert(1)</script>", "2024-02-01", "2024-02-16", "closedwon", 1500, "101"),
    "D4": ("Lost one", "2024-01-05", "2024-02-05", "closedlost", 2000, "101"),
    "D5": ("No amount", "2024-02-01", "2024-03-01", "closedwon", None, "102"),
    "D6": ("Open", "2024-03-01", None, "appointmentscheduled", 5000, "101"),
}


@pytest.fixture(autouse=True)
def no_config_file_around(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HUBSPOT_METRICS_CONFIG", raising=False)
    monkeypatch.delenv("HUBSPOT_METRICS_DB", raising=False)


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("explain-cli") / "store.db"
    store = StoreBuilder(path)
    store.conn.execute("UPDATE account SET portalId = 4242, uiDomain = 'app-eu1.hubspot.com'")
    with_default_pipeline(store)
    for did, (name, created, closed, stage, amount, owner) in DEALS.items():
        store.add("deals", did, dealname=name, createdate=created, closedate=closed, dealstage=stage,
                  pipeline="default", amount=amount, deal_currency_code="EUR", hs_is_closed=stage.startswith("closed"),
                  hs_is_closed_won=stage == "closedwon", hubspot_owner_id=owner)
    store.close()
    return str(path)


def run(db, *args):
    return CliRunner().invoke(cli, ["--db", db, "explain", *args])


def test_csv_lists_the_won_deals_with_an_amount_spreadsheet_safe(db):
    result = run(db, "revenue", "--period", "2024-Q1", "--format", "csv")
    assert result.exit_code == 0, result.output
    # a bare carriage return in a label is quoted; a formula is defused
    assert result.stdout_bytes.decode() == (
        "object,id,label,url,role,value,createdate,closedate\n"
        f'deals,D2,"Big\rrenewal",{URL}D2,won,6000.0,2024-01-10T00:00:00.000Z,2024-03-10T00:00:00.000Z\n'
        f"deals,D1,\"'=HYPERLINK(\"\"http://x\"\")\",{URL}D1,won,3000.0,2024-01-01T00:00:00.000Z,"
        "2024-01-31T00:00:00.000Z\n"
        f"deals,D3,<script>alert(1)</script>,{URL}D3,won,1500.0,2024-02-01T00:00:00.000Z,2024-02-16T00:00:00.000Z\n")


def test_all_adds_the_won_deal_without_an_amount_with_its_reason(db):
    result = run(db, "avg_deal_size", "--period", "2024-Q1", "--format", "csv", "--all")
    assert result.exit_code == 0, result.output
    lines = result.stdout_bytes.decode().split("\n")[:-1]
    assert lines[0] == "object,id,label,url,role,value,createdate,closedate,reason"
    assert lines[-1] == f"deals,D5,No amount,{URL}D5,excluded,,2024-02-01T00:00:00.000Z,2024-03-01T00:00:00.000Z,no_amount"
    assert len(lines) == 1 + 3 + 1


def test_json_is_the_outcome_of_app_explain(db):
    result = run(db, "win_rate", "--period", "2024-Q1", "--format", "json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    deal = lambda did, role: {"object": "deals", "id": did, "label": DEALS[did][0], "url": URL + did, "role": role,
                              "value": float(DEALS[did][4]) if DEALS[did][4] else None,
                              "createdate": DEALS[did][1] + "T00:00:00.000Z", "closedate": DEALS[did][2] + "T00:00:00.000Z"}
    assert out == {
        "key": "win_rate", "period": "2024-Q1", "start": "2024-01-01T00:00:00+00:00",
        "end": "2024-04-01T00:00:00+00:00", "as_of": "2024-04-01T00:00:00+00:00", "partial": False,
        "timezone": "UTC", "currency": "EUR", "by": None, "segment": None,
        "kpi": {"value": 80.0, "n": 5, "reason": None, "unit": "percent"},
        "columns": ["object", "id", "label", "url", "role", "value", "createdate", "closedate"],
        "rows": [deal("D4", "lost"), deal("D2", "won"), deal("D1", "won"), deal("D3", "won"), deal("D5", "won")],
    }
    outcome = app.explain(Config(store_path=db), "win_rate", period="2024-Q1")
    assert outcome.as_dict() == out


def test_the_table_names_the_kpi_and_prints_one_line_per_record(db):
    result = run(db, "deals_lost", "--period", "2024-Q1")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "Deals lost (deals_lost) for 2024-Q1: 2024-01-01 00:00 to 2024-04-01 00:00 (time zone UTC)",
        "1, n = 1",
        "",
        "object  id  label     url                                                      role     value  createdate"
        "                closedate",
        "------  --  --------  -------------------------------------------------------  ----  --------  "
        "------------------------  ------------------------",
        f"deals   D4  Lost one  {URL}D4  lost  2,000.00  2024-01-05T00:00:00.000Z  2024-02-05T00:00:00.000Z",
    ]


def test_a_null_kpi_prints_its_reason_and_no_rows(db):
    result = run(db, "nps", "--period", "2024-Q1")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1:] == ["n/a: no responses, n = 0", "No records to list."]


def test_a_segment_lists_only_its_records(db):
    result = run(db, "deals_won", "--period", "2024-Q1", "--owner", "101", "--format", "json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert (out["by"], out["segment"], out["kpi"]["n"]) == ("owner", "101", 2)
    assert [r["id"] for r in out["rows"]] == ["D1", "D3"]
    for same in (["--by", "owner", "--segment", "101"], ["--by", "owner", "--owner", "101"]):
        again = run(db, "deals_won", "--period", "2024-Q1", *same, "--format", "json")
        assert json.loads(again.output) == out
    clash = run(db, "deals_won", "--period", "2024-Q1", "--by", "pipeline", "--owner", "101")
    assert (clash.exit_code, clash.output) == (
        2, "Error: --owner 101 is not a pipeline; give one segment, e.g. --owner 101 alone.\n")


def test_out_writes_the_file(db, tmp_path):
    target = tmp_path / "won.csv"
    result = run(db, "deals_won", "--period", "2024-Q1", "--format", "csv", "--out", str(target))
    assert (result.exit_code, result.output) == (0, f"wrote {target}: 4 rows\n")
    assert target.read_bytes() == run(db, "deals_won", "--period", "2024-Q1", "--format", "csv").stdout_bytes


@pytest.mark.parametrize("args, message", [
    (["revenu", "--period", "2024-Q1"], "Error: 'revenu' is not a KPI key; did you mean revenue, revenue_per_day?"),
    (["revenue", "--period", "2031-01"], "Error: The period 2031-01 starts at or after 2026-01-01 00:00:00 UTC, the "
                                         "instant the store is complete to (the start of its last completed sync); "
                                         "choose an earlier period, or sync."),
    (["revenue", "--period", "2024-Q1", "--owner", "999"],
     "Error: The owner '999' has no records in 2024-Q1; owners with records: 101, 102."),
    (["revenue", "--period", "2024-Q1", "--by", "owner"],
     "Error: A segment is a breakdown and one of its values: --owner ID, --pipeline ID or --source VALUE (or --by "
     "owner|pipeline|source with --segment VALUE)."),
])
def test_user_errors_are_one_sentence_and_exit_2(db, args, message):
    result = run(db, *args)
    assert (result.exit_code, result.output) == (2, message + "\n")


def test_out_refuses_the_store_itself_before_any_work(db):
    result = run(db, "revenue", "--period", "2024-Q1", "--format", "csv", "--out", db)
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1 and "store" in result.output
