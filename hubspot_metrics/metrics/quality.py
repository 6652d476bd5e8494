"""The data-quality report (docs/metrics.md, "Data quality"): per object, the records the KPIs had to drop or
could not use, and one warning sentence for each kind of gap that skews a KPI."""

from __future__ import annotations

from hubspot_metrics.config import MetricsSettings
from hubspot_metrics.metrics.kpis import SurveyTally
from hubspot_metrics.metrics.counts import CustomerCounts, DealCounts, SurveyCounts, TicketCounts

NOUNS = {"contacts": ("contact", "contacts"), "companies": ("company", "companies"), "deals": ("deal", "deals"),
         "tickets": ("ticket", "tickets"), "feedback_submissions": ("feedback submission", "feedback submissions"),
         "nps_answers": ("NPS answer", "NPS answers"), "nps_submissions": ("NPS submission", "NPS submissions"),
         "csat_answers": ("CSAT answer", "CSAT answers"), "csat_submissions": ("CSAT submission", "CSAT submissions")}

# What the KPIs do with an unparsable value of a property (the raw value stays in the store).
UNPARSABLE_EFFECT = {
    "hs_lifecyclestage_customer_date": "its hs_v2_date_entered_customer twin is used where it has a date",
    "hs_v2_date_entered_customer": "it counts as empty",
    "hs_lifecyclestage_lead_date": "its hs_v2_date_entered_lead twin is used where it has a date",
    "hs_v2_date_entered_lead": "it counts as empty",
    "closedate": "those deals count in no period",
    "createdate": "it counts as empty",
    "amount": "it counts as no amount",
    "amount_in_home_currency": "amount is used where the deal is in the home currency",
    "hs_is_closed_won": "the deal stage decides whether they are won",
    "hs_is_closed": "the deal stage decides whether they are closed",
    "first_agent_reply_date": "the other reply timestamp is used where there is one",
    "hs_first_agent_message_sent_at": "the other reply timestamp is used where there is one",
    "hs_submission_timestamp": "those submissions count in no period",
}


def _n(count: int, table: str) -> str:
    singular, plural = NOUNS[table]
    return f"{count} {singular if count == 1 else plural}"


def assess(settings: MetricsSettings, customers: CustomerCounts, deals: DealCounts, tickets: TicketCounts,
           surveys: SurveyCounts, tally: SurveyTally, exclusions: dict[str, dict[str, int]],
           home_currency: str | None) -> tuple[dict, list[str]]:
    unit = settings.customer_object
    churn_property = settings.churn.property if settings.churn.mode == "property" else None

    def base(table: str, counts) -> dict:
        return {"records": counts.records, "excluded_archived": exclusions[table]["archived"],
                "excluded_merged": exclusions[table]["merged"], "unparsable": dict(sorted(counts.unparsable.items()))}

    quality = {
        "home_currency": home_currency,
        unit: {**base(unit, customers), "new_customer_before_creation": customers.lead_to_customer_negative},
        "deals": {**base("deals", deals),
                  "won_without_amount": deals.won_without_amount,
                  "won_in_other_currency_without_home_amount": deals.won_foreign_without_home,
                  "won_negative_cycle": deals.negative_cycle,
                  "won_without_createdate": deals.won_without_createdate,
                  "open_without_amount": deals.open_without_amount,
                  "closed_without_closedate": deals.closed_without_closedate,
                  "unknown_stage": deals.unknown_stage},
        "tickets": {**base("tickets", tickets), "unanswered": tickets.unanswered,
                    "negative_response": tickets.negative},
        "feedback_submissions": {**base("feedback_submissions", surveys),
                                 **{f"{s}_{issue}": tally.issues.get(f"{s}_{issue}", 0) for s in ("nps", "csat")
                                    for issue in ("out_of_scale", "unparsable", "without_value")}},
    }

    warnings: list[str] = []

    def warn(count: int, table: str, text: str) -> None:
        """`text` with {them}, {have}, {are}, {were}, {they}, {counts} agreeing with `count` records."""
        if count:
            one = count == 1
            warnings.append(f"{_n(count, table)} " + text.format(
                them="it" if one else "them", have="has" if one else "have", are="is" if one else "are",
                were="it was" if one else "they were", they="it" if one else "they",
                counts="counts" if one else "count"))

    for table, counts in ((unit, customers), ("deals", deals), ("tickets", tickets), ("feedback_submissions", surveys)):
        for prop, count in sorted(counts.unparsable.items()):
            effect = "it counts as not churned" if prop == churn_property else UNPARSABLE_EFFECT.get(prop, "it counts as empty")
            warn(count, table, f"{{have}} an unparsable {prop} (kept raw, see value_issues); {effect}.")
    d, t = deals, tickets
    other = (f" ({d.won_foreign_without_home} in another currency without amount_in_home_currency)"
             if d.won_foreign_without_home else "")
    warn(customers.lead_to_customer_negative, unit, "that became customers in the period {have} a customer date "
                                                    "before their createdate; lead_to_customer_days leaves {them} out.")
    warn(d.won_without_amount, "deals", f"won in the period {{have}} no amount{other}; revenue, revenue_per_day, "
                                        "avg_deal_size, revenue_per_customer, arpa, customer_lifetime_value and "
                                        "pipeline_velocity leave {them} out.")
    warn(d.negative_cycle, "deals", "won in the period closed before {were} created; avg_sales_cycle_days, "
                                    "median_sales_cycle_days, pipeline_speed and pipeline_velocity leave {them} out.")
    warn(d.won_without_createdate, "deals", "won in the period {have} no createdate; the sales-cycle KPIs leave {them} out.")
    warn(d.open_without_amount, "deals", "open at the end of the period {have} no amount; open_pipeline_value leaves "
                                         "{them} out.")
    warn(d.closed_without_closedate, "deals", "{are} closed without a close date; {they} {counts} in no period "
                                              "and {are} not open.")
    warn(d.unknown_stage, "deals", "not marked closed {are} in a stage missing from the pipeline settings (deleted?); "
                                   "{they} {counts} as open.")
    if home_currency is None and d.won_foreign_without_home:
        warnings.append("The portal's home currency is unknown (no account details in the store); only deals without "
                        "a currency code fall back to amount.")
    warn(t.unanswered, "tickets", "created in the period {have} no agent reply; avg_first_response_hours and "
                                  "median_first_response_hours cover the replied tickets only.")
    warn(t.negative, "tickets", "created in the period {have} a first reply before creation; the response-time KPIs "
                                "leave {them} out.")
    scale = f"{_num(settings.csat.scale_min)}-{_num(settings.csat.scale_max)}"
    for key in ("nps", "csat"):
        allowed = "an integer from 0 to 10" if key == "nps" else f"a number from {scale}"
        warn(tally.issues.get(f"{key}_out_of_scale", 0) + tally.issues.get(f"{key}_unparsable", 0), f"{key}_answers",
             f"in the period {{are}} not {allowed}; {key} leaves {{them}} out.")
        warn(tally.issues.get(f"{key}_without_value", 0), f"{key}_submissions",
             f"in the period {{have}} no value; {key} leaves {{them}} out.")
    return quality, warnings


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
