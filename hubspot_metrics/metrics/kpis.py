"""The KPI formulas of docs/metrics.md, applied to the counts of `queries`.

Everything here is arithmetic on counts: no SQL, no I/O. A value is a number or None; a None
carries a reason (in the documented order where several apply), and every KPI its `n` and
unit. Durations arrive as integer milliseconds, so means and medians are exact; amounts
arrive one by one and are added exactly (math.fsum). Values leave here as the output prints
them (docs/metrics.md, "Output"): counts as integers, everything else rounded to 6 decimals.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import dataclass, field

from hubspot_metrics.config import CsatSettings, MetricsSettings
from hubspot_metrics.metrics.catalog import CHURN_DEPENDENT, KPI_KEYS, KPI_UNITS
from hubspot_metrics.metrics.counts import CustomerCounts, DealCounts, SurveyCounts, TicketCounts
from hubspot_metrics.periods import Period
from hubspot_metrics.values import parse_number

MS_PER_DAY = 86_400_000
MS_PER_HOUR = 3_600_000
NOT_APPLICABLE = "not_applicable"
NO_GROUP_LABELS = {"owner": "(no owner)", "pipeline": "(no pipeline)", "source": "(no source)"}


DECIMALS = 6


def output_number(value: float | None, unit: str) -> int | float | None:
    """A count is an integer; any other value is rounded to 6 decimal places."""
    if value is None:
        return None
    return int(round(value)) if unit == "count" else round(float(value), DECIMALS) + 0.0  # + 0.0: no -0.0


def entry(key: str, value: float | None = None, n: int = 0, reason: str | None = None) -> dict:
    unit = KPI_UNITS[key]
    return {"value": output_number(value, unit), "n": int(n), "reason": None if value is not None else reason,
            "unit": unit}


def _percent(key: str, part: int, whole: int, reason: str) -> dict:
    return entry(key, 100 * part / whole if whole else None, whole, reason)


def _median(values: list[int]) -> float:
    return statistics.median(values)  # an even count takes the mean of the middle two


# --- survey answers (docs/metrics.md, "nps") ------------------------------------------------------------

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


def answer_outcome(survey: str, raw, csat: CsatSettings) -> tuple[float | None, str | None]:
    """(the valid answer, None) or (None, why it does not count: "without_value", "unparsable",
    "out_of_scale"). The one reading of an answer, for the KPIs and for explain."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, "without_value"
    value = parse_answer(raw)
    if value is None:
        return None, "unparsable"
    if survey == "NPS":
        valid = value.is_integer() and 0 <= value <= 10
    else:
        valid = csat.scale_min <= value <= csat.scale_max
    return (value, None) if valid else (None, "out_of_scale")


def tally_surveys(counts: SurveyCounts, csat: CsatSettings) -> SurveyTally:
    tally = SurveyTally()
    issues: Counter = Counter()
    for (survey, raw), n in counts.answers.items():
        value, issue = answer_outcome(survey, raw, csat)
        if issue:
            issues[f"{survey.lower()}_{issue}"] += n
        elif survey == "NPS":
            tally.nps[int(value)] += n
        else:
            tally.csat_valid += n
            if value >= csat.satisfied_min:
                tally.csat_satisfied += n
    tally.issues = dict(sorted(issues.items()))
    return tally


# --- the formulas --------------------------------------------------------------------------

CHURN_PROPERTY_NOT_SYNCED = "churn_property_not_synced"


