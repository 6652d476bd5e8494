"""The spec's rules one at a time: null reasons and their order, n, fallbacks, exclusions,
pipeline filters, churn modes, currencies, survey parsing, negative durations, time zones."""

from __future__ import annotations

import pytest

from hubspot_metrics.metrics import KPI_KEYS, KPI_UNITS

from .conftest import kpi, kpis, with_default_pipeline

FLAGS = {"won": (True, True), "lost": (True, False), "open": (False, False)}
STAGE = {"won": "closedwon", "lost": "closedlost", "open": "appointmentscheduled"}


def deal(store, did, created, closed, state="won", amount=1000, **props):
    is_closed, is_won = FLAGS[state]
    defaults = dict(createdate=created, closedate=closed, pipeline="default", dealstage=STAGE[state],
                    hs_is_closed=is_closed, hs_is_closed_won=is_won, amount=amount, deal_currency_code="EUR")
    store.add("deals", did, **{**defaults, **props})


def test_an_empty_store_gives_every_kpi_with_its_reason(store):
    result = kpis(store, "2024-Q1")
    nulls = {"cac": "spend_not_configured", "customer_retention_rate": "no_customers_at_start",
             "customer_lifetime_value": "no_customers_at_start", "arpa": "no_active_customers",
             "monthly_churn_rate": "no_customers_at_start", "lead_to_customer_days": "no_new_customers",
             "pipeline_speed": "no_won_deals", "conversion_rate": "no_leads",
             "churn_rate": "no_customers_at_start", "nps": "no_responses", "csat": "no_responses",
             "avg_first_response_hours": "no_replied_tickets", "avg_sales_cycle_days": "no_won_deals",
             "pipeline_velocity": "no_closed_deals", "revenue_per_customer": "no_paying_customers",
             "win_rate": "no_closed_deals", "avg_deal_size": "no_won_deals", "median_sales_cycle_days": "no_won_deals",
             "spend": "spend_not_configured", "ltv_to_cac": "no_customers_at_start",
             "median_first_response_hours": "no_replied_tickets"}
    expected = {key: kpi(None, 0, KPI_UNITS[key], nulls[key]) if key in nulls else kpi(0, 0, KPI_UNITS[key])
                for key in KPI_KEYS}
    assert result["kpis"] == expected
    assert list(result["kpis"]) == list(KPI_KEYS)
    assert result["warnings"] == []
    assert (result["period"], result["start"], result["end"], result["timezone"]) == (
        "2024-Q1", "2024-01-01T00:00:00+00:00", "2024-04-01T00:00:00+00:00", "UTC")


def test_units_are_the_specs():
    assert set(KPI_UNITS.values()) <= {"currency", "percent", "score", "hours", "days", "count", "per_day",
                                       "currency_per_day", "currency_per_month", "ratio"}
    assert len(KPI_KEYS) == 40


# --- CAC, spend, CLV and LTV:CAC ---------------------------------------------------------------

def test_cac_reason_order_and_zero_spend(store):
    assert kpis(store, "2024-01")["kpis"]["cac"] == kpi(None, 0, "currency", "spend_not_configured")
    assert kpis(store, "2024-01", spend={"2024-01": 500.0})["kpis"]["cac"] == kpi(None, 0, "currency", "no_new_customers")
    store.add("contacts", "c1", hs_lifecyclestage_customer_date="2024-01-05")
    k = kpis(store, "2024-01", spend={"2024-01": 0.0})["kpis"]
    assert k["cac"] == kpi(0.0, 1, "currency")
    assert k["spend"] == kpi(0.0, 1, "currency")


def test_spend_needs_every_month_and_whole_months(store):
    store.add("contacts", "c1", hs_lifecyclestage_customer_date="2024-02-05")
    spend = {"2024-01": 100.0, "2024-02": 300.0}
    assert kpis(store, "2024-Q1", spend=spend)["kpis"]["spend"] == kpi(None, 0, "currency", "spend_not_configured")
    # A custom range on month boundaries is whole months for CAC (spec 7.11) ...
    k = kpis(store, "2024-01-01..2024-03-01", spend=spend)["kpis"]
    assert (k["spend"], k["cac"]) == (kpi(400.0, 2, "currency"), kpi(400.0, 1, "currency"))
    # ... one that is not, is not.
    k = kpis(store, "2024-01-15..2024-02-15", spend=spend)["kpis"]
    assert k["cac"] == kpi(None, 1, "currency", "spend_not_configured")


