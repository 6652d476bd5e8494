"""The KPI catalogue, as data: key, unit, label, one-line definition, and the dimensions it has.

This is the one source of each KPI's definition: docs/metrics.md quotes every line of it (a
test holds the two together) and the HTML report prints it. The order of `KPI_KEYS` is the
order of every output: the ten KPIs, then the supporting metrics (docs/metrics.md, "Output").
"""

from __future__ import annotations

from dataclasses import dataclass

from hubspot_metrics.objects import OBJECTS, kpis_fed_by

DEFINITION_VERSION = "kpi-spec-v2"

# key: (unit, label for people, definition)
_CATALOGUE: dict[str, tuple[str, str, str]] = {
    "cac": ("currency", "Customer acquisition cost",
            "spend(P) / new_customers(P)"),
    "customer_retention_rate": ("percent", "Customer retention rate",
                                "100 · customers active at the start of P and still active at its end / customers "
                                "active at the start"),
    "customer_lifetime_value": ("currency", "Customer lifetime value",
                                "arpa · gross_margin / (monthly_churn_rate / 100)"),
    "conversion_rate": ("percent", "Lead → customer conversion",
                        "100 · leads of P that became customers before the end of P / leads of P"),
    "churn_rate": ("percent", "Churn rate",
                   "100 · customers active at the start of P but not at its end / customers active at the start"),
    "nps": ("score", "Net Promoter Score",
            "100 · (answers 9-10 − answers 0-6) / NPS answers in P that are an integer from 0 to 10"),
    "csat": ("percent", "Customer satisfaction (CSAT)",
             "100 · CSAT answers of at least satisfied_min / CSAT answers in P within the scale"),
    "avg_first_response_hours": ("hours", "Average first response",
                                 "mean hours from creation to the first agent reply, over the replied tickets "
                                 "created in P"),
    "avg_sales_cycle_days": ("days", "Average sales cycle",
                             "mean days from createdate to closedate of the deals won in P"),
    "pipeline_velocity": ("currency_per_day", "Pipeline velocity",
                          "open_deals_at_start · avg_deal_size · win_rate / 100 / avg_sales_cycle_days"),
    "new_customers": ("count", "New customers", "customers whose customer date is in P"),
    "leads": ("count", "Leads", "records of the customer unit whose lead date is in P"),
    "customers_at_start": ("count", "Customers at start", "customers active at the start of P"),
    "customers_retained": ("count", "Customers retained", "customers active at the start of P and at its end"),
    "revenue": ("currency", "Revenue", "sum of the amounts of the deals won in P (home currency)"),
    "paying_customers": ("count", "Paying customers", "distinct customers associated with a deal won in P"),
    "revenue_per_customer": ("currency", "Revenue per paying customer", "revenue / paying_customers"),
    "deals_won": ("count", "Deals won", "deals won with a close date in P"),
    "deals_lost": ("count", "Deals lost", "deals closed lost with a close date in P"),
    "win_rate": ("percent", "Win rate", "100 · deals_won / (deals_won + deals_lost)"),
    "avg_deal_size": ("currency", "Average deal size", "revenue / deals won in P that have an amount"),
    "new_deals": ("count", "New deals", "deals created in P"),
    "open_deals_at_start": ("count", "Open deals at start",
                            "deals created before the start of P and not closed before it"),
    "active_customers": ("count", "Active customers", "customers active at the end of P"),
    "arpa": ("currency_per_month", "Revenue per active customer (ARPA)",
             "customer revenue of P / average of the active customers at its start and end / months(P)"),
    "monthly_churn_rate": ("percent", "Monthly churn rate",
                           "100 · (1 − chained retention of P's months ^ (1 / months(P)))"),
    "revenue_per_day": ("currency_per_day", "Revenue per day", "revenue / days(P)"),
    "lead_to_customer_days": ("days", "Lead to customer",
                              "mean days from a record's creation to its customer date, new customers of P"),
    "median_sales_cycle_days": ("days", "Median sales cycle",
                                "median days from createdate to closedate of the deals won in P"),
    "deal_throughput": ("per_day", "Deal throughput", "deals_won / days(P): won deals per calendar day"),
    "pipeline_speed": ("per_day", "Pipeline speed", "deals_won / avg_sales_cycle_days"),
    "spend": ("currency", "Sales and marketing spend", "sum of the [spend] entries of the months of P"),
    "ltv_to_cac": ("ratio", "LTV : CAC", "customer_lifetime_value / cac (3 or more is healthy)"),
    "open_deals": ("count", "Open deals at end", "deals created before the end of P and not closed before it"),
    "open_pipeline_value": ("currency", "Open pipeline value", "sum of the amounts of open_deals"),
    "nps_responses": ("count", "NPS responses", "valid NPS answers in P"),
    "csat_responses": ("count", "CSAT responses", "valid CSAT answers in P"),
    "tickets_created": ("count", "Tickets created", "tickets created in P"),
    "tickets_unanswered": ("count", "Tickets unanswered", "tickets created in P without a first agent reply"),
    "median_first_response_hours": ("hours", "Median first response",
                                    "median hours to the first agent reply, over the replied tickets created in P"),
}

