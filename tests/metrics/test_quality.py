"""The data-quality report (spec 4): per object, what the KPIs dropped or could not use, and a
warning sentence for each gap that skews a KPI."""

from __future__ import annotations

from .conftest import kpis, with_default_pipeline


def test_every_gap_is_counted_and_warned_about(store):
    with_default_pipeline(store)
    store.add("contacts", "ok", hs_lifecyclestage_customer_date="2024-01-05")
    store.add("contacts", "raw", hs_lifecyclestage_customer_date="last week", hs_v2_date_entered_customer="2024-01-06")
    store.add("contacts", "gone", archived=True)
    store.add("contacts", "merged", merged_into="ok")
    store.add("contacts", "named")
    store.add("contacts", "survivor", hs_merged_object_ids="named")
    deals = {  # id: properties
        "no_amount": dict(hs_is_closed_won=True, closedate="2024-01-20", amount=None),
        "dollars": dict(hs_is_closed_won=True, closedate="2024-01-20", amount=100, deal_currency_code="USD"),
        "backwards": dict(hs_is_closed_won=True, createdate="2024-01-25", closedate="2024-01-20", amount=100),
        "undated": dict(hs_is_closed_won=True, closedate="2024-01-20", createdate=None, amount=100),
        "open_unpriced": dict(hs_is_closed_won=False, hs_is_closed=False, dealstage="appointmentscheduled",
                              amount=None),
        "closed_undated": dict(hs_is_closed_won=False, hs_is_closed=True, closedate=None, amount=100),
        "deleted_stage": dict(hs_is_closed_won=False, hs_is_closed=False, dealstage="gone", amount=100),
        "garbled": dict(hs_is_closed_won=False, hs_is_closed=False, dealstage="appointmentscheduled", closedate="tbd",
                        amount="12,5k"),
    }
    for did, props in deals.items():
        store.add("deals", did, **{"createdate": "2024-01-01", "pipeline": "default", "dealstage": "closedwon",
                                   "deal_currency_code": "EUR", **props})
    store.add("tickets", "silent", createdate="2024-01-03T10:00:00Z")
    store.add("tickets", "early", createdate="2024-01-03T10:00:00Z", first_agent_reply_date="2024-01-03T08:00:00Z")
    store.add("tickets", "typo", createdate="2024-01-03T10:00:00Z", first_agent_reply_date="3pm",
              hs_first_agent_message_sent_at="2024-01-03T11:00:00Z")
    for i, (survey, value) in enumerate([("NPS", "11"), ("NPS", "N/A"), ("NPS", None), ("CSAT", "7"), ("NPS", "9")]):
        store.add("feedback_submissions", f"f{i}", hs_survey_type=survey, hs_value=value,
                  hs_submission_timestamp="2024-01-10T00:00:00Z")
    store.add("feedback_submissions", "undated", hs_survey_type="NPS", hs_value="10", hs_submission_timestamp="someday")

    result = kpis(store, "2024-01")
    assert result["data_quality"] == {
        "home_currency": "EUR",
        "contacts": {"records": 3, "excluded_archived": 1, "excluded_merged": 2,
                     "unparsable": {"hs_lifecyclestage_customer_date": 1}, "new_customer_before_creation": 0},
        "deals": {"records": 8, "excluded_archived": 0, "excluded_merged": 0,
                  "unparsable": {"amount": 1, "closedate": 1},
                  "won_without_amount": 2, "won_in_other_currency_without_home_amount": 1,
                  "won_negative_cycle": 1, "won_without_createdate": 1, "open_without_amount": 2,
                  "closed_without_closedate": 1, "unknown_stage": 1, "stale_open": 0},
        "tickets": {"records": 3, "excluded_archived": 0, "excluded_merged": 0,
                    "unparsable": {"first_agent_reply_date": 1}, "unanswered": 1, "negative_response": 1},
        "feedback_submissions": {"records": 6, "excluded_archived": 0, "excluded_merged": 0,
                                 "unparsable": {"hs_submission_timestamp": 1},
                                 "nps_out_of_scale": 1, "nps_unparsable": 1, "nps_without_value": 1,
                                 "csat_out_of_scale": 1, "csat_unparsable": 0, "csat_without_value": 0},
    }
    assert result["warnings"] == [
        "1 contact has an unparsable hs_lifecyclestage_customer_date (kept raw, see value_issues); its "
        "hs_v2_date_entered_customer twin is used where it has a date.",
        "1 deal has an unparsable amount (kept raw, see value_issues); it counts as no amount.",
        "1 deal has an unparsable closedate (kept raw, see value_issues); those deals count in no period.",
        "1 ticket has an unparsable first_agent_reply_date (kept raw, see value_issues); the other reply timestamp is used where there is one.",
        "1 feedback submission has an unparsable hs_submission_timestamp (kept raw, see value_issues); those "
        "submissions count in no period.",
        "2 deals won in the period have no amount (1 in another currency without amount_in_home_currency); revenue, "
        "revenue_per_day, avg_deal_size, revenue_per_customer, arpa, customer_lifetime_value and pipeline_velocity "
        "leave them out.",
        "1 deal won in the period closed before it was created; avg_sales_cycle_days, median_sales_cycle_days, "
        "pipeline_speed and pipeline_velocity leave it out.",
        "1 deal won in the period has no createdate; the sales-cycle KPIs leave it out.",
        "2 deals open at the end of the period have no amount; open_pipeline_value leaves them out.",
        "1 deal is closed without a close date; it counts in no period and is not open.",
        "1 deal not marked closed is in a stage missing from the pipeline settings (deleted?); it counts as open.",
        "1 ticket created in the period has no agent reply; avg_first_response_hours and "
        "median_first_response_hours cover the replied tickets only.",
        "1 ticket created in the period has a first reply before creation; the response-time KPIs leave it out.",
        "2 NPS answers in the period are not an integer from 0 to 10; nps leaves them out.",
        "1 NPS submission in the period has no value; nps leaves it out.",
        "1 CSAT answer in the period is not a number from 1-5; csat leaves it out.",
    ]
    k = result["kpis"]
    assert (k["new_customers"]["value"], k["deals_won"]["value"], k["nps"]["n"]) == (2.0, 4.0, 1)
    assert k["avg_first_response_hours"] == {"value": 1.0, "n": 1, "reason": None, "unit": "hours"}  # typo: 11:00


def test_stale_open_deals_are_counted_and_warned_about(store):
    with_default_pipeline(store)
    # Won in January 2024 after 10 days: stale means open and created more than 30 days before Feb 1.
    store.add("deals", "won", createdate="2024-01-05", closedate="2024-01-15", pipeline="default",
              dealstage="closedwon", hs_is_closed_won=True, amount=100)
    for did, created in (("fresh", "2024-01-10"), ("exactly_30_days", "2024-01-02"), ("31_days", "2024-01-01"),
                         ("old", "2023-06-01")):
        store.add("deals", did, createdate=created, pipeline="default", dealstage="appointmentscheduled",
                  hs_is_closed_won=False, hs_is_closed=False, amount=100)
    result = kpis(store, "2024-01")
    assert result["data_quality"]["deals"]["stale_open"] == 2  # 31_days and old
    assert ("2 open deals were created more than 3 average sales cycles (30.0 days) before the end of the period; "
            "stale deals inflate pipeline_velocity (close or delete them in HubSpot).") in result["warnings"]
    # Without a won deal in the period, stale means older than 365 days: `old` by the end of June.
    assert kpis(store, "2024-04")["data_quality"]["deals"]["stale_open"] == 0
    assert kpis(store, "2024-06")["data_quality"]["deals"]["stale_open"] == 1