def test_lifetime_value_reason_order(store):
    with_default_pipeline(store)
    # A paying customer (won deal in P) but nobody active at the start.
    store.add("contacts", "c1", hs_lifecyclestage_customer_date="2024-01-10")
    deal(store, "d1", "2024-01-01", "2024-01-20")
    store.link("deals", "contacts", "d1", "c1")
    assert kpis(store, "2024-01")["kpis"]["customer_lifetime_value"] == kpi(
        None, 0, "currency", "no_customers_at_start")
    # Active at the start and still at the end: no churn (n is the start cohort).
    store.columns("contacts", churn_date="date")
    k = kpis(store, "2024-01", churn={"mode": "property"})["kpis"]
    assert k["customer_lifetime_value"] == kpi(None, 0, "currency", "no_customers_at_start")
    store.add("contacts", "c0", hs_lifecyclestage_customer_date="2023-06-01")
    k = kpis(store, "2024-01", churn={"mode": "property"})["kpis"]
    assert k["customer_lifetime_value"] == kpi(None, 1, "currency", "no_churn")
    assert k["ltv_to_cac"] == kpi(None, 1, "ratio", "no_churn")


def test_lifetime_value_and_ltv_to_cac_values(store):
    with_default_pipeline(store)
    for cid, churn in (("a", None), ("b", None), ("c", None), ("d", "2024-02-01")):
        store.add("contacts", cid, hs_lifecyclestage_customer_date="2023-05-01", churn_date=churn)
    store.add("contacts", "n1", hs_lifecyclestage_customer_date="2024-03-01")
    deal(store, "d1", "2024-01-01", "2024-02-01", amount=4000)
    deal(store, "d2", "2024-01-01", "2024-03-01", amount=2000)
    store.link("deals", "contacts", "d1", "a").link("deals", "contacts", "d2", "n1")
    k = kpis(store, "2024-Q1", churn={"mode": "property"}, gross_margin=0.8,
             spend={"2024-01": 100.0, "2024-02": 100.0, "2024-03": 100.0})["kpis"]
    assert k["churn_rate"] == kpi(25.0, 4, "percent")
    # A = 4 at both ends (d leaves, n1 arrives): ARPA = 6000 / 4 / 3. The months keep 4/4
    # (d churns on Feb 1, so is active at Feb 1), 3/4 and 3/3: chained retention 0.75.
    assert (k["active_customers"], k["arpa"]) == (kpi(4, 4, "count"), kpi(500.0, 4, "currency_per_month"))
    monthly = 1 - 0.75 ** (1 / 3)
    assert k["monthly_churn_rate"] == kpi(100 * monthly, 4, "percent")
    clv = 500 * 0.8 / monthly
    assert k["customer_lifetime_value"] == kpi(clv, 4, "currency")
    assert k["revenue_per_customer"] == kpi(3000.0, 2, "currency")
    assert k["cac"] == kpi(300.0, 1, "currency")
    assert k["ltv_to_cac"] == kpi(clv / 300.0, 4, "ratio")


def test_ltv_to_cac_zero_cac(store):
    with_default_pipeline(store)
    store.add("contacts", "a", hs_lifecyclestage_customer_date="2023-05-01", churn_date="2024-01-10")
    store.add("contacts", "b", hs_lifecyclestage_customer_date="2023-05-01")
    store.add("contacts", "n", hs_lifecyclestage_customer_date="2024-01-03")
    deal(store, "d1", "2024-01-01", "2024-01-05")
    store.link("deals", "contacts", "d1", "b")
    k = kpis(store, "2024-01", churn={"mode": "property"}, spend={"2024-01": 0.0})["kpis"]
    assert k["customer_lifetime_value"]["value"] is not None
    assert k["ltv_to_cac"] == kpi(None, 2, "ratio", "zero_cac")


# --- deals -------------------------------------------------------------------------------------

def test_pipeline_velocity_reason_order(store):
    with_default_pipeline(store)
    deal(store, "o1", "2023-12-03", None, "open")  # n: the deals open at the start
    assert kpis(store, "2024-01")["kpis"]["pipeline_velocity"] == kpi(None, 1, "currency_per_day", "no_closed_deals")
    deal(store, "l1", "2024-01-03", "2024-01-09", "lost")
    assert kpis(store, "2024-01")["kpis"]["pipeline_velocity"] == kpi(None, 1, "currency_per_day", "no_won_deals")
    deal(store, "w1", "2024-01-04T10:00:00Z", "2024-01-04T10:00:00Z", "won")  # a zero-length cycle
    k = kpis(store, "2024-01")["kpis"]
    assert k["avg_sales_cycle_days"] == kpi(0.0, 1, "days")
    assert k["pipeline_velocity"] == kpi(None, 1, "currency_per_day", "zero_cycle")
    assert k["pipeline_speed"] == kpi(None, 1, "per_day", "zero_cycle")
    assert k["deal_throughput"] == kpi(1 / 31, 1, "per_day")


