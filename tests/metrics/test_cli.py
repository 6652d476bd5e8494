"""`hubspot-metrics kpis`: whole outputs in each format, and one sentence for each user error."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from hubspot_metrics.cli import cli
from hubspot_metrics.config import MetricsSettings
from hubspot_metrics.metrics import compute_kpis
from hubspot_metrics.periods import parse_period
from hubspot_metrics.store import open_store

from .builder import StoreBuilder
from .test_worked_examples import add_worked_deals

BOUNDS = "2024-Q1,2024-01-01T00:00:00+00:00,2024-04-01T00:00:00+00:00,2024-04-01T00:00:00+00:00,false"
WORKED_DEALS_CSV = f"""period,start,end,as_of,partial,key,value,n,reason,unit,currency
{BOUNDS},cac,,0,spend_not_configured,currency,EUR
{BOUNDS},customer_retention_rate,,0,no_customers_at_start,percent,EUR
{BOUNDS},customer_lifetime_value,,0,no_customers_at_start,currency,EUR
{BOUNDS},conversion_rate,,0,no_leads,percent,EUR
{BOUNDS},churn_rate,,0,no_customers_at_start,percent,EUR
{BOUNDS},nps,,0,no_responses,score,EUR
{BOUNDS},csat,,0,no_responses,percent,EUR
{BOUNDS},avg_first_response_hours,,0,no_replied_tickets,hours,EUR
{BOUNDS},avg_sales_cycle_days,35.0,3,,days,EUR
{BOUNDS},pipeline_velocity,0.0,0,,currency_per_day,EUR
{BOUNDS},new_customers,0,0,,count,EUR
{BOUNDS},leads,0,0,,count,EUR
{BOUNDS},customers_at_start,0,0,,count,EUR
{BOUNDS},customers_retained,0,0,,count,EUR
{BOUNDS},revenue,10500.0,3,,currency,EUR
{BOUNDS},paying_customers,0,0,,count,EUR
{BOUNDS},revenue_per_customer,,0,no_paying_customers,currency,EUR
{BOUNDS},deals_won,3,3,,count,EUR
{BOUNDS},deals_lost,2,2,,count,EUR
{BOUNDS},win_rate,60.0,5,,percent,EUR
{BOUNDS},avg_deal_size,3500.0,3,,currency,EUR
{BOUNDS},new_deals,6,6,,count,EUR
{BOUNDS},open_deals_at_start,0,0,,count,EUR
{BOUNDS},active_customers,0,0,,count,EUR
{BOUNDS},arpa,,0,no_active_customers,currency_per_month,EUR
{BOUNDS},monthly_churn_rate,,0,no_customers_at_start,percent,EUR
{BOUNDS},revenue_per_day,115.384615,3,,currency_per_day,EUR
{BOUNDS},lead_to_customer_days,,0,no_new_customers,days,EUR
{BOUNDS},median_sales_cycle_days,30.0,3,,days,EUR
{BOUNDS},deal_throughput,0.032967,3,,per_day,EUR
{BOUNDS},pipeline_speed,0.085714,3,,per_day,EUR
{BOUNDS},spend,,0,spend_not_configured,currency,EUR
{BOUNDS},ltv_to_cac,,0,no_customers_at_start,ratio,EUR
{BOUNDS},open_deals,1,1,,count,EUR
{BOUNDS},open_pipeline_value,5000.0,1,,currency,EUR
{BOUNDS},nps_responses,0,0,,count,EUR
{BOUNDS},csat_responses,0,0,,count,EUR
{BOUNDS},tickets_created,0,0,,count,EUR
{BOUNDS},tickets_unanswered,0,0,,count,EUR
{BOUNDS},median_first_response_hours,,0,no_replied_tickets,hours,EUR
"""

WORKED_DEALS_TABLE = """\
KPIs for 2024-Q1: 2024-01-01 00:00 to 2024-04-01 00:00 (time zone UTC, end exclusive)

