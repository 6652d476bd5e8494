"""The KPI catalogue, as data: key, unit, label, one-line definition, and the dimensions it has.

Keys, units and definitions are the contract of `docs/kpi-spec.md` (sections 2, 3 and 7.14);
the order of `KPI_KEYS` is the spec's order and the order of every output.
"""

from __future__ import annotations

DEFINITION_VERSION = "kpi-spec-v1"

# key: (unit, label for people, definition)
_CATALOGUE: dict[str, tuple[str, str, str]] = {
    "cac": ("currency", "Customer acquisition cost",
            "spend(P) / new_customers(P); spend is the [spend] table's months in P"),
    "customer_retention_rate": ("percent", "Customer retention rate",
                                "100 · customers active at P.end among those active at P.start / those active at P.start"),
    "customer_lifetime_value": ("currency", "Customer lifetime value",
                                "ARPA · gross_margin / monthly churn; ARPA = revenue / paying customers / months(P)"),
    "conversion_rate": ("percent", "Lead → customer conversion",
                        "100 · leads of P (lead date in P) that became customers before P.end / leads of P"),
    "churn_rate": ("percent", "Churn rate",
                   "100 · customers active at P.start but not at P.end / customers active at P.start"),
    "nps": ("score", "Net Promoter Score",
            "100 · (#9-10 − #0-6) / # NPS answers in P that are an integer 0-10"),
    "csat": ("percent", "Customer satisfaction (CSAT)",
             "100 · # CSAT answers ≥ satisfied_min / # CSAT answers in P within the scale"),
    "avg_first_response_hours": ("hours", "Average first response",
                                 "mean hours from createdate to the first agent reply, tickets created in P"),
    "avg_sales_cycle_days": ("days", "Average sales cycle",
                             "mean days from createdate to closedate of deals won in P"),
    "pipeline_velocity": ("currency_per_day", "Pipeline velocity",
                          "opportunities · avg deal size · win rate / avg sales cycle days"),
    "new_customers": ("count", "New customers", "customers whose customer date is in P"),
    "leads": ("count", "Leads", "records of the customer unit whose lead date is in P"),
    "customers_at_start": ("count", "Customers at start", "customers active at P.start"),
    "customers_retained": ("count", "Customers retained", "customers active at P.start and at P.end"),
    "revenue": ("currency", "Revenue", "sum of the amounts of deals won in P (home currency)"),
    "paying_customers": ("count", "Paying customers", "distinct customers associated with a deal won in P"),
    "revenue_per_customer": ("currency", "Revenue per paying customer", "revenue / paying customers"),
    "deals_won": ("count", "Deals won", "deals won with close date in P"),
    "deals_lost": ("count", "Deals lost", "deals closed lost with close date in P"),
    "win_rate": ("percent", "Win rate", "100 · won / (won + lost), deals closed in P"),
    "avg_deal_size": ("currency", "Average deal size", "revenue / deals won in P that have an amount"),
    "opportunities": ("count", "Opportunities", "deals created in P"),
    "median_sales_cycle_days": ("days", "Median sales cycle", "median days from createdate to closedate, deals won in P"),
    "deal_throughput": ("per_day", "Deal throughput", "deals won / average sales cycle days: won deals per day"),
    "spend": ("currency", "Sales and marketing spend", "sum of the [spend] table's months in P"),
    "ltv_to_cac": ("ratio", "LTV : CAC", "customer lifetime value / customer acquisition cost (≥ 3 is healthy)"),
    "open_deals": ("count", "Open deals at end", "deals created before P.end and not closed before P.end"),
    "open_pipeline_value": ("currency", "Open pipeline value", "sum of the amounts of the open deals at P.end"),
    "nps_responses": ("count", "NPS responses", "valid NPS answers in P"),
    "csat_responses": ("count", "CSAT responses", "valid CSAT answers in P"),
    "tickets_created": ("count", "Tickets created", "tickets created in P"),
    "tickets_unanswered": ("count", "Tickets unanswered", "tickets created in P without a first agent reply"),
    "median_first_response_hours": ("hours", "Median first response",
                                    "median hours to the first agent reply, tickets created in P"),
}

KPI_KEYS: tuple[str, ...] = tuple(_CATALOGUE)
KPI_UNITS: dict[str, str] = {key: unit for key, (unit, _, _) in _CATALOGUE.items()}
LABELS: dict[str, str] = {key: label for key, (_, label, _) in _CATALOGUE.items()}
definitions: dict[str, str] = {key: text for key, (_, _, text) in _CATALOGUE.items()}
HEADLINE_KPIS = KPI_KEYS[:10]

# Which family of records each KPI is computed from; a breakdown dimension applies to a family.
CUSTOMER_KPIS = ("customer_retention_rate", "conversion_rate", "churn_rate", "new_customers", "leads",
                 "customers_at_start", "customers_retained", "paying_customers")
DEAL_KPIS = ("avg_sales_cycle_days", "pipeline_velocity", "revenue", "deals_won", "deals_lost", "win_rate",
             "avg_deal_size", "opportunities", "median_sales_cycle_days", "deal_throughput", "open_deals",
             "open_pipeline_value")
TICKET_KPIS = ("avg_first_response_hours", "tickets_created", "tickets_unanswered", "median_first_response_hours")
# Not broken down: spend is not kept per owner or channel (cac, ltv_to_cac), CLV and revenue per
# customer mix deal revenue with customer counts, and surveys carry no owner or source.
DIMENSIONS: dict[str, dict[str, str]] = {
    # dimension -> family -> what the family is grouped by
    "owner": {"customers": "hubspot_owner_id of the customer record", "deals": "hubspot_owner_id of the deal",
              "tickets": "hubspot_owner_id of the ticket"},
    "pipeline": {"deals": "pipeline of the deal", "tickets": "hs_pipeline of the ticket"},
    "source": {"customers": "hs_analytics_source of the customer record"},
}
FAMILY_KPIS = {"customers": CUSTOMER_KPIS, "deals": DEAL_KPIS, "tickets": TICKET_KPIS}


def applicable(by: str) -> set[str]:
    """The KPI keys that a breakdown by `by` computes; the others are `not_applicable`."""
    return {key for family in DIMENSIONS[by] for key in FAMILY_KPIS[family]}