KPI_KEYS: tuple[str, ...] = tuple(_CATALOGUE)
KPI_UNITS: dict[str, str] = {key: unit for key, (unit, _, _) in _CATALOGUE.items()}
LABELS: dict[str, str] = {key: label for key, (_, label, _) in _CATALOGUE.items()}
definitions: dict[str, str] = {key: text for key, (_, _, text) in _CATALOGUE.items()}
HEADLINE_KPIS = KPI_KEYS[:10]

# The keys that need `active(c, t)`: in property churn mode without the property in the store
# they are all null with `churn_property_not_synced` (docs/metrics.md, "Churn").
CHURN_DEPENDENT = ("customers_at_start", "customers_retained", "active_customers", "customer_retention_rate",
                   "churn_rate", "arpa", "monthly_churn_rate", "customer_lifetime_value", "ltv_to_cac")

# Which family of records each KPI is computed from; a breakdown dimension applies to a family.
CUSTOMER_KPIS = ("customer_retention_rate", "conversion_rate", "churn_rate", "new_customers", "leads",
                 "customers_at_start", "customers_retained", "paying_customers", "active_customers",
                 "lead_to_customer_days")
DEAL_KPIS = ("avg_sales_cycle_days", "pipeline_velocity", "revenue", "deals_won", "deals_lost", "win_rate",
             "avg_deal_size", "new_deals", "open_deals_at_start", "median_sales_cycle_days", "deal_throughput",
             "pipeline_speed", "revenue_per_day", "open_deals", "open_pipeline_value")
TICKET_KPIS = ("avg_first_response_hours", "tickets_created", "tickets_unanswered", "median_first_response_hours")
# Not broken down: spend is not kept per owner or channel (cac, ltv_to_cac), CLV, ARPA and
# revenue per customer mix deal revenue with customer counts, and surveys carry no owner or source.
DIMENSIONS: dict[str, dict[str, str]] = {
    # dimension -> family -> what the family is grouped by
    "owner": {"customers": "hubspot_owner_id of the customer record", "deals": "hubspot_owner_id of the deal",
              "tickets": "hubspot_owner_id of the ticket"},
    "pipeline": {"deals": "pipeline of the deal", "tickets": "hs_pipeline of the ticket"},
    "source": {"customers": "hs_analytics_source of the customer record"},
}
FAMILY_KPIS = {"customers": CUSTOMER_KPIS, "deals": DEAL_KPIS, "tickets": TICKET_KPIS}
FAMILIES = ("customers", "deals", "tickets", "surveys")
SURVEY_KPIS = ("nps", "csat", "nps_responses", "csat_responses")
# Keys that mix families: customer counts with deal revenue.
_MIXED = {"arpa": {"customers", "deals"}, "customer_lifetime_value": {"customers", "deals"},
          "ltv_to_cac": {"customers", "deals"}, "revenue_per_customer": {"customers", "deals"}}


def families_of(key: str) -> set[str]:
    """The record families whose queries `key`'s value needs (spend needs none)."""
    if key in _MIXED:
        return _MIXED[key]
    if key in CUSTOMER_KPIS or key in CHURN_DEPENDENT or key == "cac":
        return {"customers"}
    for family, keys in (("deals", DEAL_KPIS), ("tickets", TICKET_KPIS), ("surveys", SURVEY_KPIS)):
        if key in keys:
            return {family}
    return set()


def applicable(by: str) -> set[str]:
    """The KPI keys that a breakdown by `by` computes; the others are `not_applicable`."""
    return {key for family in DIMENSIONS[by] for key in FAMILY_KPIS[family]}


@dataclass(frozen=True)
class KpiInputs:
    """What a KPI is computed from: the objects it reads and the scopes that read them."""
    objects: tuple[str, ...]
    scopes: tuple[str, ...]


def kpi_inputs(customer_object: str, churn_mode: str) -> dict[str, KpiInputs]:
    """The inputs of each KPI an object declares it feeds (the headline ones, revenue, win rate) under this customer unit and churn mode.

    Derived from the objects' catalogue (objects.py, which says which KPIs each object feeds),
    so `check`, `status` and the sync's skip warnings cannot disagree about them.
    """
    readers: dict[str, list[str]] = {}
    for name in OBJECTS:
        for key in kpis_fed_by(name, customer_object, churn_mode):
            readers.setdefault(key, []).append(name)
    return {key: KpiInputs(tuple(readers[key]), tuple(OBJECTS[n].scope for n in readers[key]))
            for key in KPI_KEYS if key in readers}


def kpis_blocked_by(missing_objects: set[str], customer_object: str, churn_mode: str) -> list[str]:
    """The KPIs that cannot be computed without these objects, in catalogue order."""
    return [key for key, inputs in kpi_inputs(customer_object, churn_mode).items()
            if missing_objects & set(inputs.objects)]
