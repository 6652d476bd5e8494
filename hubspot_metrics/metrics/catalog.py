"""The KPI catalogue, as data: key, unit, label, one-line definition, and the dimensions it has.

This is the one source of each KPI's definition: docs/metrics.md quotes every line of it (a
test holds the two together) and the HTML report prints it. The order of `KPI_KEYS` is the
order of every output: the ten KPIs, then the supporting metrics (docs/metrics.md, "Output").
"""

from __future__ import annotations

from dataclasses import dataclass

from hubspot_metrics.objects import OBJECTS

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


# --- what each KPI reads --------------------------------------------------------------------
#
# One declaration per KPI of the objects it reads and the properties it reads from each; the
# queries (queries.py) read exactly these (tests/metrics/test_catalog_inputs.py), and `check`,
# `status` and the sync's skip warnings derive from them. An input is a group of properties
# of which any one will do (each one present is read): the lifecycle dates come under a legacy
# and a v2 name, and HubSpot lists only the legacy one among an object's properties.

UNIT = "customer unit"  # stands for [metrics] customer_object: contacts or companies
CHURN_PROPERTY = "[metrics.churn] property"  # stands for the configured churn date property

Input = tuple[str, ...]  # alternatives: any one present will do
CUSTOMER_DATE: Input = ("hs_lifecyclestage_customer_date", "hs_v2_date_entered_customer")
LEAD_DATE: Input = ("hs_lifecyclestage_lead_date", "hs_v2_date_entered_lead")
CREATED: Input = ("createdate",)
# A deal's outcome: the won and closed flags, else the stage's metadata (in its pipeline).
DEAL_OUTCOME: tuple[Input, ...] = (("hs_is_closed_won", "dealstage"), ("hs_is_closed", "dealstage"), ("pipeline",))
CLOSE_DATE: Input = ("closedate",)
DEAL_AMOUNT: tuple[Input, ...] = (("amount_in_home_currency", "amount"), ("deal_currency_code",))
TICKET_REPLY: tuple[Input, ...] = (("createdate",), ("first_agent_reply_date", "hs_first_agent_message_sent_at"),
                                   ("hs_pipeline",))
SURVEY_ANSWER: tuple[Input, ...] = (("hs_survey_type",), ("hs_value",), ("hs_submission_timestamp",))
# Excluded records never count anywhere (docs/metrics.md): every object that has it is read with it.
MERGED_IDS: Input = ("hs_merged_object_ids",)
# Read when present, but no KPI needs them: the pipelines refine a deal's stage and filter by
# [metrics] deal_pipelines / ticket_pipelines, and without a currency an amount is taken as in
# the home currency. `check` and `status` do not call a KPI blocked for want of one.
REFINEMENTS = frozenset({"pipeline", "hs_pipeline", "deal_currency_code", *MERGED_IDS})

_WON_DEALS = (*DEAL_OUTCOME, CLOSE_DATE)
_REVENUE = {"deals": (*_WON_DEALS, *DEAL_AMOUNT)}
_CYCLE = {"deals": (*_WON_DEALS, CREATED)}
_CUSTOMERS = {UNIT: (CUSTOMER_DATE,)}
# key -> object (or UNIT) -> inputs. Ordered as the sync's skip warnings name them: the customer
# unit's KPIs, then the deals', tickets' and surveys'. Churn's own input is added by mode (below).
_READS: dict[str, dict[str, tuple[Input, ...]]] = {
    "cac": _CUSTOMERS,
    "conversion_rate": {UNIT: (LEAD_DATE, CUSTOMER_DATE)},
    "customer_retention_rate": _CUSTOMERS,
    "churn_rate": _CUSTOMERS,
    "customer_lifetime_value": {**_CUSTOMERS, **_REVENUE},
    "avg_sales_cycle_days": _CYCLE,
    "pipeline_velocity": {"deals": (*_WON_DEALS, CREATED, *DEAL_AMOUNT)},
    "revenue": _REVENUE,
    "win_rate": {"deals": _WON_DEALS},
    "avg_first_response_hours": {"tickets": TICKET_REPLY},
    "nps": {"feedback_submissions": SURVEY_ANSWER},
    "csat": {"feedback_submissions": SURVEY_ANSWER},
    "new_customers": _CUSTOMERS,
    "leads": {UNIT: (LEAD_DATE,)},
    "customers_at_start": _CUSTOMERS,
    "customers_retained": _CUSTOMERS,
    "paying_customers": {UNIT: (), "deals": _WON_DEALS},
    "revenue_per_customer": {UNIT: (), **_REVENUE},
    "deals_won": {"deals": _WON_DEALS},
    "deals_lost": {"deals": _WON_DEALS},
    "avg_deal_size": _REVENUE,
    "new_deals": {"deals": (CREATED, ("pipeline",))},
    "open_deals_at_start": _CYCLE,
    "active_customers": _CUSTOMERS,
    "arpa": {**_CUSTOMERS, **_REVENUE},
    "monthly_churn_rate": _CUSTOMERS,
    "revenue_per_day": _REVENUE,
    "lead_to_customer_days": {UNIT: (CUSTOMER_DATE, CREATED)},
    "median_sales_cycle_days": _CYCLE,
    "deal_throughput": {"deals": _WON_DEALS},
    "pipeline_speed": _CYCLE,
    "spend": {},  # [spend] in the config
    "ltv_to_cac": {**_CUSTOMERS, **_REVENUE},
    "open_deals": _CYCLE,
    "open_pipeline_value": {"deals": (*_WON_DEALS, CREATED, *DEAL_AMOUNT)},
    "nps_responses": {"feedback_submissions": SURVEY_ANSWER},
    "csat_responses": {"feedback_submissions": SURVEY_ANSWER},
    "tickets_created": {"tickets": TICKET_REPLY},
    "tickets_unanswered": {"tickets": TICKET_REPLY},
    "median_first_response_hours": {"tickets": TICKET_REPLY},
}
# Who is active at an instant (the CHURN_DEPENDENT keys), by churn mode: in property mode the
# churn date on the customer unit; in inactivity mode a customer stays active while it buys,
# so its won deals are read too.
_CHURN_READS: dict[str, dict[str, tuple[Input, ...]]] = {
    "property": {UNIT: ((CHURN_PROPERTY,),)},
    "inactivity": {"deals": _WON_DEALS},
}
# The KPIs that `check` and the sync's warnings name when an input is missing: the ten, and
# the two supporting metrics a sales team reads first.
NAMED_WHEN_BLOCKED = (*HEADLINE_KPIS, "revenue", "win_rate")