def test_won_deals_without_an_amount_are_left_out_of_money_and_counted(store):
    with_default_pipeline(store)
    deal(store, "w1", "2024-01-01", "2024-01-11", amount=None)
    k = kpis(store, "2024-01")
    assert k["kpis"]["revenue"] == kpi(0.0, 0, "currency")
    assert k["kpis"]["avg_deal_size"] == kpi(None, 0, "currency", "no_won_deals")
    assert k["kpis"]["pipeline_velocity"] == kpi(None, 0, "currency_per_day", "no_won_deals")
    assert k["kpis"]["avg_sales_cycle_days"] == kpi(10.0, 1, "days")
    assert k["data_quality"]["deals"]["won_without_amount"] == 1
    assert k["warnings"] == ["1 deal won in the period has no amount; revenue, revenue_per_day, avg_deal_size, "
                             "revenue_per_customer, arpa, customer_lifetime_value and pipeline_velocity leave it out."]


def test_amount_fallbacks_follow_the_currency(store):
    with_default_pipeline(store)
    deal(store, "home", "2024-01-01", "2024-01-02", amount=100, deal_currency_code="USD", amount_in_home_currency=90)
    deal(store, "eur", "2024-01-01", "2024-01-02", amount=200, deal_currency_code="EUR")
    deal(store, "none", "2024-01-01", "2024-01-02", amount=400, deal_currency_code=None)
    deal(store, "usd", "2024-01-01", "2024-01-02", amount=800, deal_currency_code="USD")  # no home amount: none
    deal(store, "bad", "2024-01-01", "2024-01-02", amount=1600, deal_currency_code="EUR",
         amount_in_home_currency="12,5k")  # unparsable home amount, home currency: amount
    k = kpis(store, "2024-01")
    assert k["kpis"]["revenue"] == kpi(90 + 200 + 400 + 1600, 4, "currency")
    assert k["kpis"]["deals_won"] == kpi(5, 5, "count")
    dq = k["data_quality"]["deals"]
    assert (dq["won_without_amount"], dq["won_in_other_currency_without_home_amount"]) == (1, 1)
    assert dq["unparsable"] == {"amount_in_home_currency": 1}


def test_home_currency_from_the_deals_when_the_account_is_unknown(tmp_path):
    from .builder import StoreBuilder

    store = StoreBuilder(tmp_path / "s.db", currency=None)
    with_default_pipeline(store)
    deal(store, "a", "2024-01-01", "2024-01-02", amount=100, deal_currency_code="EUR")
    deal(store, "b", "2024-01-01", "2024-01-02", amount=300, deal_currency_code="EUR")
    result = kpis(store, "2024-01")
    assert result["kpis"]["revenue"] == kpi(400.0, 2, "currency")
    assert result["data_quality"]["home_currency"] == "EUR"
    store.close()


def test_won_and_closed_fall_back_to_stage_metadata_per_record(store):
    store.pipeline("deals", "p", {"open": (False, 0.5), "won": (True, 1.0), "lost": (True, 0.0),
                                  "nearly": (True, 0.9)})
    # hs_is_closed_won empty on these records: the stage decides
    store.add("deals", "w", createdate="2024-01-01", closedate="2024-01-05", pipeline="p", dealstage="won",
              hs_is_closed_won=None, amount=100)
    store.add("deals", "n", createdate="2024-01-01", closedate="2024-01-05", pipeline="p", dealstage="nearly",
              hs_is_closed_won=None, amount=100)
    # the flag wins over the stage where it has a value
    store.add("deals", "f", createdate="2024-01-01", closedate="2024-01-05", pipeline="p", dealstage="open",
              hs_is_closed_won="true", amount=100)
    k = kpis(store, "2024-01")["kpis"]
    assert (k["deals_won"]["value"], k["deals_lost"]["value"]) == (2.0, 1.0)  # w, f won; n closed not won


def test_won_by_stage_when_the_store_has_no_hs_is_closed_won_column(store):
    store.pipeline("deals", "p", {"open": (False, 0.5), "won": (True, 1.0), "lost": (True, 0.0)})
    for did, stage in (("a", "won"), ("b", "lost"), ("c", "open")):
        store.add("deals", did, createdate="2024-01-01", closedate="2024-01-05", pipeline="p", dealstage=stage, amount=10)
    k = kpis(store, "2024-01")["kpis"]
    assert (k["deals_won"], k["deals_lost"], k["open_deals"]) == (
        kpi(1, 1, "count"), kpi(1, 1, "count"), kpi(1, 1, "count"))


