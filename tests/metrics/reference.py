"""A second, deliberately plain implementation of the KPI spec, for generated-data tests.

It reads the test's own records (HubSpot string values, before any store) with loops and
datetimes, sharing nothing with the SQL of `hubspot_metrics.metrics`. Each function follows
one sentence of docs/metrics.md (KPI spec v2).
"""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


@dataclass
class Portal:
    """Records as HubSpot sends them: dicts of id, archived, merged_into and string properties."""
    contacts: list = field(default_factory=list)
    companies: list = field(default_factory=list)
    deals: list = field(default_factory=list)
    tickets: list = field(default_factory=list)
    feedback: list = field(default_factory=list)
    deal_contacts: list = field(default_factory=list)   # (deal id, contact id)
    deal_companies: list = field(default_factory=list)  # (deal id, company id)
    stages: dict = field(default_factory=dict)          # (pipeline, stage) -> (is closed, probability)
    currency: str = "EUR"
    won_property: bool = True                           # does the store have hs_is_closed_won at all?


@dataclass
class Setup:
    start: datetime
    end: datetime
    months: float
    calendar_months: list | None
    customer_object: str = "contacts"
    churn_mode: str = "inactivity"
    inactivity_days: float = 365
    churn_property: str = "churn_date"
    gross_margin: float = 1.0
    deal_pipelines: tuple = ()
    ticket_pipelines: tuple = ()
    csat: tuple = (1, 5, 4)  # scale_min, scale_max, satisfied_min
    spend: dict = field(default_factory=dict)
    timezone: str = "UTC"   # where months start, for the chained monthly churn
    as_of: datetime | None = None  # an open period is measured up to here


def month_starts(s: Setup, until: datetime) -> list:
    """The local month starts strictly inside [s.start, until)."""
    zone = ZoneInfo(s.timezone)
    local = s.start.astimezone(zone)
    year, month = local.year, local.month
    out = []
    while True:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        first = datetime(year, month, 1, tzinfo=zone).astimezone(timezone.utc)
        if first >= until:
            return out
        out.append(first)


def instant(raw) -> datetime | None:
    if raw is None or not str(raw).strip():
        return None
    text = str(raw).strip()
    try:
        if re.fullmatch(r"\d{10,}", text):
            return datetime.fromtimestamp(int(text) / 1000, tz=timezone.utc)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def number(raw) -> float | None:
    if raw is None or not NUMBER.match(str(raw).strip()):
        return None
    return float(str(raw).strip())


def boolean(raw) -> bool | None:
    return {"true": True, "false": False}.get(str(raw).strip().lower()) if raw is not None else None


def first_instant(record: dict, *names: str) -> datetime | None:
    for name in names:
        moment = instant(record.get(name))
        if moment is not None:
            return moment
    return None


def live(records: list) -> list:
    """Excluded: archived, merged away, or named in another record's hs_merged_object_ids."""
    named = set()
    for r in records:
        for part in (r.get("hs_merged_object_ids") or "").split(";"):
            if part.strip() and part.strip() != r["id"]:
                named.add(part.strip())
    return [r for r in records if not r.get("archived") and not r.get("merged_into") and r["id"] not in named]


