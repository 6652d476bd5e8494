"""`explain`'s rows reproduce every KPI: exactly `n` rows, and the value follows from them.

Generated portals (the generator of test_generated.py: edges of the period and of the
inactivity window, archived and merged records, unparsable values, deals in other currencies)
under both customer units, both churn modes and an open period. For every key of the
catalogue, the rows of `Explainer.rows` must number the KPI's `n`, and sums, means, medians,
rates and NPS computed from the rows alone must equal `compute_kpis` to 6 decimals. A drift
between explain's per-record conditions and the aggregate queries fails here.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone

import pytest

from hubspot_metrics.config import ChurnSettings, CsatSettings, MetricsSettings
from hubspot_metrics.metrics import KPI_KEYS, compute_kpis
from hubspot_metrics.metrics.explain import POPULATIONS, Explainer
from hubspot_metrics.periods import Period, measured_up_to, parse_period

from .reference import Setup
from .test_generated import _bounds, generate, write

# (seed, period, time zone, customer unit, churn mode, now: None = the store's, closed period)
CASES = [
    (2, "2024-Q1", "UTC", "contacts", "inactivity", None),
    (3, "2024", "Europe/Berlin", "contacts", "property", None),
    (4, "2024-10", "Europe/Berlin", "companies", "inactivity", None),
    (8, "2024-11", "UTC", "companies", "property", None),
    (9, "2024-03", "UTC", "contacts", "inactivity", datetime(2024, 3, 17, 12, 30, tzinfo=timezone.utc)),
    (5, "2024-Q2", "America/New_York", "companies", "property", datetime(2024, 5, 9, 8, tzinfo=timezone.utc)),
]
SPEND = {f"2024-{m:02d}": 1000.0 + 100 * m for m in range(1, 13)}
COUNTS = ("new_customers", "leads", "customers_at_start", "active_customers", "paying_customers", "deals_won",
          "deals_lost", "new_deals", "open_deals_at_start", "open_deals", "nps_responses", "csat_responses",
          "tickets_created")


@pytest.fixture(scope="module", params=CASES, ids=[f"{c[0]}-{c[1]}-{c[3]}-{c[4]}{'-open' if c[5] else ''}"
                                                   for c in CASES])
def explained(request, tmp_path_factory):
    """One generated store, its KPIs and every key's rows (see Explained)."""
    seed, label, tz, unit, mode, now = request.param
    start, end, months, calendar = _bounds(label, tz)
    setup = Setup(start=start.astimezone(timezone.utc), end=end.astimezone(timezone.utc), months=months,
                  calendar_months=calendar, timezone=tz, customer_object=unit, churn_mode=mode)
    store = write(generate(seed, setup), tmp_path_factory.mktemp("explain") / "store.db")
    settings = MetricsSettings(timezone=tz, customer_object=unit, churn=ChurnSettings(mode=mode),
                               csat=CsatSettings(), spend=SPEND)
    period = parse_period(label, tz)
    result = compute_kpis(store.db, period, settings, now=now)
    measured = measured_up_to(period, now or datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert measured.partial == (now is not None) == result["partial"]
    explainer = Explainer(store.db, measured, settings)
    rows = {key: explainer.rows(key) for key in KPI_KEYS}
    everything = {key: explainer.rows(key, include_all=True) for key in KPI_KEYS}
    yield Explained(result, rows, everything, measured, store.db, settings,
                    now or datetime(2026, 1, 1, tzinfo=timezone.utc))
    store.close()


@dataclass
class Explained:
    result: dict           # compute_kpis of the period
    rows: dict             # key -> Explainer.rows(key)
    everything: dict       # key -> Explainer.rows(key, include_all=True)
    period: Period         # measured up to `now`
    db: object
    settings: MetricsSettings
    now: datetime


def close(a: float, b: float | None) -> bool:
    return b is not None and abs(round(a, 6) - b) <= 1e-6


def test_every_key_lists_exactly_n_rows(explained):
    result, rows = explained.result, explained.rows
    for key in KPI_KEYS:
        assert len(rows[key]) == result["kpis"][key]["n"], key
    # the generator must give every family something to list
    assert sum(bool(rows[k]) for k in KPI_KEYS) >= 30


def test_sums_means_medians_and_rates_follow_from_the_rows(explained):
    result, rows, period = explained.result, explained.rows, explained.period
    k = {key: v["value"] for key, v in result["kpis"].items()}
    values = lambda key: [r["value"] for r in rows[key]]
    roles = {key: Counter(r["role"] for r in rows[key]) for key in KPI_KEYS}
    days = period.elapsed_days
    checked = set()

    def check(key: str, expected: float | None) -> None:
        checked.add(key)
        if expected is None:
            assert k[key] is None, key
        else:
            assert close(expected, k[key]), (key, expected, k[key])

    for key in COUNTS:
        check(key, len(rows[key]))
    check("customers_retained", roles["customers_retained"]["retained"])
    revenue = math.fsum(values("revenue"))
    check("revenue", revenue)
    check("revenue_per_day", revenue / days)
    check("avg_deal_size", revenue / len(rows["avg_deal_size"]) if rows["avg_deal_size"] else None)
    check("open_pipeline_value", math.fsum(values("open_pipeline_value")))
    check("spend", math.fsum(values("spend")) if rows["spend"] else None)
    for key in ("avg_sales_cycle_days", "avg_first_response_hours", "lead_to_customer_days"):
        check(key, statistics.fmean(values(key)) if rows[key] else None)
    for key in ("median_sales_cycle_days", "median_first_response_hours"):
        check(key, statistics.median(values(key)) if rows[key] else None)
    rate = lambda key, role: 100 * roles[key][role] / len(rows[key]) if rows[key] else None
    check("conversion_rate", rate("conversion_rate", "converted"))
    check("customer_retention_rate", rate("customer_retention_rate", "retained"))
    check("churn_rate", rate("churn_rate", "churned"))
    check("win_rate", rate("win_rate", "won"))
    check("csat", rate("csat", "satisfied"))
    nps = roles["nps"]
    check("nps", 100 * (nps["promoter"] - nps["detractor"]) / len(rows["nps"]) if rows["nps"] else None)
    check("tickets_unanswered", roles["tickets_unanswered"]["unanswered"])
    check("deal_throughput", len(rows["deal_throughput"]) / days)
    check("cac", math.fsum(values("spend")) / len(rows["cac"]) if rows["spend"] and rows["cac"] else None)
    check("revenue_per_customer", revenue / len(rows["revenue_per_customer"]) if rows["revenue_per_customer"] else None)
    cycle = statistics.fmean(values("avg_sales_cycle_days")) if rows["avg_sales_cycle_days"] else None
    check("pipeline_speed", len(rows["deals_won"]) / cycle if cycle else None)
    won_rate = rate("win_rate", "won")
    size = revenue / len(rows["avg_deal_size"]) if rows["avg_deal_size"] else None
    if won_rate is not None and size is not None and cycle:
        check("pipeline_velocity", len(rows["pipeline_velocity"]) * size * won_rate / 100 / cycle)
    # arpa, monthly churn, lifetime value and LTV:CAC chain the months of P (or mix revenue
    # with customer counts): their rows are their n's population, checked above by count.
    assert checked >= set(KPI_KEYS) - {"arpa", "monthly_churn_rate", "customer_lifetime_value", "ltv_to_cac",
                                       "pipeline_velocity"}


def test_rows_of_keys_with_one_population_are_the_same_records(explained):
    rows = explained.rows
    ids = lambda key: [(r["object"], r["id"], r["role"]) for r in rows[key]]
    for key in KPI_KEYS:
        twins = [k for k in KPI_KEYS if POPULATIONS[k] == POPULATIONS[key]]
        assert all(ids(k) == ids(key) for k in twins), key
    assert ids("ltv_to_cac") == ids("customer_lifetime_value") == ids("customers_at_start")


def test_all_adds_only_left_out_records_each_with_a_reason(explained):
    rows, everything = explained.rows, explained.everything
    reasons = Counter()
    for key in KPI_KEYS:
        counted = [r for r in everything[key] if r["reason"] is None]
        assert [{c: v for c, v in r.items() if c != "reason"} for r in counted] == rows[key], key
        for r in everything[key]:
            if r["reason"] is not None:
                assert (r["role"], r["value"]) == ("excluded", None), (key, r)
                reasons[r["reason"]] += 1
        # no record is both counted and left out
        assert len({(r["object"], r["id"]) for r in everything[key]}) == len(everything[key]), key
    # the generator's gaps show up as the reasons an admin would fix
    assert {"archived", "merged", "no_amount", "negative_duration"} <= set(reasons), reasons


def test_rows_link_to_the_records_in_hubspot(explained):
    rows = explained.rows
    types = {"contacts": "0-1", "companies": "0-2", "deals": "0-3", "tickets": "0-5", "feedback_submissions": "0-19"}
    for key in KPI_KEYS:
        for r in rows[key]:
            if r["object"] == "spend":
                assert r["url"] is None
            else:
                # the builder's account has portalId 1 and no uiDomain
                assert r["url"] == f"https://app.hubspot.com/contacts/1/record/{types[r['object']]}/{r['id']}", r



def test_computing_only_the_families_a_key_needs_gives_the_same_entry(explained):
    """explain computes its key's KPI with `keys=(key,)`: only the queries that key needs."""
    for key in KPI_KEYS:
        alone = compute_kpis(explained.db, explained.period, explained.settings, now=explained.now, keys=(key,))
        assert alone["kpis"] == {key: explained.result["kpis"][key]}, key
        assert (alone["warnings"], alone["data_quality"]) == ([], {})
