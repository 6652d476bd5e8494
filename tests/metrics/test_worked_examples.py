"""The worked checks of KPI spec v2 (section 6): every example, with its exact values.

Customer unit contacts, home currency EUR, period Q1 2024 = [2024-01-01, 2024-04-01) UTC.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from hubspot_metrics.errors import ConfigError
from hubspot_metrics.metrics import compute_kpis
from hubspot_metrics.periods import parse_period

from .conftest import kpi, kpis, settings, with_default_pipeline

SPEND = {"2024-01": 3000.0, "2024-02": 3000.0, "2024-03": 4000.0}


def test_leads_new_customers_conversion_and_cac(store):
    contacts = {  # id: (lead date, customer date)
        "C1": ("2024-01-01", "2024-02-15"),
        "C2": ("2024-01-15T12:00:00Z", "2024-03-31T12:00:00Z"),
        "C3": ("2024-02-01", None), "C4": ("2024-02-20", None), "C5": ("2024-03-05", None),
        "C6": ("2024-03-10", None), "C7": ("2024-03-20", None),
        "C8": ("2024-03-30", "2024-04-01T00:00:00Z"),
        "C9": ("2023-11-01", "2024-01-20"),
        "C10": (None, "2024-02-02T10:00:00Z"),
    }
    for cid, (lead, customer) in contacts.items():
        store.add("contacts", cid, hs_lifecyclestage_lead_date=lead, hs_lifecyclestage_customer_date=customer)
    k = kpis(store, "2024-Q1", spend=SPEND)["kpis"]
    assert k["leads"] == kpi(8, 8, "count")
    assert k["new_customers"] == kpi(4, 4, "count")  # C1, C2, C9, C10
    assert k["conversion_rate"] == kpi(25.0, 8, "percent")  # C1, C2 of 8
    assert k["spend"] == kpi(10000.0, 3, "currency")
    assert k["cac"] == kpi(2500.0, 4, "currency")


def add_worked_deals(store):
    with_default_pipeline(store)
    deals = {  # id: (create, close, stage, amount)
        "D1": ("2024-01-01", "2024-01-31", "closedwon", 3000),
        "D2": ("2024-01-10", "2024-03-10", "closedwon", 6000),
        "D3": ("2024-02-01", "2024-02-16", "closedwon", 1500),
        "D4": ("2024-01-05", "2024-02-05", "closedlost", 2000),
        "D5": ("2024-02-10", "2024-03-01", "closedlost", 4000),
        "D6": ("2024-03-01", None, "appointmentscheduled", 5000),
        "D7": ("2023-12-01", "2023-12-20", "closedwon", 9999),
    }
    for did, (created, closed, stage, amount) in deals.items():
        store.add("deals", did, createdate=created, closedate=closed, dealstage=stage, pipeline="default",
                  amount=amount, deal_currency_code="EUR", hs_is_closed=stage.startswith("closed"),
                  hs_is_closed_won=stage == "closedwon")


def test_deal_kpis(store):
    add_worked_deals(store)
    k = kpis(store, "2024-Q1")["kpis"]
    assert k["revenue"] == kpi(10500.0, 3, "currency")
    assert k["avg_deal_size"] == kpi(3500.0, 3, "currency")
    assert k["deals_won"] == kpi(3, 3, "count")
    assert k["deals_lost"] == kpi(2, 2, "count")
    assert k["win_rate"] == kpi(60.0, 5, "percent")
    assert k["avg_sales_cycle_days"] == kpi(35.0, 3, "days")
    assert k["median_sales_cycle_days"] == kpi(30.0, 3, "days")
    assert k["new_deals"] == kpi(6, 6, "count")
    assert k["open_deals_at_start"] == kpi(0, 0, "count")  # D7 closed in 2023
    assert k["pipeline_velocity"] == kpi(0.0, 0, "currency_per_day")
    assert k["deal_throughput"] == kpi(3 / 91, 3, "per_day")  # Q1 2024 has 91 days
    assert k["revenue_per_day"] == kpi(10500 / 91, 3, "currency_per_day")
    assert k["pipeline_speed"] == kpi(3 / 35, 3, "per_day")
    assert k["open_deals"] == kpi(1, 1, "count")  # D6
    assert k["open_pipeline_value"] == kpi(5000.0, 1, "currency")


def test_pipeline_velocity_counts_the_deals_open_at_the_start(store):
    add_worked_deals(store)
    store.add("deals", "D8", createdate="2023-12-15", dealstage="appointmentscheduled", pipeline="default",
              amount=800, deal_currency_code="EUR", hs_is_closed=False, hs_is_closed_won=False)
    k = kpis(store, "2024-Q1")["kpis"]
    assert k["open_deals_at_start"] == kpi(1, 1, "count")
    assert k["pipeline_velocity"] == kpi(60.0, 1, "currency_per_day")  # 1 · 3500 · 0.6 / 35


def add_answers(store, survey: str, month: str, answers: list, first_id: int = 1) -> int:
    for i, answer in enumerate(answers):
        store.add("feedback_submissions", first_id + i, hs_survey_type=survey, hs_value=answer,
                  hs_submission_timestamp=f"{month}-10T12:00:00Z")
    return first_id + len(answers)


def test_nps_examples(store):
    next_id = add_answers(store, "NPS", "2024-01", ["10", "9", "9", "8", "7", "6", "5", "3", "10", "0"])
    next_id = add_answers(store, "NPS", "2024-02", ["0", "2", "6", "7", "9"], next_id)
    add_answers(store, "NPS", "2024-03", ["9", "9", "9", "7", "3", "10", "8"], next_id)
    assert kpis(store, "2024-01")["kpis"]["nps"] == kpi(0.0, 10, "score")
    assert kpis(store, "2024-02")["kpis"]["nps"] == kpi(-40.0, 5, "score")
    assert kpis(store, "2024-03")["kpis"]["nps"] == kpi(300 / 7, 7, "score")  # 42.857142…
    assert kpis(store, "2024-03")["kpis"]["nps_responses"] == kpi(7, 7, "count")


def test_csat_example(store):
    answers = ["5"] * 42 + ["4"] * 32 + ["3"] * 10 + ["2"] * 9 + ["1"] * 14
    add_answers(store, "CSAT", "2024-02", answers)
    k = kpis(store, "2024-Q1")["kpis"]
    assert k["csat"] == kpi(7400 / 107, 107, "percent")  # 69.158878…
    assert round(k["csat"]["value"], 6) == 69.158879
    assert k["csat_responses"] == kpi(107, 107, "count")


def test_ticket_response_times(store):
    tickets = {  # Mon 2024-03-04 and Tue 2024-03-05
        "T1": ("2024-03-04T09:00:00Z", "2024-03-04T09:30:00Z"),
        "T2": ("2024-03-04T10:00:00Z", "2024-03-04T12:00:00Z"),
        "T3": ("2024-03-04T16:00:00Z", "2024-03-05T10:00:00Z"),
        "T4": ("2024-03-05T11:00:00Z", None),
    }
    for tid, (created, reply) in tickets.items():
        store.add("tickets", tid, createdate=created, first_agent_reply_date=reply)
    k = kpis(store, "2024-Q1")["kpis"]
    assert k["avg_first_response_hours"] == kpi((0.5 + 2 + 18) / 3, 3, "hours")  # 6.8333…
    assert k["tickets_unanswered"] == kpi(1, 4, "count")
    assert k["tickets_created"] == kpi(4, 4, "count")
    assert k["median_first_response_hours"] == kpi(2.0, 3, "hours")


def test_retention_and_churn_in_property_mode(store):
    customers = {  # id: (customer date, churn date)
        "A": ("2023-02-01", None), "B": ("2023-03-15", "2024-05-01"), "C": ("2023-06-01", None),
        "D": ("2023-08-20", "2024-09-30"), "J": ("2023-12-31", None), "F": ("2024-02-01", None),
        "G": ("2024-06-15", None), "H": ("2024-03-01", "2024-11-15"),
    }
    for cid, (customer, churn) in customers.items():
        store.add("contacts", cid, hs_lifecyclestage_customer_date=customer, churn_date=churn)
    k = kpis(store, "2024", churn={"mode": "property", "property": "churn_date"})["kpis"]
    assert k["customers_at_start"] == kpi(5, 5, "count")  # A, B, C, D, J; not F, G, H
    assert k["customers_retained"] == kpi(3, 5, "count")
    assert k["customer_retention_rate"] == kpi(60.0, 5, "percent")
    assert k["churn_rate"] == kpi(40.0, 5, "percent")


def test_lifetime_value_from_arpa_and_chained_monthly_churn(store):
    with_default_pipeline(store)
    customers = {  # id: (customer date, churn date)
        "A": ("2023-02-01", None), "B": ("2023-03-15", "2024-05-01"), "C": ("2023-06-01", None),
        "D": ("2023-08-20", "2024-09-30"), "J": ("2023-12-31", None), "F": ("2024-02-01", None),
        "G": ("2024-06-15", None), "H": ("2024-03-01", "2024-11-15"),
    }
    for cid, (customer, churn) in customers.items():
        store.add("contacts", cid, hs_lifecyclestage_customer_date=customer, churn_date=churn)
    for did, amount, customer in (("W1", 50000, "A"), ("W2", 10000, "G"), ("W3", 7000, None)):
        store.add("deals", did, createdate="2024-03-01", closedate="2024-07-01", dealstage="closedwon",
                  pipeline="default", amount=amount, hs_is_closed=True, hs_is_closed_won=True)
        if customer:
            store.link("deals", "contacts", did, customer)
    k = kpis(store, "2024", churn={"mode": "property", "property": "churn_date"})["kpis"]
    assert k["revenue"] == kpi(67000.0, 3, "currency")
    assert k["active_customers"] == kpi(5, 5, "count")  # A, C, J, F, G
    assert k["arpa"] == kpi(1000.0, 5, "currency_per_month")  # 60000 / 5 / 12
    monthly = 1 - (180 / 294) ** (1 / 12)  # May 6/7, September 6/7, November 5/6
    assert k["monthly_churn_rate"] == kpi(100 * monthly, 5, "percent")
    assert round(k["monthly_churn_rate"]["value"], 5) == 4.00607
    assert k["customer_lifetime_value"] == kpi(1000 / monthly, 5, "currency")
    assert round(k["customer_lifetime_value"]["value"], 2) == 24962.11


def test_lead_to_customer_days(store):
    store.add("contacts", "E1", createdate="2024-01-01", hs_lifecyclestage_customer_date="2024-02-01")
    store.add("contacts", "E2", createdate="2024-01-11", hs_lifecyclestage_customer_date="2024-01-21")
    assert kpis(store, "2024-Q1")["kpis"]["lead_to_customer_days"] == kpi(20.5, 2, "days")


def test_an_open_period_is_measured_up_to_the_last_completed_sync(store):
    with_default_pipeline(store)
    store.conn.execute("INSERT INTO sync_runs (started_at, ended_at, status) VALUES "
                       "('2026-10-11T12:00:00.000Z', '2026-10-11T12:05:00.000Z', 'ok')")
    store.add("deals", "W", createdate="2026-10-01", closedate="2026-10-05", dealstage="closedwon", pipeline="default",
              amount=2100, hs_is_closed=True, hs_is_closed_won=True)
    result = kpis(store, "2026-10", spend={"2026-10": 3100.0})
    assert (result["start"], result["end"], result["as_of"], result["partial"]) == (
        "2026-10-01T00:00:00+00:00", "2026-11-01T00:00:00+00:00", "2026-10-11T12:00:00+00:00", True)
    k = result["kpis"]
    assert k["spend"] == kpi(1050.0, 1, "currency")  # 3100 × 10.5 / 31
    assert k["revenue_per_day"] == kpi(200.0, 1, "currency_per_day")  # 10.5 days
    assert k["deal_throughput"] == kpi(1 / 10.5, 1, "per_day")
    with pytest.raises(ConfigError) as error:
        kpis(store, "2026-11")
    assert str(error.value) == (
        "The period 2026-11 starts at or after 2026-10-11 12:00:00 UTC, the instant the store is complete to (the "
        "start of its last completed sync); choose an earlier period, or sync.")
    # A closed period says so.
    september = kpis(store, "2026-09")
    assert (september["as_of"], september["partial"]) == ("2026-10-01T00:00:00+00:00", False)


def test_now_is_a_parameter_not_the_wall_clock(store):
    october = parse_period("2026-10", "UTC")
    now = datetime(2026, 10, 11, 12, 0, tzinfo=timezone.utc)
    result = compute_kpis(store.db, october, settings(timezone="UTC", spend={"2026-10": 3100.0}), now=now)
    assert (result["as_of"], result["partial"], result["kpis"]["spend"]["value"]) == (
        "2026-10-11T12:00:00+00:00", True, 1050.0)


def test_date_only_values_are_midnight_in_the_configured_zone(store):
    store.columns("contacts", churn_date="date")  # a HubSpot `date` property
    store.add("contacts", "X", hs_lifecyclestage_customer_date="2023-05-01", churn_date="2025-01-01")
    churn = {"mode": "property", "property": "churn_date"}
    year = kpis(store, "2024", timezone="America/New_York", churn=churn)["kpis"]
    assert (year["customers_retained"], year["churn_rate"]) == (kpi(1, 1, "count"), kpi(0.0, 1, "percent"))
    january = kpis(store, "2025-01", timezone="America/New_York", churn=churn)["kpis"]
    assert (january["customers_at_start"], january["churn_rate"]) == (kpi(1, 1, "count"), kpi(100.0, 1, "percent"))
    # (Read as midnight UTC, the churn date would be Dec 31 19:00 in New York: churned in 2024.)