def reference_kpis(portal: Portal, s: Setup) -> dict[str, tuple]:
    """key -> (value, n, reason)."""
    out: dict[str, tuple] = {}
    end = s.as_of or s.end  # every use of P.end means as_of for an open period
    P = lambda t: t is not None and s.start <= t < end
    days = (end - s.start).total_seconds() / 86400
    months = days / 30.436875 if s.as_of else s.months

    customers = live(portal.companies if s.customer_object == "companies" else portal.contacts)
    customer_ids = {c["id"] for c in customers}
    links = portal.deal_companies if s.customer_object == "companies" else portal.deal_contacts
    cd = {c["id"]: first_instant(c, "hs_lifecyclestage_customer_date", "hs_v2_date_entered_customer") for c in customers}
    ld = {c["id"]: first_instant(c, "hs_lifecyclestage_lead_date", "hs_v2_date_entered_lead") for c in customers}

    # Deals: live, in the configured pipelines.
    deals = [d for d in live(portal.deals) if not s.deal_pipelines or d.get("pipeline") in s.deal_pipelines]

    def stage(d):
        return portal.stages.get((d.get("pipeline"), d.get("dealstage")), (False, None))

    def won(d) -> bool:
        flag = boolean(d.get("hs_is_closed_won")) if portal.won_property else None
        if flag is not None:
            return flag
        closed, probability = stage(d)
        return closed and probability == 1.0

    def closed(d) -> bool:
        return boolean(d.get("hs_is_closed")) is True or stage(d)[0] or won(d)

    def amount(d) -> float | None:
        home = number(d.get("amount_in_home_currency"))
        if home is not None:
            return home
        code = (d.get("deal_currency_code") or "").strip().upper()
        return number(d.get("amount")) if code in ("", portal.currency) else None

    close = {d["id"]: instant(d.get("closedate")) for d in deals}
    create = {d["id"]: instant(d.get("createdate")) for d in deals}
    won_deals = [d for d in deals if won(d)]

    # Customers
    new = [c for c in customers if P(cd[c["id"]])]
    leads = [c for c in customers if P(ld[c["id"]])]
    converted = [c for c in leads if cd[c["id"]] is not None and cd[c["id"]] < end]
    purchases = {c["id"]: [] for c in customers}
    for deal_id, customer_id in links:
        d = next((d for d in won_deals if d["id"] == deal_id), None)
        if d is not None and customer_id in purchases and close[deal_id] is not None:
            purchases[customer_id].append(close[deal_id])

    def active(c, t) -> bool:
        first = cd[c["id"]]
        if first is None or not first < t:
            return False
        if s.churn_mode == "inactivity":
            latest = max([first] + [p for p in purchases[c["id"]] if p < t])
            return t - latest <= timedelta(days=s.inactivity_days)
        churn = instant(c.get(s.churn_property))
        return churn is None or churn >= t

    S = [c for c in customers if active(c, s.start)]
    R = [c for c in S if active(c, end)]
    A_end = [c for c in customers if active(c, end)]
    paying = {customer_id for deal_id, customer_id in links
              if customer_id in customer_ids and any(d["id"] == deal_id and P(close[deal_id]) for d in won_deals)}

    out["new_customers"] = (len(new), len(new), None)
    out["leads"] = (len(leads), len(leads), None)
    out["customers_at_start"] = (len(S), len(S), None)
    out["customers_retained"] = (len(R), len(S), None)
    out["active_customers"] = (len(A_end), len(A_end), None)
    waits = []
    for c in new:
        created = instant(c.get("createdate"))
        if created is not None and cd[c["id"]] >= created:
            waits.append((cd[c["id"]] - created).total_seconds() / 86400)
    out["lead_to_customer_days"] = ((statistics.fmean(waits), len(waits), None) if waits
                                    else (None, 0, "no_new_customers"))
    out["paying_customers"] = (len(paying), len(paying), None)
    out["conversion_rate"] = (100 * len(converted) / len(leads), len(leads), None) if leads else (None, 0, "no_leads")
    if S:
        out["customer_retention_rate"] = (100 * len(R) / len(S), len(S), None)
        out["churn_rate"] = (100 * (len(S) - len(R)) / len(S), len(S), None)
    else:
        out["customer_retention_rate"] = out["churn_rate"] = (None, 0, "no_customers_at_start")

    # Deals of P
    won_p = [d for d in won_deals if P(close[d["id"]])]
    lost_p = [d for d in deals if closed(d) and not won(d) and P(close[d["id"]])]
    priced = [d for d in won_p if amount(d) is not None]
    revenue = math.fsum(amount(d) for d in priced)
    cycles = [(close[d["id"]] - create[d["id"]]).total_seconds() / 86400 for d in won_p
              if create[d["id"]] is not None and close[d["id"]] >= create[d["id"]]]
    out["deals_won"] = (len(won_p), len(won_p), None)
    out["deals_lost"] = (len(lost_p), len(lost_p), None)
    decided = len(won_p) + len(lost_p)
    out["win_rate"] = (100 * len(won_p) / decided, decided, None) if decided else (None, 0, "no_closed_deals")
    out["revenue"] = (revenue, len(priced), None)
    out["avg_deal_size"] = (revenue / len(priced), len(priced), None) if priced else (None, 0, "no_won_deals")
    avg_cycle = statistics.fmean(cycles) if cycles else None
    out["avg_sales_cycle_days"] = (avg_cycle, len(cycles), None) if cycles else (None, 0, "no_won_deals")
    out["median_sales_cycle_days"] = (statistics.median(cycles), len(cycles), None) if cycles else (None, 0, "no_won_deals")
    out["deal_throughput"] = (len(won_p) / days, len(won_p), None)
    out["revenue_per_day"] = (revenue / days, len(priced), None)
    if avg_cycle is None:
        out["pipeline_speed"] = (None, len(won_p), "no_won_deals")
    elif avg_cycle == 0:
        out["pipeline_speed"] = (None, len(won_p), "zero_cycle")
    else:
        out["pipeline_speed"] = (len(won_p) / avg_cycle, len(won_p), None)
    new_deals = [d for d in deals if P(create[d["id"]])]
    out["new_deals"] = (len(new_deals), len(new_deals), None)
    open_at_start = [d for d in deals if create[d["id"]] is not None and create[d["id"]] < s.start
                     and (not closed(d) or (close[d["id"]] is not None and close[d["id"]] >= s.start))]
    out["open_deals_at_start"] = (len(open_at_start), len(open_at_start), None)
    n_opp = len(open_at_start)
    if not decided:
        out["pipeline_velocity"] = (None, n_opp, "no_closed_deals")
    elif not priced or avg_cycle is None:
        out["pipeline_velocity"] = (None, n_opp, "no_won_deals")
    elif avg_cycle == 0:
        out["pipeline_velocity"] = (None, n_opp, "zero_cycle")
    else:
        out["pipeline_velocity"] = (n_opp * (revenue / len(priced)) * (len(won_p) / decided) / avg_cycle, n_opp, None)
    open_deals = [d for d in deals if create[d["id"]] is not None and create[d["id"]] < end
                  and (not closed(d) or (close[d["id"]] is not None and close[d["id"]] >= end))]
    open_priced = [d for d in open_deals if amount(d) is not None]
    out["open_deals"] = (len(open_deals), len(open_deals), None)
    out["open_pipeline_value"] = (math.fsum(amount(d) for d in open_priced), len(open_priced), None)

    # Money per customer
    out["revenue_per_customer"] = ((revenue / len(paying), len(paying), None) if paying
                                   else (None, 0, "no_paying_customers"))
    needed = list(s.calendar_months or [])
    if s.as_of:  # months that start after as_of are not needed
        needed = [m for m in needed if datetime(int(m[:4]), int(m[5:]), 1, tzinfo=ZoneInfo(s.timezone)) < end]
    if s.calendar_months and all(m in s.spend for m in needed):
        spend = 0.0
        for m in needed:
            first = datetime(int(m[:4]), int(m[5:]), 1, tzinfo=ZoneInfo(s.timezone))
            after = datetime(int(m[:4]) + (m[5:] == "12"), int(m[5:]) % 12 + 1, 1, tzinfo=ZoneInfo(s.timezone))
            share = 1.0 if after <= end else (end - first) / (after - first)
            spend += s.spend[m] * share
        out["spend"] = (spend, len(needed), None)
        out["cac"] = (spend / len(new), len(new), None) if new else (None, len(new), "no_new_customers")
    else:
        out["spend"] = (None, 0, "spend_not_configured")
        out["cac"] = (None, len(new), "spend_not_configured")
    # ARPA: revenue of won deals of P with a customer, per average active customer, per month
    linked = {deal_id for deal_id, customer_id in links if customer_id in customer_ids}
    customer_revenue = math.fsum(amount(d) for d in priced if d["id"] in linked)
    average = (len(S) + len(A_end)) / 2
    arpa = customer_revenue / average / months if average else None
    out["arpa"] = (arpa, len(A_end), None) if arpa is not None else (None, len(A_end), "no_active_customers")
    cuts = [s.start] + month_starts(s, end) + [end]
    chained = 1.0
    for a, b in zip(cuts, cuts[1:]):
        cohort = [c for c in customers if active(c, a)]
        if cohort:
            chained *= sum(active(c, b) for c in cohort) / len(cohort)
    if not S:
        out["monthly_churn_rate"] = (None, 0, "no_customers_at_start")
        out["customer_lifetime_value"] = (None, 0, "no_customers_at_start")
    else:
        monthly = 1 - chained ** (1 / months)
        out["monthly_churn_rate"] = (100 * monthly, len(S), None)
        if monthly == 0:
            out["customer_lifetime_value"] = (None, len(S), "no_churn")
        else:
            out["customer_lifetime_value"] = (arpa * s.gross_margin / monthly, len(S), None)
    clv, cac = out["customer_lifetime_value"], out["cac"]
    if clv[0] is None:
        out["ltv_to_cac"] = (None, clv[1], clv[2])
    elif cac[0] is None:
        out["ltv_to_cac"] = (None, clv[1], cac[2])
    elif cac[0] == 0:
        out["ltv_to_cac"] = (None, clv[1], "zero_cac")
    else:
        out["ltv_to_cac"] = (clv[0] / cac[0], clv[1], None)

    # Tickets
    tickets = [t for t in live(portal.tickets) if not s.ticket_pipelines or t.get("hs_pipeline") in s.ticket_pipelines]
    created = [t for t in tickets if P(instant(t.get("createdate")))]
    hours, unanswered = [], 0
    for t in created:
        replies = [r for r in (instant(t.get("first_agent_reply_date")), instant(t.get("hs_first_agent_message_sent_at")))
                   if r is not None]
        if not replies:
            unanswered += 1
        elif min(replies) >= instant(t.get("createdate")):
            hours.append((min(replies) - instant(t.get("createdate"))).total_seconds() / 3600)
    out["tickets_created"] = (len(created), len(created), None)
    out["tickets_unanswered"] = (unanswered, len(created), None)
    out["avg_first_response_hours"] = (statistics.fmean(hours), len(hours), None) if hours else (None, 0, "no_replied_tickets")
    out["median_first_response_hours"] = ((statistics.median(hours), len(hours), None) if hours
                                          else (None, 0, "no_replied_tickets"))

    # Surveys
    answers = {"NPS": [], "CSAT": []}
    for f in live(portal.feedback):
        if f.get("hs_survey_type") in answers and P(instant(f.get("hs_submission_timestamp"))):
            v = number(f.get("hs_value"))
            if v is not None:
                answers[f["hs_survey_type"]].append(v)
    nps = [v for v in answers["NPS"] if v == int(v) and 0 <= v <= 10]
    low, high, satisfied = s.csat
    csat = [v for v in answers["CSAT"] if low <= v <= high]
    promoters, detractors = sum(v >= 9 for v in nps), sum(v <= 6 for v in nps)
    out["nps"] = (100 * (promoters - detractors) / len(nps), len(nps), None) if nps else (None, 0, "no_responses")
    out["nps_responses"] = (len(nps), len(nps), None)
    out["csat"] = ((100 * sum(v >= satisfied for v in csat) / len(csat), len(csat), None) if csat
                   else (None, 0, "no_responses"))
    out["csat_responses"] = (len(csat), len(csat), None)
    return out