def test_a_closed_deal_without_close_time_is_neither_open_nor_counted(store):
    with_default_pipeline(store)
    deal(store, "w", "2024-01-01", None, "won")
    deal(store, "x", "2024-01-01", "not a date", "lost")
    deal(store, "o", "2024-01-01", "2024-01-20", "open")  # open now: a past expected close does not close it
    k = kpis(store, "2024-01")
    assert (k["kpis"]["deals_won"]["value"], k["kpis"]["deals_lost"]["value"]) == (0.0, 0.0)
    assert k["kpis"]["open_deals"] == kpi(1, 1, "count")
    assert k["kpis"]["new_deals"] == kpi(3, 3, "count")
    assert k["data_quality"]["deals"]["closed_without_closedate"] == 2
    assert k["data_quality"]["deals"]["unparsable"] == {"closedate": 1}


def test_open_deals_at_the_end_of_the_period(store):
    with_default_pipeline(store)
    deal(store, "later", "2024-01-10", "2024-02-01", "won", amount=100)    # closed after P: open at P.end
    deal(store, "edge", "2024-01-10", "2024-02-01T00:00:00Z", "lost", amount=200)  # closed at P.end exactly
    deal(store, "inside", "2024-01-10", "2024-01-31T23:59:59.999Z", "won", amount=400)
    deal(store, "future", "2024-02-01", None, "open", amount=800)           # created at P.end: not yet
    deal(store, "old", "2023-05-01", None, "open", amount=None)
    k = kpis(store, "2024-01")["kpis"]
    assert k["open_deals"] == kpi(3, 3, "count")
    assert k["open_pipeline_value"] == kpi(300.0, 2, "currency")


def test_negative_durations_are_dropped_and_counted(store):
    with_default_pipeline(store)
    deal(store, "ok", "2024-01-01", "2024-01-03")
    deal(store, "neg", "2024-01-10", "2024-01-05")
    store.add("tickets", "t1", createdate="2024-01-02T10:00:00Z", first_agent_reply_date="2024-01-02T09:00:00Z",
              hs_first_agent_message_sent_at="2024-01-02T11:00:00Z")  # earliest reply is before creation
    store.add("tickets", "t2", createdate="2024-01-02T10:00:00Z", first_agent_reply_date="2024-01-02T14:00:00Z",
              hs_first_agent_message_sent_at="2024-01-02T12:00:00Z")  # earliest: 12:00
    result = kpis(store, "2024-01")
    k = result["kpis"]
    assert k["deals_won"] == kpi(2, 2, "count")
    assert k["avg_sales_cycle_days"] == kpi(2.0, 1, "days")
    assert k["pipeline_speed"] == kpi(1.0, 2, "per_day")
    assert k["deal_throughput"] == kpi(2 / 31, 2, "per_day")
    assert k["avg_first_response_hours"] == kpi(2.0, 1, "hours")
    assert k["tickets_created"] == kpi(2, 2, "count")
    assert k["tickets_unanswered"] == kpi(0, 2, "count")
    assert result["data_quality"]["deals"]["won_negative_cycle"] == 1
    assert result["data_quality"]["tickets"]["negative_response"] == 1
    assert result["warnings"] == [
        "1 deal won in the period closed before it was created; avg_sales_cycle_days, median_sales_cycle_days, "
        "pipeline_speed and pipeline_velocity leave it out.",
        "1 ticket created in the period has a first reply before creation; the response-time KPIs leave it out."]


def test_medians_of_an_even_count(store):
    with_default_pipeline(store)
    for i, days in enumerate((1, 2, 4, 10)):
        deal(store, f"d{i}", "2024-01-01", f"2024-01-{1 + days:02d}")
    k = kpis(store, "2024-01")["kpis"]
    assert k["median_sales_cycle_days"] == kpi(3.0, 4, "days")
    assert k["avg_sales_cycle_days"] == kpi(4.25, 4, "days")


# --- customers ---------------------------------------------------------------------------------