def kpi_values(c: CustomerCounts, d: DealCounts, t: TicketCounts, s: SurveyTally, period: Period,
               settings: MetricsSettings, churn_synced: bool = True) -> dict[str, dict]:
    """Every key for one period (or one breakdown group). `churn_synced` False: property churn
    mode, but the store has no column for the property, so nothing that needs active(c, t) has
    a value (docs/metrics.md, "Churn")."""
    k: dict[str, dict] = {}
    days, months = period.elapsed_days, period.months

    # Customers (docs/metrics.md, "Customers")
    k["new_customers"] = entry("new_customers", c.new_customers, c.new_customers)
    k["leads"] = entry("leads", c.leads, c.leads)
    k["customers_at_start"] = entry("customers_at_start", c.at_start, c.at_start)
    k["customers_retained"] = entry("customers_retained", c.retained, c.at_start)
    # c.active only holds the cuts where someone was active: a month start inside P with nobody
    # active has no entry, so P.end is the period's last cut, not the dict's last entry.
    last_cut = len(period.boundaries()) - 1
    active_end = c.active.get(last_cut, 0)
    k["active_customers"] = entry("active_customers", active_end, active_end)
    k["paying_customers"] = entry("paying_customers", c.paying, c.paying)
    k["conversion_rate"] = _percent("conversion_rate", c.converted, c.leads, "no_leads")
    k["customer_retention_rate"] = _percent("customer_retention_rate", c.retained, c.at_start, "no_customers_at_start")
    k["churn_rate"] = _percent("churn_rate", c.at_start - c.retained, c.at_start, "no_customers_at_start")
    waits = c.lead_to_customer_ms
    k["lead_to_customer_days"] = entry("lead_to_customer_days", sum(waits) / (len(waits) * MS_PER_DAY) if waits else None,
                                       len(waits), "no_new_customers")

    # Deals (docs/metrics.md, "Deals")
    won_with_amount = len(d.won_amounts)
    revenue = math.fsum(d.won_amounts)
    k["deals_won"] = entry("deals_won", d.won, d.won)
    k["deals_lost"] = entry("deals_lost", d.lost, d.lost)
    k["win_rate"] = _percent("win_rate", d.won, d.won + d.lost, "no_closed_deals")
    k["revenue"] = entry("revenue", revenue, won_with_amount)
    k["revenue_per_day"] = entry("revenue_per_day", revenue / days, won_with_amount)
    avg_deal_size = revenue / won_with_amount if won_with_amount else None
    k["avg_deal_size"] = entry("avg_deal_size", avg_deal_size, won_with_amount, "no_won_deals")
    cycles = d.cycles_ms
    avg_cycle = sum(cycles) / (len(cycles) * MS_PER_DAY) if cycles else None
    k["avg_sales_cycle_days"] = entry("avg_sales_cycle_days", avg_cycle, len(cycles), "no_won_deals")
    k["median_sales_cycle_days"] = entry("median_sales_cycle_days", _median(cycles) / MS_PER_DAY if cycles else None,
                                         len(cycles), "no_won_deals")
    k["deal_throughput"] = entry("deal_throughput", d.won / days, d.won)
    if avg_cycle is None:
        k["pipeline_speed"] = entry("pipeline_speed", None, d.won, "no_won_deals")
    elif avg_cycle == 0:
        k["pipeline_speed"] = entry("pipeline_speed", None, d.won, "zero_cycle")
    else:
        k["pipeline_speed"] = entry("pipeline_speed", d.won / avg_cycle, d.won)
    k["new_deals"] = entry("new_deals", d.new_deals, d.new_deals)
    k["open_deals_at_start"] = entry("open_deals_at_start", d.open_at_start, d.open_at_start)
    win_rate = 100 * d.won / (d.won + d.lost) if d.won + d.lost else None
    k["pipeline_velocity"] = _velocity(d.open_at_start, avg_deal_size, win_rate, avg_cycle)
    k["open_deals"] = entry("open_deals", d.open, d.open)
    k["open_pipeline_value"] = entry("open_pipeline_value", math.fsum(d.open_amounts), len(d.open_amounts))

    # Money per customer (docs/metrics.md, "Money per customer")
    k["revenue_per_customer"] = entry("revenue_per_customer", revenue / c.paying if c.paying else None, c.paying,
                                      "no_paying_customers")
    k["spend"], spend = _spend(period, settings)
    if spend is None:
        k["cac"] = entry("cac", None, c.new_customers, "spend_not_configured")
    else:
        k["cac"] = entry("cac", spend / c.new_customers if c.new_customers else None, c.new_customers,
                         "no_new_customers")
    avg_customers = (c.active.get(0, 0) + active_end) / 2
    arpa = math.fsum(d.customer_amounts) / avg_customers / months if avg_customers else None
    k["arpa"] = entry("arpa", arpa, active_end, "no_active_customers")
    monthly_churn = _monthly_churn(c, months, last_cut)
    k["monthly_churn_rate"] = entry("monthly_churn_rate", None if monthly_churn is None else 100 * monthly_churn,
                                    c.at_start, "no_customers_at_start")
    k["customer_lifetime_value"] = _lifetime_value(c, arpa, monthly_churn, settings)
    # from the unrounded values: the ratio of two rounded numbers would differ in its 6th decimal
    clv_value = arpa * settings.gross_margin / monthly_churn if arpa is not None and monthly_churn else None
    cac_value = spend / c.new_customers if spend is not None and c.new_customers else None
    k["ltv_to_cac"] = _ltv_to_cac(k["customer_lifetime_value"], k["cac"], clv_value, cac_value)

    # Tickets (docs/metrics.md, "Tickets")
    responses = t.responses_ms
    k["tickets_created"] = entry("tickets_created", t.created, t.created)
    k["tickets_unanswered"] = entry("tickets_unanswered", t.unanswered, t.created)
    k["avg_first_response_hours"] = entry(
        "avg_first_response_hours", sum(responses) / (len(responses) * MS_PER_HOUR) if responses else None,
        len(responses), "no_replied_tickets")
    k["median_first_response_hours"] = entry(
        "median_first_response_hours", _median(responses) / MS_PER_HOUR if responses else None, len(responses),
        "no_replied_tickets")

    # Surveys (docs/metrics.md, "Surveys")
    valid = sum(s.nps.values())
    promoters = s.nps[9] + s.nps[10]
    detractors = sum(s.nps[v] for v in range(7))
    k["nps"] = entry("nps", 100 * (promoters - detractors) / valid if valid else None, valid, "no_responses")
    k["nps_responses"] = entry("nps_responses", valid, valid)
    k["csat"] = _percent("csat", s.csat_satisfied, s.csat_valid, "no_responses")
    k["csat_responses"] = entry("csat_responses", s.csat_valid, s.csat_valid)
    if not churn_synced:
        for key in CHURN_DEPENDENT:
            k[key] = entry(key, None, 0, CHURN_PROPERTY_NOT_SYNCED)
    return {key: k[key] for key in KPI_KEYS}