@dataclass(frozen=True)
class KpiInputs:
    """What a KPI is computed from: the objects it reads, the properties it reads from each
    (groups of alternatives, any one will do), and the scopes that read them."""
    objects: tuple[str, ...]
    scopes: tuple[str, ...]
    properties: dict[str, tuple[Input, ...]]

    def property_names(self, name: str) -> list[str]:
        """Every property read from object `name`, alternatives included."""
        return list(dict.fromkeys(p for group in self.properties.get(name, ()) for p in group))


def _resolve(reads: dict[str, tuple[Input, ...]], customer_object: str, churn_property: str
             ) -> dict[str, tuple[Input, ...]]:
    out: dict[str, tuple[Input, ...]] = {}
    for role, inputs in reads.items():
        name = customer_object if role == UNIT else role
        groups = tuple(tuple(churn_property if p == CHURN_PROPERTY else p for p in group) for group in inputs)
        merged = (MERGED_IDS,) if MERGED_IDS[0] in OBJECTS[name].properties else ()
        out[name] = tuple(dict.fromkeys(out.get(name, ()) + groups + merged))
    return out


def kpi_inputs(customer_object: str, churn_mode: str, churn_property: str = "churn_date",
               keys: tuple[str, ...] = NAMED_WHEN_BLOCKED) -> dict[str, KpiInputs]:
    """The inputs of each of `keys` (by default the KPIs named when one is blocked) under this
    customer unit and churn mode, in catalogue order; a KPI that reads nothing is left out."""
    out = {}
    for key in KPI_KEYS:
        if key not in keys:
            continue
        reads = _resolve(_READS[key], customer_object, churn_property)
        if key in CHURN_DEPENDENT:
            for name, groups in _resolve(_CHURN_READS[churn_mode], customer_object, churn_property).items():
                reads[name] = tuple(dict.fromkeys(reads.get(name, ()) + groups))
        if reads:
            out[key] = KpiInputs(tuple(reads), tuple(OBJECTS[n].scope for n in reads), reads)
    return out


def kpis_reading(name: str, customer_object: str, churn_mode: str) -> list[str]:
    """The KPIs named when object `name` is missing: first those that read it under any churn
    mode, then those that read it only in this one (e.g. deals for retention in inactivity mode)."""
    always = [key for key in _READS if key in NAMED_WHEN_BLOCKED
              and name in _resolve(_READS[key], customer_object, "")]
    by_mode = [key for key in _READS if key in NAMED_WHEN_BLOCKED and key in CHURN_DEPENDENT
               and name in _resolve(_CHURN_READS[churn_mode], customer_object, "")]
    return list(dict.fromkeys(always + by_mode))


def kpis_blocked_by(missing_objects: set[str], customer_object: str, churn_mode: str) -> list[str]:
    """The KPIs that cannot be computed without these objects, in catalogue order."""
    return [key for key, inputs in kpi_inputs(customer_object, churn_mode).items()
            if missing_objects & set(inputs.objects)]


def kpis_missing_properties(defined: dict[str, set[str]], customer_object: str, churn_mode: str,
                            churn_property: str) -> dict[tuple[str, str], list[str]]:
    """(object, property) -> the KPIs it blocks, for each input of which no alternative is in
    `defined` (object -> property names: defined in the portal, or columns in the store).
    Objects absent from `defined` are not judged (not readable, or not synced yet)."""
    blocked: dict[tuple[str, str], list[str]] = {}
    for key, inputs in kpi_inputs(customer_object, churn_mode, churn_property).items():
        for name, groups in inputs.properties.items():
            if name not in defined:
                continue
            for group in groups:
                if not set(group) <= REFINEMENTS and not defined[name] & set(group):
                    blocked.setdefault((name, group[0]), []).append(key)
    return blocked