def test_legacy_dates_fall_back_to_v2_per_value(store):
    store.add("contacts", "a", hs_lifecyclestage_lead_date="garbage", hs_v2_date_entered_lead="2024-01-05",
              hs_lifecyclestage_customer_date=None, hs_v2_date_entered_customer="2024-01-20")
    store.add("contacts", "b", hs_lifecyclestage_lead_date="2023-12-01", hs_v2_date_entered_lead="2024-01-05")
    result = kpis(store, "2024-01")
    k = result["kpis"]
    assert (k["leads"], k["new_customers"], k["conversion_rate"]) == (
        kpi(1, 1, "count"), kpi(1, 1, "count"), kpi(100.0, 1, "percent"))
    assert result["data_quality"]["contacts"]["unparsable"] == {"hs_lifecyclestage_lead_date": 1}
    assert result["warnings"] == [
        "1 contact has an unparsable hs_lifecyclestage_lead_date (kept raw, see value_issues); its "
        "hs_v2_date_entered_lead twin is used where it has a date."]


def test_conversion_counts_customers_from_before_the_period(store):
    store.add("contacts", "a", hs_lifecyclestage_lead_date="2024-01-05", hs_lifecyclestage_customer_date="2023-12-01")
    store.add("contacts", "b", hs_lifecyclestage_lead_date="2024-01-05", hs_lifecyclestage_customer_date="2024-02-01")
    assert kpis(store, "2024-01")["kpis"]["conversion_rate"] == kpi(50.0, 2, "percent")


def test_excluded_records_never_count(store):
    with_default_pipeline(store)
    store.add("contacts", "live", hs_lifecyclestage_lead_date="2024-01-05")
    store.add("contacts", "gone", hs_lifecyclestage_lead_date="2024-01-05", archived=True)
    store.add("contacts", "marked", hs_lifecyclestage_lead_date="2024-01-05", merged_into="live")
    store.add("contacts", "named", hs_lifecyclestage_lead_date="2024-01-05")
    store.add("contacts", "survivor", hs_lifecyclestage_lead_date="2024-01-05", hs_merged_object_ids="named;survivor")
    # Merged ids exclude records of the same object type only (spec 7.12).
    deal(store, "d1", "2024-01-01", "2024-01-10", hs_merged_object_ids="live")
    deal(store, "d2", "2024-01-01", "2024-01-10", archived=True)
    store.link("deals", "contacts", "d1", "named").link("deals", "contacts", "d1", "live")
    result = kpis(store, "2024-01")
    k = result["kpis"]
    assert k["leads"] == kpi(2, 2, "count")  # live, survivor
    assert k["paying_customers"] == kpi(1, 1, "count")  # live; "named" is merged away
    assert k["deals_won"] == kpi(1, 1, "count")
    assert result["data_quality"]["contacts"] == {"records": 2, "excluded_archived": 1, "excluded_merged": 2,
                                                  "unparsable": {}, "new_customer_before_creation": 0}


def test_paying_customers_need_no_customer_date_and_revenue_needs_no_customer(store):
    with_default_pipeline(store)
    store.add("contacts", "nodate")
    deal(store, "d1", "2024-01-01", "2024-01-10", amount=100)
    deal(store, "d2", "2024-01-01", "2024-01-10", amount=50)  # no customer at all
    store.link("deals", "contacts", "d1", "nodate")
    k = kpis(store, "2024-01")["kpis"]
    assert (k["paying_customers"], k["revenue"], k["revenue_per_customer"]) == (
        kpi(1, 1, "count"), kpi(150.0, 2, "currency"), kpi(150.0, 1, "currency"))


def test_inactivity_churn_uses_won_deals_strictly_before_t(store):
    with_default_pipeline(store)
    contacts = {"recent": "2023-06-01", "renewed": "2021-01-01", "renewed_at_start": "2021-01-01",
                "exactly_l": "2021-01-01", "lapsed": "2021-01-01"}
    for cid, cd in contacts.items():
        store.add("contacts", cid, hs_lifecyclestage_customer_date=cd)
    deal(store, "r", "2023-01-01", "2023-09-01")
    deal(store, "s", "2023-01-01", "2024-01-01T00:00:00Z")  # at P.start: not strictly before it
    deal(store, "l", "2022-01-01", "2023-01-01T00:00:00Z")  # t - p = 365 days exactly
    deal(store, "x", "2021-01-01", "2022-06-01")
    for deal_id, cid in (("r", "renewed"), ("s", "renewed_at_start"), ("l", "exactly_l"), ("x", "lapsed")):
        store.link("deals", "contacts", deal_id, cid)
    k = kpis(store, "2024-Q1")["kpis"]
    assert k["customers_at_start"] == kpi(3, 3, "count")  # recent, renewed, exactly_l
    # At 2024-04-01: recent (cd 2023-06-01) and renewed (2023-09-01) are active; exactly_l is not;
    # renewed_at_start is active again but was not in S.
    assert k["customers_retained"] == kpi(2, 3, "count")