KPI                                                value  n
----------------------------  --------------------------  -
Customer acquisition cost      n/a: spend not configured  0
Customer retention rate       n/a: no customers at start  0
Customer lifetime value       n/a: no customers at start  0
Lead → customer conversion                 n/a: no leads  0
Churn rate                    n/a: no customers at start  0
Net Promoter Score                     n/a: no responses  0
Customer satisfaction (CSAT)           n/a: no responses  0
Average first response           n/a: no replied tickets  0
Average sales cycle                            35.0 days  3
Pipeline velocity                           0.00 EUR/day  0

Supporting metrics

KPI                                                      value  n
----------------------------------  --------------------------  -
New customers                                                0  0
Leads                                                        0  0
Customers at start                                           0  0
Customers retained                                           0  0
Revenue                                          10,500.00 EUR  3
Paying customers                                             0  0
Revenue per paying customer           n/a: no paying customers  0
Deals won                                                    3  3
Deals lost                                                   2  2
Win rate                                                60.0 %  5
Average deal size                                 3,500.00 EUR  3
New deals                                                    6  6
Open deals at start                                          0  0
Active customers                                             0  0
Revenue per active customer (ARPA)    n/a: no active customers  0
Monthly churn rate                  n/a: no customers at start  0
Revenue per day                                 115.38 EUR/day  3
Lead to customer                         n/a: no new customers  0
Median sales cycle                                   30.0 days  3
Deal throughput                                       0.03/day  3
Pipeline speed                                        0.09/day  3
Sales and marketing spend            n/a: spend not configured  0
LTV : CAC                           n/a: no customers at start  0
Open deals at end                                            1  1
Open pipeline value                               5,000.00 EUR  1
NPS responses                                                0  0
CSAT responses                                               0  0
Tickets created                                              0  0
Tickets unanswered                                           0  0
Median first response                  n/a: no replied tickets  0

