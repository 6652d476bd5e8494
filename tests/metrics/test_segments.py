"""Breakdowns people can compare: readable segment labels, the segment's n, and the one
table of `kpis --by` (a row per segment, a column per KPI)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from hubspot_metrics.cli import cli
from hubspot_metrics.metrics.segments import owner_labels, pipeline_labels, segment_labels

from .builder import StoreBuilder
from .conftest import kpis


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_owner_labels_mark_deactivated_owners_and_tell_namesakes_apart(store):
    store.owner("1", "Jane", "Roe", "jane@a.example").owner("2", "Jane", "Roe ", "jane@b.example", archived=True)
    store.owner("3", "Sam", "Poe").owner("4", "sam", "poe")  # one name, no email: the ids tell them apart
    store.owner("5", None, " ", "queue@x.example").owner("6", "Ann", "Lee", "ann@x.example", archived=True)
    store.owner("7", "Max", "Ray", "max@x.example").owner("8", "Max", "Ray", "max@x.example")  # a shared email
    assert owner_labels(store.conn) == {
        "1": "Jane Roe (jane@a.example)", "2": "Jane Roe (deactivated, jane@b.example)",
        "3": "Sam Poe (id 3)", "4": "sam poe (id 4)", "5": "queue@x.example", "6": "Ann Lee (deactivated)",
        "7": "Max Ray (id 7)", "8": "Max Ray (id 8)"}


def test_pipeline_labels_name_the_object_type_or_id_only_where_two_share_a_label(store):
    store.pipeline("deals", "default", {}, label="Sales").pipeline("tickets", "0", {}, label="Sales")
    store.pipeline("deals", "r1", {}, label="Renewals").pipeline("deals", "r2", {}, label="Renewals")
    store.pipeline("tickets", "9", {}, label="Support").pipeline("deals", "old", {}, label="Old deals")
    store.conn.execute("UPDATE pipelines SET archived = 1 WHERE id = 'old'")
    assert pipeline_labels(store.conn) == {
        "default": "Sales (deals)", "0": "Sales (tickets)", "r1": "Renewals (id r1)", "r2": "Renewals (id r2)",
        "9": "Support", "old": "Old deals (archived)"}


def test_source_labels_come_from_the_property_options_the_sync_stored(store):
    store.add("contacts", "c1", hs_analytics_source="DIRECT_TRAFFIC")
    assert segment_labels(store.conn, "source", "contacts") == {}  # no options stored: the raw value stays
    options = [{"value": "DIRECT_TRAFFIC", "label": "Direct traffic"}, {"value": "PAID_SOCIAL", "label": "Paid social"}]
    store.conn.execute("UPDATE properties SET options = ? WHERE object_type = 'contacts' AND name = "
                       "'hs_analytics_source'", [json.dumps(options)])
    assert segment_labels(store.conn, "source", "contacts") == {"DIRECT_TRAFFIC": "Direct traffic",
                                                                 "PAID_SOCIAL": "Paid social"}
    assert segment_labels(store.conn, "source", "companies") == {}


def test_segments_carry_their_n_and_come_largest_first(store):
    store.owner("7", "Jane", "Roe").owner("8", "Al", "Bo")
    store.pipeline("deals", "default", {"closedwon": (True, 1.0)}, label="Sales Pipeline")
    for i in range(3):  # Al: three deals created in the period
        store.add("deals", f"d{i}", createdate="2024-01-02", pipeline="default", hubspot_owner_id="8")
    store.add("deals", "d9", createdate="2023-12-01", pipeline="default", hubspot_owner_id="7")  # open at the start
    store.add("contacts", "c1", hs_lifecyclestage_lead_date="2024-01-03", hubspot_owner_id="7")
    store.add("tickets", "t1", createdate="2024-01-05", hubspot_owner_id="9")  # an owner the store does not know
    groups = kpis(store, "2024-01", by="owner")["breakdown"]["groups"]
    assert [(g["key"], g["label"], g["n"]) for g in groups] == [("8", "Al Bo", 3), ("7", "Jane Roe", 2),
                                                                 ("9", "9", 1)]


@pytest.fixture
def small_store(tmp_path):
    store = StoreBuilder(tmp_path / "store.db")
    store.owner("7", "Jane", "Roe", "jane@x.example").owner("8", "Al", "Bo", archived=True)
    store.pipeline("deals", "default", {"closedwon": (True, 1.0), "closedlost": (True, 0.0)}, label="Sales Pipeline")
    store.add("deals", "d1", createdate="2024-01-02", closedate="2024-01-12", pipeline="default", dealstage="closedwon",
              hs_is_closed_won=True, amount=125000, hubspot_owner_id="7")
    store.add("deals", "d2", createdate="2024-01-03", closedate="2024-01-09", pipeline="default",
              dealstage="closedlost", hs_is_closed_won=False, hs_is_closed=True, amount=10, hubspot_owner_id="7")
    store.add("deals", "d3", createdate="2023-12-01", pipeline="default", amount=500, hubspot_owner_id="8")
    store.add("contacts", "c1", hs_lifecyclestage_lead_date="2024-01-03", hs_lifecyclestage_customer_date="2024-01-20",
              hubspot_owner_id="8")
    store.close()
    return str(tmp_path / "store.db")


def test_the_by_table_is_one_table_with_a_row_per_segment_and_the_totals_last(small_store):
    result = run("--db", small_store, "kpis", "--period", "2024-01", "--by", "owner")
    assert (result.exit_code, result.stderr) == (0, "")
    # (totals: velocity = 1 open deal at the start · 125,000 · 50 % / 10 days; Jane has no deal open at the
    # start, so 0; Al's open deal has no closed deal beside it; the tie at n = 2 goes by label)
    assert result.stdout == """\