def test_a_month_start_with_nobody_active_still_reads_the_end_of_the_period(store):
    # Inactivity of 30 days over January to May: nobody is active on 1 February and 1 March,
    # so those cuts count nobody. A(P.end) must still be read at P.end (1 June), not at the
    # cut that happens to be last among those where someone was active.
    with_default_pipeline(store)
    customer_dates = {"a": "2023-12-15", "b": "2024-03-20", "c": "2024-03-25",
                      "d": "2024-05-10", "e": "2024-05-20", "f": "2024-05-25"}
    for cid, cd in customer_dates.items():
        store.add("contacts", cid, hs_lifecyclestage_customer_date=cd, hubspot_owner_id="7" if cid < "d" else "8")
    deal(store, "renewal", "2024-04-01", "2024-04-25", amount=600)  # keeps b active on 1 May
    store.link("deals", "contacts", "renewal", "b")
    result = kpis(store, "2024-01-01..2024-06-01", by="owner", churn={"mode": "inactivity", "inactivity_days": 30})
    # A by cut: 1 Jan {a}, 1 Feb {}, 1 Mar {}, 1 Apr {b, c}, 1 May {b}, 1 Jun {d, e, f}
    arpa = 600 / ((1 + 3) / 2) / 5
    expected = {"customers_at_start": kpi(1, 1, "count"), "customers_retained": kpi(0, 1, "count"),
                "active_customers": kpi(3, 3, "count"), "arpa": kpi(arpa, 3, "currency_per_month"),
                # the January piece keeps nobody of a: the chained retention is 0
                "monthly_churn_rate": kpi(100.0, 1, "percent"),
                "customer_lifetime_value": kpi(arpa, 1, "currency")}
    assert {key: result["kpis"][key] for key in expected} == expected
    # a group whose customers are all active only at P.end
    by_owner = {g["key"]: g["kpis"] for g in result["breakdown"]["groups"]}
    assert (by_owner["8"]["active_customers"], by_owner["8"]["customers_at_start"]) == (
        kpi(3, 3, "count"), kpi(0, 0, "count"))
    assert (by_owner["7"]["active_customers"], by_owner["7"]["customers_at_start"]) == (
        kpi(0, 0, "count"), kpi(1, 1, "count"))


def test_pipeline_filters_apply_to_purchases_paying_customers_revenue_and_open_deals(store):
    store.pipeline("deals", "sales", {"won": (True, 1.0), "open": (False, 0.3)})
    store.pipeline("deals", "other", {"won": (True, 1.0), "open": (False, 0.3)})
    store.add("contacts", "c", hs_lifecyclestage_customer_date="2020-01-01")
    for did, pipeline in (("s", "sales"), ("o", "other")):
        store.add("deals", did, createdate="2023-10-01", closedate="2024-01-10", pipeline=pipeline, dealstage="won",
                  hs_is_closed_won=True, amount=100)
        store.add("deals", f"{did}-open", createdate="2023-10-01", pipeline=pipeline, dealstage="open", amount=7)
        store.add("tickets", f"t-{did}", createdate="2024-01-02", hs_pipeline=pipeline)
    store.add("deals", "o-renewal", createdate="2023-10-01", closedate="2023-12-10", pipeline="other", dealstage="won",
              hs_is_closed_won=True, amount=100)
    store.link("deals", "contacts", "o", "c").link("deals", "contacts", "o-renewal", "c")
    both = kpis(store, "2024-01")["kpis"]
    only = kpis(store, "2024-01", deal_pipelines=("sales",), ticket_pipelines=("sales",))["kpis"]
    assert (both["revenue"]["value"], only["revenue"]["value"]) == (200.0, 100.0)
    assert (both["paying_customers"]["value"], only["paying_customers"]["value"]) == (1.0, 0.0)
    assert (both["open_deals"]["value"], only["open_deals"]["value"]) == (2.0, 1.0)
    assert (both["tickets_created"]["value"], only["tickets_created"]["value"]) == (2.0, 1.0)
    # the other pipeline's won deals are c's only purchases within the inactivity window
    assert (both["customers_at_start"]["value"], only["customers_at_start"]["value"]) == (1.0, 0.0)
    assert (both["customers_retained"]["value"], only["customers_retained"]["value"]) == (1.0, 0.0)