Data quality: no gaps found.
"""


@pytest.fixture(autouse=True)
def no_config_file_around(tmp_path, monkeypatch):
    # Commands look for ./hubspot-metrics.toml; run them where there is none.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HUBSPOT_METRICS_CONFIG", raising=False)
    monkeypatch.delenv("HUBSPOT_METRICS_DB", raising=False)


@pytest.fixture
def deals_store(tmp_path):
    store = StoreBuilder(tmp_path / "store.db")
    add_worked_deals(store)
    store.close()
    return tmp_path / "store.db"


def run(*args, env=None):
    return CliRunner(env=env).invoke(cli, list(args))


def test_csv_is_one_unrounded_row_per_period_and_key(deals_store):
    result = run("--db", str(deals_store), "kpis", "--period", "2024-Q1", "--format", "csv")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == WORKED_DEALS_CSV


def test_table_rounds_names_units_and_shows_reasons(deals_store):
    result = run("--db", str(deals_store), "kpis", "--period", "2024-Q1")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == WORKED_DEALS_TABLE


def test_json_is_the_spec_object(deals_store):
    result = run("--db", str(deals_store), "kpis", "--period", "2024-Q1", "--format", "json")
    assert result.exit_code == 0
    output = json.loads(result.stdout)
    assert list(output) == ["period", "start", "end", "as_of", "partial", "timezone", "currency", "kpis", "warnings",
                            "data_quality"]
    assert (output["as_of"], output["partial"], output["currency"]) == ("2024-04-01T00:00:00+00:00", False, "EUR")
    assert output["kpis"]["pipeline_velocity"] == {"value": 0.0, "n": 0, "reason": None, "unit": "currency_per_day"}
    assert output["kpis"]["deals_won"] == {"value": 3, "n": 3, "reason": None, "unit": "count"}
    assert '"value": 3,' in result.stdout  # a count is a JSON integer
    db = open_store(deals_store, create=False, readonly=True)
    assert output == compute_kpis(db, parse_period("2024-Q1", "UTC"), MetricsSettings())
    db.conn.close()


def test_config_file_sets_time_zone_spend_and_a_custom_range(deals_store, tmp_path):
    config = tmp_path / "hubspot-metrics.toml"
    config.write_text('[metrics]\ntimezone = "Europe/Berlin"\n\n[spend]\n"2024-01" = 1000\n"2024-02" = 500\n')
    result = run("--config", str(config), "--db", str(deals_store), "kpis", "--since", "2024-01-01", "--until",
                 "2024-03-01", "--format", "json")
    output = json.loads(result.stdout)
    assert (output["period"], output["start"], output["end"], output["timezone"]) == (
        "2024-01-01..2024-03-01", "2024-01-01T00:00:00+01:00", "2024-03-01T00:00:00+01:00", "Europe/Berlin")
    assert output["kpis"]["spend"] == {"value": 1500.0, "n": 2, "reason": None, "unit": "currency"}
    assert output["kpis"]["cac"] == {"value": None, "n": 0, "reason": "no_new_customers", "unit": "currency"}
    # D4 closes on 5 February, in the range; D2 on 10 March, after it.
    assert output["kpis"]["deals_lost"]["value"] == 1.0


def test_compare_adds_the_previous_period_and_the_change(deals_store):
    result = run("--db", str(deals_store), "kpis", "--period", "2024-02", "--compare", "--format", "json")
    output = json.loads(result.stdout)
    assert output["previous"]["period"] == "2024-01"
    assert (output["kpis"]["deals_won"]["value"], output["previous"]["kpis"]["deals_won"]["value"]) == (1.0, 1.0)
    assert output["change"]["deals_won"] == {"value": 0.0, "percent": 0.0, "unit": "count"}
    assert output["change"]["deals_lost"] == {"value": 1.0, "percent": None, "unit": "count"}  # 1 vs 0
    assert output["change"]["win_rate"] == {"value": -50.0, "percent": -50.0, "unit": "percent"}  # 50 % vs 100 %
    assert output["change"]["nps"] == {"value": None, "percent": None, "unit": "score"}  # null both times
    csv_out = run("--db", str(deals_store), "kpis", "--period", "2024-02", "--compare", "--format", "csv").stdout
    lines = csv_out.splitlines()
    assert lines[0] == "period,start,end,as_of,partial,key,value,n,reason,unit,currency,change,change_percent"
    assert len(lines) == 1 + 2 * 40
    assert lines[1].startswith("2024-01,") and lines[41].startswith("2024-02,")
    assert ("2024-02,2024-02-01T00:00:00+00:00,2024-03-01T00:00:00+00:00,2024-03-01T00:00:00+00:00,false,deals_lost,"
            "1,1,,count,EUR,1,") in lines


def test_compare_sets_an_open_month_beside_the_same_stretch_of_the_month_before(tmp_path):
    store = StoreBuilder(tmp_path / "store.db", synced=False)
    add_worked_deals(store)  # February: D4 lost on the 5th, D3 won on the 16th; March: D5 lost on the 1st, D2 won on the 10th
    store.conn.execute("INSERT INTO sync_runs (started_at, ended_at, status) VALUES "
                       "('2024-03-12T12:00:00.000Z', '2024-03-12T12:01:00.000Z', 'ok')")
    store.close()
    result = run("--db", str(tmp_path / "store.db"), "kpis", "--period", "2024-03", "--compare", "--format", "json")
    assert (result.exit_code, result.stderr) == (0, "")
    output = json.loads(result.stdout)
    previous = output["previous"]
    # 11.5 days into March: February up to its 12th, 12:00, so D3 (won on the 16th) is not in it yet.
    assert {k: previous[k] for k in ("period", "start", "end", "as_of", "partial")} == {
        "period": "2024-02", "start": "2024-02-01T00:00:00+00:00", "end": "2024-03-01T00:00:00+00:00",
        "as_of": "2024-02-12T12:00:00+00:00", "partial": True}
    assert [(output["kpis"][k]["value"], previous["kpis"][k]["value"]) for k in ("deals_won", "deals_lost", "revenue")] == [
        (1, 0), (1, 1), (6000.0, 0.0)]
    assert output["change"]["deals_won"] == {"value": 1, "percent": None, "unit": "count"}
    assert output["change"]["deals_lost"] == {"value": 0, "percent": 0.0, "unit": "count"}
    table = run("--db", str(tmp_path / "store.db"), "kpis", "--period", "2024-03", "--compare").stdout.splitlines()
    assert table[:2] == [
        "KPIs for 2024-03: 2024-03-01 00:00 to 2024-04-01 00:00, partial: measured up to 2024-03-12 12:00 "
        "(the last completed sync) (time zone UTC, end exclusive)",
        "compared with 2024-02: 2024-02-01 00:00 to 2024-03-01 00:00, partial: measured up to 2024-02-12 12:00 "
        "(the same stretch of it)"]


def test_breakdown_by_owner_in_json_and_csv(tmp_path):
    store = StoreBuilder(tmp_path / "store.db")
    store.owner("7", "Jane", "Roe").owner("8", None, None, "queue@example.com")
    store.pipeline("deals", "default", {"closedwon": (True, 1.0)}, label="Sales Pipeline")
    store.add("contacts", "c1", hs_lifecyclestage_lead_date="2024-01-03", hubspot_owner_id="7")
    store.add("contacts", "c2", hs_lifecyclestage_lead_date="2024-01-03")
    store.add("deals", "d1", createdate="2024-01-02", closedate="2024-01-09", pipeline="default", dealstage="closedwon",
              hs_is_closed_won=True, amount=500, hubspot_owner_id="8")
    store.close()
    output = json.loads(run("--db", str(tmp_path / "store.db"), "kpis", "--period", "2024-01", "--by", "owner",
                            "--format", "json").stdout)
    groups = output["breakdown"]["groups"]
    assert output["breakdown"]["by"] == "owner"
    assert [(g["key"], g["label"]) for g in groups] == [("7", "Jane Roe"), ("8", "queue@example.com"),
                                                       (None, "(no owner)")]
    jane, queue, nobody = (g["kpis"] for g in groups)
    assert jane["leads"] == {"value": 1.0, "n": 1, "reason": None, "unit": "count"}
    assert queue["revenue"] == {"value": 500.0, "n": 1, "reason": None, "unit": "currency"}
    assert nobody["leads"]["value"] == 1.0
    assert jane["nps"] == {"value": None, "n": 0, "reason": "not_applicable", "unit": "score"}
    assert jane["cac"]["reason"] == "not_applicable"
    csv_lines = run("--db", str(tmp_path / "store.db"), "kpis", "--period", "2024-01", "--by", "owner",
                    "--format", "csv").stdout.splitlines()
    assert csv_lines[0] == "period,start,end,as_of,partial,key,value,n,reason,unit,currency,by,group,group_label"
    assert len(csv_lines) == 1 + 4 * 40  # totals and three groups
    assert "2024-01,2024-01-01T00:00:00+00:00,2024-02-01T00:00:00+00:00,2024-02-01T00:00:00+00:00,false,revenue," \
           "500.0,1,,currency,EUR,owner,8,queue@example.com" in csv_lines


def test_source_breakdown_leaves_deal_kpis_not_applicable(tmp_path):
    store = StoreBuilder(tmp_path / "store.db")
    store.add("contacts", "c1", hs_lifecyclestage_lead_date="2024-01-03", hs_analytics_source="ORGANIC_SEARCH")
    store.close()
    output = json.loads(run("--db", str(tmp_path / "store.db"), "kpis", "--period", "2024-01", "--by", "source",
                            "--format", "json").stdout)
    [group] = output["breakdown"]["groups"]
    assert (group["key"], group["label"]) == ("ORGANIC_SEARCH", "ORGANIC_SEARCH")
    assert group["kpis"]["conversion_rate"] == {"value": 0.0, "n": 1, "reason": None, "unit": "percent"}
    assert group["kpis"]["revenue"]["reason"] == "not_applicable"


@pytest.mark.parametrize("args, message", [
    (["--period", "2024-13"], "Error: The period '2024-13' has no month 13; use 2026-10 (month), 2026-Q3 (quarter), "
                              "2026 (year) or --since 2026-01-15 --until 2026-02-15.\n"),
    (["--period", "Q3-2024"], "Error: The period 'Q3-2024' is not a period; use 2026-10 (month), 2026-Q3 (quarter), "
                              "2026 (year) or --since 2026-01-15 --until 2026-02-15.\n"),
    (["--since", "2024-02-01", "--until", "2024-01-01"],
     "Error: --until 2024-01-01 must be after --since 2024-02-01 (the until date is exclusive).\n"),
    (["--since", "2024-02-30", "--until", "2024-03-01"],
     "Error: --since '2024-02-30' is not a date; write it as YYYY-MM-DD, e.g. 2026-01-15.\n"),
    (["--since", "2024-02-01"], "Error: --since and --until go together (until is exclusive), e.g. --since "
                                "2026-01-15 --until 2026-02-15.\n"),
    ([], "Error: Say which period to compute: use 2026-10 (month), 2026-Q3 (quarter), 2026 (year) or --since "
         "2026-01-15 --until 2026-02-15.\n"),
])
def test_bad_periods_end_in_one_sentence(deals_store, args, message):
    result = run("--db", str(deals_store), "kpis", *args)
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", message)


def test_a_missing_or_never_synced_store_ends_in_one_sentence(tmp_path):
    missing = tmp_path / "absent.db"
    result = run("--db", str(missing), "kpis", "--period", "2024-01")
    assert (result.exit_code, result.stderr) == (2, f"Error: No store at {missing}; run `hubspot-metrics sync` "
                                                    "first (or point --db / HUBSPOT_METRICS_DB at it).\n")
    StoreBuilder(tmp_path / "fresh.db", synced=False).close()
    result = run("--db", str(tmp_path / "fresh.db"), "kpis", "--period", "2024-01")
    assert (result.exit_code, result.stderr) == (
        2, f"Error: The store {tmp_path / 'fresh.db'} has never been synced; run `hubspot-metrics sync` first.\n")


def test_the_console_script_prints_no_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "hubspot_metrics", "--db", str(tmp_path / "absent.db"), "kpis",
                             "--period", "2026-Q5"], capture_output=True, text=True, env={"PATH": "/usr/bin"},
                            cwd=tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == ("Error: The period '2026-Q5' is not a period; use 2026-10 (month), 2026-Q3 (quarter), "
                             "2026 (year) or --since 2026-01-15 --until 2026-02-15.\n")


def test_pipeline_breakdown_applies_deal_kpis_to_deal_pipelines_only(deals_store):
    db = open_store(deals_store)
    db.conn.execute("INSERT INTO pipelines (object_type, id, label, display_order) VALUES ('tickets', '0', 'Support', 0)")
    db.conn.execute("ALTER TABLE tickets ADD COLUMN createdate TEXT")
    db.conn.execute("ALTER TABLE tickets ADD COLUMN hs_pipeline TEXT")
    db.conn.execute("INSERT INTO tickets (id, createdate, hs_pipeline) VALUES ('t1', '2024-02-01T00:00:00.000Z', '0')")
    db.conn.close()
    output = json.loads(run("--db", str(deals_store), "kpis", "--period", "2024-Q1", "--by", "pipeline",
                            "--format", "json").stdout)
    sales, support = output["breakdown"]["groups"]  # by label
    assert (sales["key"], sales["label"], support["key"], support["label"]) == ("default", "Sales Pipeline", "0", "Support")
    assert sales["kpis"]["revenue"]["value"] == 10500.0
    assert sales["kpis"]["tickets_created"]["reason"] == "not_applicable"
    assert support["kpis"]["tickets_created"] == {"value": 1.0, "n": 1, "reason": None, "unit": "count"}
    assert support["kpis"]["revenue"]["reason"] == "not_applicable"
    assert sales["kpis"]["leads"]["reason"] == "not_applicable"  # customer KPIs have no pipeline