KPIs for 2024-01 by owner: 2024-01-01 00:00 to 2024-02-01 00:00 (time zone UTC, end exclusive)

Owner                n  CAC EUR  Retention  CLV EUR  Conversion  Churn  NPS  CSAT  1st reply  Cycle  Velocity EUR/d
-------------------  -  -------  ---------  -------  ----------  -----  ---  ----  ---------  -----  --------------
Al Bo (deactivated)  2        –        n/a        –      100.0%    n/a    –     –        n/a    n/a             n/a
Jane Roe             2        –        n/a        –         n/a    n/a    –     –        n/a  10.0d            0.00
-------------------  -  -------  ---------  -------  ----------  -----  ---  ----  ---------  -----  --------------
All                  4      n/a        n/a      n/a      100.0%    n/a  n/a   n/a        n/a  10.0d           6,250

n: customers active at the start + leads + deals open at the start or created + tickets created in the period (rows sorted by it).
–: not computed by owner; n/a: no value (the reason is in --format json or csv).

Data quality: 1 warning(s)
  - 1 open deal was created more than 3 average sales cycles (30.0 days) before the end of the period; stale deals inflate pipeline_velocity (close or delete
    them in HubSpot).
"""


def test_keys_choose_the_columns_of_the_table_and_the_keys_of_json_and_csv(small_store):
    table = run("--db", small_store, "kpis", "--period", "2024-01", "--by", "owner", "--keys", "win_rate, revenue")
    assert table.stdout.splitlines()[2:7] == [
        "Owner                n  Revenue EUR  Win rate",
        "-------------------  -  -----------  --------",
        "Al Bo (deactivated)  2         0.00       n/a",
        "Jane Roe             2       125.0k     50.0%",
        "-------------------  -  -----------  --------"]
    output = json.loads(run("--db", small_store, "kpis", "--period", "2024-01", "--by", "owner", "--keys",
                            "win_rate,revenue", "--format", "json").stdout)
    assert list(output["kpis"]) == ["revenue", "win_rate"]
    assert [(g["key"], g["label"], g["n"], list(g["kpis"])) for g in output["breakdown"]["groups"]] == [
        ("8", "Al Bo (deactivated)", 2, ["revenue", "win_rate"]), ("7", "Jane Roe", 2, ["revenue", "win_rate"])]
    csv_lines = run("--db", small_store, "kpis", "--period", "2024-01", "--by", "owner", "--keys", "win_rate,revenue",
                    "--format", "csv").stdout.splitlines()
    bounds = "2024-01,2024-01-01T00:00:00+00:00,2024-02-01T00:00:00+00:00,2024-02-01T00:00:00+00:00,false"
    assert csv_lines == [
        "period,start,end,as_of,partial,key,value,n,reason,unit,currency,by,group,group_label",
        f"{bounds},revenue,125000.0,1,,currency,EUR,,,", f"{bounds},win_rate,50.0,2,,percent,EUR,,,",
        f"{bounds},revenue,0.0,0,,currency,EUR,owner,8,Al Bo (deactivated)",
        f"{bounds},win_rate,,0,no_closed_deals,percent,EUR,owner,8,Al Bo (deactivated)",
        f"{bounds},revenue,125000.0,1,,currency,EUR,owner,7,Jane Roe",
        f"{bounds},win_rate,50.0,2,,percent,EUR,owner,7,Jane Roe"]


@pytest.mark.parametrize("keys, message", [
    ("revenue,profit", "Error: 'profit' is not a KPI key; use any of cac, customer_retention_rate, "),
    (" , ", "Error: --keys needs at least one KPI key, e.g. --keys revenue,win_rate.\n"),
])
def test_an_unknown_or_empty_key_list_ends_in_one_sentence(small_store, keys, message):
    result = run("--db", small_store, "kpis", "--period", "2024-01", "--by", "owner", "--keys", keys)
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1


def test_every_catalogue_key_has_a_short_column_header():
    from hubspot_metrics.metrics import KPI_KEYS
    from hubspot_metrics.metrics.render import SHORT_LABELS

    assert list(SHORT_LABELS) == list(KPI_KEYS)
    assert max(len(label) for label in SHORT_LABELS.values()) <= 11