def test_property_churn_with_unparsable_and_future_dates(store):
    store.add("contacts", "a", hs_lifecyclestage_customer_date="2023-01-01", churn_date="whenever")
    store.add("contacts", "b", hs_lifecyclestage_customer_date="2023-01-01", churn_date="2024-02-01T00:00:00Z")
    store.add("contacts", "c", hs_lifecyclestage_customer_date="2023-01-01", churn_date="2024-01-31T23:59:59.999Z")
    result = kpis(store, "2024-01", churn={"mode": "property"})
    assert result["kpis"]["customers_at_start"] == kpi(3, 3, "count")
    assert result["kpis"]["customers_retained"] == kpi(2, 3, "count")  # a (unparsable = not churned), b
    assert result["data_quality"]["contacts"]["unparsable"] == {"churn_date": 1}
    assert result["warnings"] == ["1 contact has an unparsable churn_date (kept raw, see value_issues); "
                                  "it counts as not churned."]


def test_property_churn_without_the_property_in_the_store_says_so(store):
    store.add("contacts", "a", hs_lifecyclestage_customer_date="2023-01-01")
    store.add("contacts", "n", hs_lifecyclestage_customer_date="2024-01-05", createdate="2024-01-01")
    result = kpis(store, "2024-01", churn={"mode": "property", "property": "cancelled_on"})
    dependent = ("customers_at_start", "customers_retained", "active_customers", "customer_retention_rate",
                 "churn_rate", "arpa", "monthly_churn_rate", "customer_lifetime_value", "ltv_to_cac")
    assert {key: result["kpis"][key] for key in dependent} == {
        key: kpi(None, 0, KPI_UNITS[key], "churn_property_not_synced") for key in dependent}
    # what does not need active(c, t) keeps its value
    assert (result["kpis"]["new_customers"], result["kpis"]["lead_to_customer_days"]) == (
        kpi(1, 1, "count"), kpi(4.0, 1, "days"))
    assert result["warnings"] == [
        "The churn property cancelled_on is not in the store yet, so retention, churn, active customers, ARPA and "
        "lifetime value have no value; run `hubspot-metrics sync` to read it from the contacts (and check that "
        "HubSpot defines it there)."]
    # A column that exists but is empty is fine: nobody has churned.
    store.columns("contacts", cancelled_on="date")
    k = kpis(store, "2024-01", churn={"mode": "property", "property": "cancelled_on"})["kpis"]
    assert (k["churn_rate"], k["active_customers"]) == (kpi(0.0, 1, "percent"), kpi(2, 2, "count"))


def test_companies_as_the_customer_unit(store):
    with_default_pipeline(store)
    store.add("companies", "co1", hs_lifecyclestage_lead_date="2024-01-03", hs_lifecyclestage_customer_date="2024-01-20")
    store.add("companies", "co2", hs_lifecyclestage_lead_date="2024-01-03")
    store.add("contacts", "c1", hs_lifecyclestage_lead_date="2024-01-03")  # not the unit now
    deal(store, "d", "2024-01-01", "2024-01-20")
    store.link("deals", "companies", "d", "co1").link("deals", "contacts", "d", "c1")
    result = kpis(store, "2024-01", customer_object="companies")
    k = result["kpis"]
    assert (k["leads"], k["new_customers"], k["conversion_rate"], k["paying_customers"]) == (
        kpi(2, 2, "count"), kpi(1, 1, "count"), kpi(50.0, 2, "percent"), kpi(1, 1, "count"))
    assert "companies" in result["data_quality"] and "contacts" not in result["data_quality"]


# --- surveys -----------------------------------------------------------------------------------

def test_survey_values_are_stripped_parsed_and_checked_against_the_scale(store):
    answers = [("NPS", "10"), ("NPS", " 9"), ("NPS", "9.0"), ("NPS", "9.5"), ("NPS", "11"), ("NPS", "N/A"),
               ("NPS", None), ("NPS", "6"), ("CSAT", "4.5"), ("CSAT", "0"), ("CSAT", "2"), ("CES", "7")]
    for i, (survey, answer) in enumerate(answers):
        store.add("feedback_submissions", i, hs_survey_type=survey, hs_value=answer,
                  hs_submission_timestamp="2024-01-10T10:00:00Z")
    result = kpis(store, "2024-01")
    k = result["kpis"]
    assert k["nps"] == kpi(100 * (3 - 1) / 4, 4, "score")  # 10, 9, 9 promoters; 6 detractor
    assert k["csat"] == kpi(50.0, 2, "percent")  # 4.5 and 2 are in 1-5, 0 is not; 4.5 is satisfied
    dq = result["data_quality"]["feedback_submissions"]
    assert {k: v for k, v in dq.items() if k.startswith(("nps", "csat"))} == {
        "nps_out_of_scale": 2, "nps_unparsable": 1, "nps_without_value": 1,
        "csat_out_of_scale": 1, "csat_unparsable": 0, "csat_without_value": 0}
    assert result["warnings"] == [
        "3 NPS answers in the period are not an integer from 0 to 10; nps leaves them out.",
        "1 NPS submission in the period has no value; nps leaves it out.",
        "1 CSAT answer in the period is not a number from 1-5; csat leaves it out."]