def _velocity(open_at_start: int, avg_deal_size: float | None, win_rate: float | None,
              avg_cycle: float | None) -> dict:
    # no_closed_deals, then no_won_deals, then zero_cycle; no open deal at the start is 0.0
    if win_rate is None:
        return entry("pipeline_velocity", None, open_at_start, "no_closed_deals")
    if avg_deal_size is None or avg_cycle is None:
        return entry("pipeline_velocity", None, open_at_start, "no_won_deals")
    if avg_cycle == 0:
        return entry("pipeline_velocity", None, open_at_start, "zero_cycle")
    return entry("pipeline_velocity", open_at_start * avg_deal_size * (win_rate / 100) / avg_cycle, open_at_start)


def _spend(period: Period, settings: MetricsSettings) -> tuple[dict, float | None]:
    """spend(P): the [spend] months of P, the one holding as_of prorated for an open period;
    null unless P is whole months that all have an entry."""
    shares = period.spend_shares()
    if not shares or any(m not in settings.spend for m, _ in shares):
        return entry("spend", None, 0, "spend_not_configured"), None
    total = math.fsum(settings.spend[m] * share for m, share in shares)
    return entry("spend", total, len(shares)), total


def _monthly_churn(c: CustomerCounts, months: float, pieces: int) -> float | None:
    """1 − ρ^(1/months), ρ the product of the retentions of P's `pieces` monthly pieces (a piece
    whose start cohort is empty keeps 1); None without customers at the start of P."""
    if not c.at_start or months <= 0:
        return None
    chained = 1.0
    for i in range(pieces):
        if c.active.get(i):
            chained *= c.kept.get(i, 0) / c.active[i]
    return 1 - chained ** (1 / months)


def _lifetime_value(c: CustomerCounts, arpa: float | None, monthly_churn: float | None,
                    settings: MetricsSettings) -> dict:
    # no_customers_at_start, then no_churn
    if monthly_churn is None or arpa is None:
        return entry("customer_lifetime_value", None, c.at_start, "no_customers_at_start")
    if monthly_churn == 0:
        return entry("customer_lifetime_value", None, c.at_start, "no_churn")
    return entry("customer_lifetime_value", arpa * settings.gross_margin / monthly_churn, c.at_start)


def _ltv_to_cac(clv: dict, cac: dict, clv_value: float | None, cac_value: float | None) -> dict:
    # CLV's reason, then CAC's, then zero_cac
    if clv["value"] is None:
        return entry("ltv_to_cac", None, clv["n"], clv["reason"])
    if cac["value"] is None:
        return entry("ltv_to_cac", None, clv["n"], cac["reason"])
    if cac_value == 0:
        return entry("ltv_to_cac", None, clv["n"], "zero_cac")
    return entry("ltv_to_cac", clv_value / cac_value, clv["n"])


def not_applicable(key: str) -> dict:
    return {"value": None, "n": 0, "reason": NOT_APPLICABLE, "unit": KPI_UNITS[key]}
