"""The KPI formulas of docs/kpi-spec.md, applied to the counts of `queries`.

Everything here is arithmetic on counts: no SQL, no I/O. A value is a float or None; a None
carries the spec's reason (in the spec's order where several apply, 7.2), and every KPI its
`n` (7.1) and unit. Durations arrive as integer milliseconds, so means and medians are exact.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import dataclass, field

from hubspot_metrics.config import CsatSettings, MetricsSettings
from hubspot_metrics.metrics.catalog import KPI_KEYS, KPI_UNITS
from hubspot_metrics.metrics.queries import CustomerCounts, DealCounts, SurveyCounts, TicketCounts
from hubspot_metrics.periods import Period
from hubspot_metrics.values import parse_number

MS_PER_DAY = 86_400_000
MS_PER_HOUR = 3_600_000
NOT_APPLICABLE = "not_applicable"
NO_GROUP_LABELS = {"owner": "(no owner)", "pipeline": "(no pipeline)", "source": "(no source)"}


def entry(key: str, value: float | None = None, n: int = 0, reason: str | None = None) -> dict:
    return {"value": None if value is None else float(value), "n": int(n),
            "reason": None if value is not None else reason, "unit": KPI_UNITS[key]}


def _percent(key: str, part: int, whole: int, reason: str) -> dict:
    return entry(key, 100 * part / whole if whole else None, whole, reason)


def _median(values: list[int]) -> float:
    return statistics.median(values)  # spec 7.10: an even count takes the mean of the middle two


# --- survey answers (spec 7.8) ------------------------------------------------------------

def parse_answer(raw) -> float | None:
    """`"9"`, `" 9"` and `"9.0"` are 9; anything that is not a number is None."""
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return float(raw) if math.isfinite(raw) else None
    if not isinstance(raw, str):
        return None
    return parse_number(raw)


@dataclass
class SurveyTally:
    nps: Counter = field(default_factory=Counter)  # integer answer 0-10 -> submissions
    csat_valid: int = 0
    csat_satisfied: int = 0
    issues: dict = field(default_factory=dict)     # e.g. nps_out_of_scale -> submissions


def tally_surveys(counts: SurveyCounts, csat: CsatSettings) -> SurveyTally:
    tally = SurveyTally()
    issues: Counter = Counter()
    for (survey, raw), n in counts.answers.items():
        prefix = survey.lower()
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            issues[f"{prefix}_without_value"] += n
            continue
        value = parse_answer(raw)
        if value is None:
            issues[f"{prefix}_unparsable"] += n
        elif survey == "NPS":
            if value.is_integer() and 0 <= value <= 10:
                tally.nps[int(value)] += n
            else:
                issues["nps_out_of_scale"] += n
        elif csat.scale_min <= value <= csat.scale_max:
            tally.csat_valid += n
            if value >= csat.satisfied_min:
                tally.csat_satisfied += n
        else:
            issues["csat_out_of_scale"] += n
    tally.issues = dict(sorted(issues.items()))
    return tally


# --- the formulas --------------------------------------------------------------------------

def kpi_values(c: CustomerCounts, d: DealCounts, t: TicketCounts, s: SurveyTally, period: Period,
               settings: MetricsSettings) -> dict[str, dict]:
    k: dict[str, dict] = {}

    # Customers (spec 1 and 2.2, 2.4, 2.5)
    k["new_customers"] = entry("new_customers", c.new_customers, c.new_customers)
    k["leads"] = entry("leads", c.leads, c.leads)
    k["customers_at_start"] = entry("customers_at_start", c.at_start, c.at_start)
    k["customers_retained"] = entry("customers_retained", c.retained, c.at_start)
    k["paying_customers"] = entry("paying_customers", c.paying, c.paying)
    k["conversion_rate"] = _percent("conversion_rate", c.converted, c.leads, "no_leads")
    k["customer_retention_rate"] = _percent("customer_retention_rate", c.retained, c.at_start, "no_customers_at_start")
    k["churn_rate"] = _percent("churn_rate", c.at_start - c.retained, c.at_start, "no_customers_at_start")

    # Deals (spec 2.9, 2.10 and 3)
    k["deals_won"] = entry("deals_won", d.won, d.won)
    k["deals_lost"] = entry("deals_lost", d.lost, d.lost)
    k["win_rate"] = _percent("win_rate", d.won, d.won + d.lost, "no_closed_deals")
    k["revenue"] = entry("revenue", d.revenue, d.won_with_amount)
    k["avg_deal_size"] = entry("avg_deal_size", d.revenue / d.won_with_amount if d.won_with_amount else None,
                               d.won_with_amount, "no_won_deals")
    cycles = d.cycles_ms
    avg_cycle = sum(cycles) / (len(cycles) * MS_PER_DAY) if cycles else None
    k["avg_sales_cycle_days"] = entry("avg_sales_cycle_days", avg_cycle, len(cycles), "no_won_deals")
    k["median_sales_cycle_days"] = entry("median_sales_cycle_days", _median(cycles) / MS_PER_DAY if cycles else None,
                                         len(cycles), "no_won_deals")
    if avg_cycle is None:
        k["deal_throughput"] = entry("deal_throughput", None, d.won, "no_won_deals")
    elif avg_cycle == 0:
        k["deal_throughput"] = entry("deal_throughput", None, d.won, "zero_cycle")
    else:
        k["deal_throughput"] = entry("deal_throughput", d.won / avg_cycle, d.won)
    k["opportunities"] = entry("opportunities", d.opportunities, d.opportunities)
    k["pipeline_velocity"] = _velocity(d.opportunities, k["avg_deal_size"]["value"], k["win_rate"]["value"], avg_cycle)
    k["open_deals"] = entry("open_deals", d.open, d.open)
    k["open_pipeline_value"] = entry("open_pipeline_value", d.open_value, d.open_with_amount)

    # Money per customer (spec 2.1, 2.3 and 3)
    k["revenue_per_customer"] = entry("revenue_per_customer", d.revenue / c.paying if c.paying else None, c.paying,
                                      "no_paying_customers")
    k["spend"], spend = _spend(period, settings)
    if spend is None:
        k["cac"] = entry("cac", None, c.new_customers, "spend_not_configured")
    else:
        k["cac"] = entry("cac", spend / c.new_customers if c.new_customers else None, c.new_customers,
                         "no_new_customers")
    k["customer_lifetime_value"] = _lifetime_value(c, d, k["churn_rate"]["value"], period, settings)
    k["ltv_to_cac"] = _ltv_to_cac(k["customer_lifetime_value"], k["cac"])

    # Tickets (spec 2.8)
    responses = t.responses_ms
    k["tickets_created"] = entry("tickets_created", t.created, t.created)
    k["tickets_unanswered"] = entry("tickets_unanswered", t.unanswered, t.created)
    k["avg_first_response_hours"] = entry(
        "avg_first_response_hours", sum(responses) / (len(responses) * MS_PER_HOUR) if responses else None,
        len(responses), "no_replied_tickets")
    k["median_first_response_hours"] = entry(
        "median_first_response_hours", _median(responses) / MS_PER_HOUR if responses else None, len(responses),
        "no_replied_tickets")

    # Surveys (spec 2.6, 2.7)
    valid = sum(s.nps.values())
    promoters = s.nps[9] + s.nps[10]
    detractors = sum(s.nps[v] for v in range(7))
    k["nps"] = entry("nps", 100 * (promoters - detractors) / valid if valid else None, valid, "no_responses")
    k["nps_responses"] = entry("nps_responses", valid, valid)
    k["csat"] = _percent("csat", s.csat_satisfied, s.csat_valid, "no_responses")
    k["csat_responses"] = entry("csat_responses", s.csat_valid, s.csat_valid)
    return {key: k[key] for key in KPI_KEYS}


def _velocity(opportunities: int, avg_deal_size: float | None, win_rate: float | None,
              avg_cycle: float | None) -> dict:
    # spec 7.2: no_closed_deals, then no_won_deals, then zero_cycle
    if win_rate is None:
        return entry("pipeline_velocity", None, opportunities, "no_closed_deals")
    if avg_deal_size is None or avg_cycle is None:
        return entry("pipeline_velocity", None, opportunities, "no_won_deals")
    if avg_cycle == 0:
        return entry("pipeline_velocity", None, opportunities, "zero_cycle")
    return entry("pipeline_velocity", opportunities * avg_deal_size * (win_rate / 100) / avg_cycle, opportunities)


def _spend(period: Period, settings: MetricsSettings) -> tuple[dict, float | None]:
    """spend(P): the [spend] months of P; null unless P is whole months that all have an entry."""
    months = period.calendar_months
    if not months or any(m not in settings.spend for m in months):
        return entry("spend", None, 0, "spend_not_configured"), None
    total = sum(settings.spend[m] for m in months)
    return entry("spend", total, len(months)), total


def _lifetime_value(c: CustomerCounts, d: DealCounts, churn_rate: float | None, period: Period,
                    settings: MetricsSettings) -> dict:
    # spec 7.2: no_paying_customers, then no_customers_at_start, then no_churn
    months = period.months
    if not c.paying or months <= 0:
        return entry("customer_lifetime_value", None, c.paying, "no_paying_customers")
    if churn_rate is None:
        return entry("customer_lifetime_value", None, c.paying, "no_customers_at_start")
    monthly_churn = 1 - (1 - churn_rate / 100) ** (1 / months)
    if monthly_churn == 0:
        return entry("customer_lifetime_value", None, c.paying, "no_churn")
    arpa = d.revenue / c.paying / months
    return entry("customer_lifetime_value", arpa * settings.gross_margin / monthly_churn, c.paying)


def _ltv_to_cac(clv: dict, cac: dict) -> dict:
    if clv["value"] is None:
        return entry("ltv_to_cac", None, clv["n"], clv["reason"])
    if cac["value"] is None:
        return entry("ltv_to_cac", None, clv["n"], cac["reason"])
    if cac["value"] == 0:
        return entry("ltv_to_cac", None, clv["n"], "zero_cac")
    return entry("ltv_to_cac", clv["value"] / cac["value"], clv["n"])


def not_applicable(key: str) -> dict:
    return {"value": None, "n": 0, "reason": NOT_APPLICABLE, "unit": KPI_UNITS[key]}