def test_answers_whose_raw_values_differ_but_mean_the_same_all_count(store):
    """A hand-made store's untyped hs_value can hold 9 and 9.0 (PostgreSQL: 0 and -0): two
    different raw values, one answer. Each submission counts once."""
    for i in range(4):
        store.add("feedback_submissions", i, hs_survey_type="NPS", hs_value="1",
                  hs_submission_timestamp="2024-01-10T10:00:00Z")
    store.conn.execute("ALTER TABLE feedback_submissions DROP COLUMN hs_value")
    store.conn.execute("ALTER TABLE feedback_submissions ADD COLUMN hs_value")  # no type: keeps what it gets
    for i, value in enumerate([9, 9.0, 9, 0]):
        store.conn.execute("UPDATE feedback_submissions SET hs_value = ? WHERE id = ?", [value, str(i)])
    store.conn.commit()
    assert kpis(store, "2024-01")["kpis"]["nps"] == kpi(100 * (3 - 1) / 4, 4, "score")


def test_hubspots_three_option_csat_scale(store):
    for i, answer in enumerate(["0", "1", "2", "2", "3"]):
        store.add("feedback_submissions", i, hs_survey_type="CSAT", hs_value=answer,
                  hs_submission_timestamp="2024-01-10T10:00:00Z")
    k = kpis(store, "2024-01", csat={"scale_min": 0, "scale_max": 2, "satisfied_min": 2})["kpis"]
    assert k["csat"] == kpi(50.0, 4, "percent")


# --- time zones --------------------------------------------------------------------------------

def test_period_bounds_fall_on_local_midnight(store):
    cases = {"in_first": "2024-02-29T23:30:00Z",   # 00:30 on 1 March in Berlin (CET, +01:00)
             "before": "2024-02-29T22:59:59.999Z",  # 23:59:59.999 on 29 February in Berlin
             "in_last": "2024-03-31T21:59:59.999Z",  # 23:59:59.999 on 31 March (CEST, +02:00)
             "after": "2024-03-31T22:00:00Z"}       # midnight, 1 April in Berlin
    for cid, moment in cases.items():
        store.add("contacts", cid, hs_lifecyclestage_customer_date=moment)
    berlin = kpis(store, "2024-03", timezone="Europe/Berlin")
    assert berlin["kpis"]["new_customers"] == kpi(2, 2, "count")
    assert (berlin["start"], berlin["end"], berlin["timezone"]) == (
        "2024-03-01T00:00:00+01:00", "2024-04-01T00:00:00+02:00", "Europe/Berlin")
    utc = kpis(store, "2024-03")
    assert utc["kpis"]["new_customers"] == kpi(2, 2, "count")  # in UTC: in_last and after


def test_a_custom_range_has_its_elapsed_months(store):
    with_default_pipeline(store)
    store.add("contacts", "a", hs_lifecyclestage_customer_date="2023-01-01", churn_date="2024-03-20")
    store.add("contacts", "b", hs_lifecyclestage_customer_date="2023-01-01")
    deal(store, "d", "2024-03-01", "2024-03-15", amount=1000)
    store.link("deals", "contacts", "d", "b")
    # 10 March to 10 April in Berlin: 31 days less the hour lost to summer time.
    k = kpis(store, "2024-03-10..2024-04-10", timezone="Europe/Berlin", churn={"mode": "property"})["kpis"]
    months = (31 - 1 / 24) / 30.436875
    # S = {a, b}, A(end) = {b}: 1.5 customers on average. Pieces: 10-31 March keeps 1 of 2,
    # 1-10 April keeps 1 of 1.
    arpa = 1000 / 1.5 / months
    assert k["arpa"] == kpi(arpa, 1, "currency_per_month")
    assert k["customer_lifetime_value"] == kpi(arpa / (1 - 0.5 ** (1 / months)), 2, "currency")


@pytest.mark.parametrize("by", ["owner", "pipeline", "source"])
def test_a_breakdown_changes_no_total(store, by):
    with_default_pipeline(store)
    store.add("contacts", "a", hs_lifecyclestage_lead_date="2024-01-05", hubspot_owner_id="7", hs_analytics_source="X")
    deal(store, "d", "2024-01-01", "2024-01-10", hubspot_owner_id="7")
    assert kpis(store, "2024-01", by=by)["kpis"] == kpis(store, "2024-01")["kpis"]
