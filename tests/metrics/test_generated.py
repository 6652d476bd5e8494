"""Generated portals: the KPIs from the store must equal the plain reference implementation.

Each case draws a random portal whose instants cluster on the edges that matter (period
bounds, the inactivity window's bounds, a millisecond either side), with every kind of gap
the spec names: archived and merged records, ids known only from hs_merged_object_ids, empty
and unparsable values, legacy-only and v2-only lifecycle dates, deals in other currencies,
won deals without hs_is_closed_won, deleted stages, replies before creation, survey answers
out of scale. The reference (reference.py) computes the expected values from the records
themselves; the store is written through the store layer, as the sync writes it.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from hubspot_metrics.config import ChurnSettings, CsatSettings, MetricsSettings
from hubspot_metrics.metrics import KPI_KEYS, compute_kpis, ensure_indexes
from hubspot_metrics.metrics.sql import StoreView
from hubspot_metrics.periods import parse_period, period_from_range

from .builder import StoreBuilder
from .reference import Portal, Setup, reference_kpis

STAGES = {("default", "appointmentscheduled"): (False, 0.2), ("default", "closedwon"): (True, 1.0),
          ("default", "closedlost"): (True, 0.0), ("renewals", "r_open"): (False, 0.5),
          ("renewals", "r_won"): (True, 1.0), ("renewals", "r_lost"): (True, 0.0)}
OWNERS = ["101", "102", "103", None]
SOURCES = ["ORGANIC_SEARCH", "REFERRALS", "PAID_SOCIAL", None]


def iso(moment: datetime) -> str:
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Draw:
    """Random values that like the edges of the period and of the inactivity window."""

    def __init__(self, rng: random.Random, start: datetime, end: datetime, days: float):
        self.rng = rng
        ms = timedelta(milliseconds=1)
        window = timedelta(days=days)
        edges = [start, end, start - window, end - window]
        self.edges = [e + k * ms for e in edges for k in (-1, 0, 1)]
        self.start, self.end = start, end
        self.low, self.high = start - 2 * window, end + timedelta(days=60)

    def moment(self) -> datetime:
        roll = self.rng.random()
        if roll < 0.3:
            return self.rng.choice(self.edges)
        low, high = (self.start, self.end) if roll < 0.65 else (self.low, self.high)
        return low + timedelta(milliseconds=int(self.rng.random() * (high - low).total_seconds() * 1000))

    def text(self, present: float = 0.8, junk: float = 0.04):
        """An instant as HubSpot sends it (ISO, sometimes date-only), junk, or nothing."""
        roll = self.rng.random()
        if roll < junk:
            return self.rng.choice(["not a date", "31/12/2024", "soon"])
        if roll > present:
            return None
        moment = self.moment()
        if self.rng.random() < 0.1:
            return moment.astimezone(timezone.utc).date().isoformat()  # date-only: midnight UTC
        return iso(moment)

    def after(self, base: str | None, *, negative: float = 0.1):
        """A time shortly after `base` (sometimes before it), as HubSpot text."""
        try:
            start = datetime.fromisoformat(base.replace("Z", "+00:00")) if base else None
        except ValueError:
            start = None
        if start is None:
            return self.text()
        if start.tzinfo is None:
            start = start.replace(tzinfo=timezone.utc)
        sign = -1 if self.rng.random() < negative else 1
        return iso(start + sign * timedelta(minutes=self.rng.choice([0, 1, 30, 90, 600, 3000, 60 * 24 * 40])))


def generate(seed: int, setup: Setup, *, won_property: bool = True) -> Portal:
    rng = random.Random(seed)
    draw = Draw(rng, setup.start, setup.end, setup.inactivity_days)
    portal = Portal(stages=dict(STAGES), won_property=won_property)

    def status(i: int, prefix: str, n: int) -> dict:
        record = {"id": f"{prefix}{i}", "archived": rng.random() < 0.05}
        if rng.random() < 0.04:
            record["merged_into"] = f"{prefix}{rng.randrange(n)}"
        return record

    def merges(records: list) -> None:
        # Survivors name merged-away ids; some of those were never marked merged_into.
        for record in rng.sample(records, k=max(1, len(records) // 15)):
            victims = rng.sample(records, k=rng.choice([1, 2]))
            record["hs_merged_object_ids"] = ";".join(v["id"] for v in victims if v is not record) or None

    for table, prefix, n in (("contacts", "c", 120), ("companies", "co", 60)):
        records = []
        for i in range(n):
            r = status(i, prefix, n)
            r.update({
                "hs_lifecyclestage_lead_date": draw.text(0.6), "hs_v2_date_entered_lead": draw.text(0.5),
                "hs_lifecyclestage_customer_date": draw.text(0.45), "hs_v2_date_entered_customer": draw.text(0.45),
                "churn_date": draw.text(0.3), "hubspot_owner_id": rng.choice(OWNERS), "createdate": draw.text(0.8),
                "hs_analytics_source": rng.choice(SOURCES),
            })
            records.append(r)
        merges(records)
        setattr(portal, table, records)

    for i in range(120):
        d = status(i, "d", 120)
        pipeline = rng.choice(["default", "renewals"])
        state = rng.choice(["open", "won", "lost", "won", "lost"])
        stage = {"default": {"open": "appointmentscheduled", "won": "closedwon", "lost": "closedlost"},
                 "renewals": {"open": "r_open", "won": "r_won", "lost": "r_lost"}}[pipeline][state]
        if rng.random() < 0.05:
            stage = "r_gone"  # a deleted stage: nothing in the pipeline settings
        flags = {"open": ("false", "false"), "won": ("true", "true"), "lost": ("true", "false")}[state]
        created = draw.text(0.95, junk=0.03)
        d.update({
            "pipeline": pipeline, "dealstage": stage, "createdate": created,
            "closedate": draw.after(created) if rng.random() < 0.9 else rng.choice([None, "not a date"]),
            "hs_is_closed": rng.choice([flags[0]] * 8 + [None, "maybe"]),
            "amount": rng.choice([str(rng.randrange(100, 20000)), f"{rng.randrange(100, 20000)}.25", None, "12,5k"]),
            "amount_in_home_currency": rng.choice([None, None, str(rng.randrange(100, 20000)), "n/a"]),
            "deal_currency_code": rng.choice(["EUR", "eur", "USD", None]),
            "hubspot_owner_id": rng.choice(OWNERS),
        })
        if won_property:
            d["hs_is_closed_won"] = rng.choice([flags[1]] * 8 + [None, "maybe"])
        portal.deals.append(d)
    merges(portal.deals)
    for d in portal.deals:
        for contact in rng.sample(portal.contacts, k=rng.choice([0, 1, 1, 2])):
            portal.deal_contacts.append((d["id"], contact["id"]))
        if rng.random() < 0.8:
            portal.deal_companies.append((d["id"], rng.choice(portal.companies)["id"]))

    for i in range(80):
        t = status(i, "t", 80)
        created = draw.text(0.95, junk=0.03)
        t.update({"createdate": created, "hs_pipeline": rng.choice(["0", "1"]), "hubspot_owner_id": rng.choice(OWNERS),
                  "first_agent_reply_date": draw.after(created) if rng.random() < 0.7 else rng.choice([None, "soon"]),
                  "hs_first_agent_message_sent_at": draw.after(created) if rng.random() < 0.5 else None})
        portal.tickets.append(t)
    merges(portal.tickets)

    answers = ["0", "3", "6", "7", "8", "9", "10", " 9", "9.0", "9.5", "11", "-1", "N/A", "1", "2", "4", "5",
               "1.5", None]
    for i in range(120):
        f = {"id": f"f{i}", "archived": rng.random() < 0.03, "hs_survey_type": rng.choice(["NPS", "CSAT", "CES"]),
             "hs_value": rng.choice(answers), "hs_submission_timestamp": draw.text(0.95)}
        portal.feedback.append(f)
    return portal


def write(portal: Portal, path) -> StoreBuilder:
    store = StoreBuilder(path, currency=portal.currency)
    pipelines = {}
    for (pipeline, stage), spec in portal.stages.items():
        pipelines.setdefault(pipeline, {})[stage] = spec
    for pipeline, stages in pipelines.items():
        store.pipeline("deals", pipeline, stages)
    for table, records in (("contacts", portal.contacts), ("companies", portal.companies), ("deals", portal.deals),
                           ("tickets", portal.tickets), ("feedback_submissions", portal.feedback)):
        for r in records:
            props = {k: v for k, v in r.items() if k not in ("id", "archived", "merged_into")}
            store.add(table, r["id"], archived=r["archived"], merged_into=r.get("merged_into"), **props)
    for deal_id, contact_id in portal.deal_contacts:
        store.link("deals", "contacts", deal_id, contact_id)
    for deal_id, company_id in portal.deal_companies:
        store.link("deals", "companies", deal_id, company_id)
    return store


CASES = [
    # (seed, period, time zone, overrides)
    (1, "2024-03", "UTC", {}),
    (2, "2024-Q1", "UTC", {"spend": {"2024-01": 900.0, "2024-02": 1100.0, "2024-03": 0.0}}),
    (3, "2024", "Europe/Berlin", {"churn_mode": "property"}),
    (4, "2024-10", "Europe/Berlin", {"customer_object": "companies"}),
    (5, "2024-02-10..2024-03-25", "America/New_York", {"inactivity_days": 30.5}),
    (6, "2024-Q2", "Asia/Kolkata", {"deal_pipelines": ("renewals",), "ticket_pipelines": ("1",)}),
    (7, "2024-03-01..2024-05-01", "Europe/Berlin", {"spend": {"2024-03": 500.0, "2024-04": 700.0},
                                                     "gross_margin": 0.8}),
    (8, "2024-11", "UTC", {"csat": (0, 2, 2), "churn_mode": "property", "customer_object": "companies"}),
    (9, "2024-Q4", "Pacific/Auckland", {"inactivity_days": 90}),
    (10, "2023", "UTC", {}),
    (11, "2024-06", "UTC", {"won_property": False}),
    (12, "2024-Q3", "Europe/Berlin", {"won_property": False, "deal_pipelines": ("default",)}),
    # Long ranges where some month start inside P has nobody active: the last cut must still be
    # read as P.end (it was read as the cut before, and the chained retention lost its last piece).
    (13, "2021-11-01..2024-07-01", "UTC", {"inactivity_days": 90}),
    (14, "2018-01-01..2024-07-01", "UTC", {"inactivity_days": 90}),
    (15, "2019-01-01..2024-07-01", "UTC", {"inactivity_days": 90, "customer_object": "companies"}),
]


def _bounds(period: str, tz: str):
    zone = ZoneInfo(tz)
    if ".." in period:
        a, b = (datetime.fromisoformat(x).replace(tzinfo=zone) for x in period.split(".."))
        months = (b.astimezone(timezone.utc) - a.astimezone(timezone.utc)).total_seconds() / 86400 / 30.436875
        whole = a.day == 1 and b.day == 1
        calendar = [f"{y:04d}-{m:02d}" for y in range(a.year, b.year + 1) for m in range(1, 13)
                    if (a.year, a.month) <= (y, m) < (b.year, b.month)] if whole else None
        if whole:  # a range of whole months counts them
            months = float(len(calendar))
        return a, b, months, calendar
    if "Q" in period:
        year, q = int(period[:4]), int(period[-1])
        first = 3 * q - 2
        a = datetime(year, first, 1, tzinfo=zone)
        b = datetime(year + (first + 3 > 12), (first + 2) % 12 + 1, 1, tzinfo=zone)
        return a, b, 3.0, [f"{year}-{m:02d}" for m in range(first, first + 3)]
    if "-" in period:
        year, month = int(period[:4]), int(period[5:])
        a = datetime(year, month, 1, tzinfo=zone)
        b = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=zone)
        return a, b, 1.0, [period]
    year = int(period)
    return datetime(year, 1, 1, tzinfo=zone), datetime(year + 1, 1, 1, tzinfo=zone), 12.0, [
        f"{year}-{m:02d}" for m in range(1, 13)]


@pytest.mark.parametrize("seed, period, tz, overrides", CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CASES])
def test_generated_portal_matches_reference(tmp_path, seed, period, tz, overrides):
    overrides = dict(overrides)
    won_property = overrides.pop("won_property", True)
    start, end, months, calendar = _bounds(period, tz)
    setup = Setup(start=start.astimezone(timezone.utc), end=end.astimezone(timezone.utc), months=months,
                  calendar_months=calendar, timezone=tz, **overrides)
    portal = generate(seed, setup, won_property=won_property)
    store = write(portal, tmp_path / "store.db")
    settings = MetricsSettings(
        timezone=tz, customer_object=setup.customer_object, gross_margin=setup.gross_margin,
        deal_pipelines=setup.deal_pipelines, ticket_pipelines=setup.ticket_pipelines,
        churn=ChurnSettings(mode=setup.churn_mode, inactivity_days=setup.inactivity_days),
        csat=CsatSettings(*setup.csat), spend=setup.spend)
    p = period_from_range(*period.split(".."), tz) if ".." in period else parse_period(period, tz)
    assert (p.start, p.end) == (start, end)
    unindexed = compute_kpis(store.db, p, settings)
    # As the sync leaves the store: with the raw-instant indexes, "is an instant" is decided by
    # the listed raw values instead of the pattern, and every output must stay the same.
    ensure_indexes(store.db, (setup.customer_object, "churn_date"))
    indexed = compute_kpis(store.db, p, settings)
    assert StoreView.open(store.db).raw_instants("deals", "closedate") is not None  # the listed path ran
    assert indexed == unindexed
    got = indexed["kpis"]
    expected = reference_kpis(portal, setup)
    assert set(got) == set(expected) == set(KPI_KEYS)
    for key in KPI_KEYS:
        value, n, reason = expected[key]
        actual = got[key]
        assert (actual["n"], actual["reason"]) == (n, reason), key
        if value is None:
            assert actual["value"] is None, key
        else:
            # outputs are rounded to 6 decimals
            assert math.isclose(actual["value"], value, rel_tol=1e-9, abs_tol=5e-7), (key, actual["value"], value)
    # The generator must actually exercise the KPIs, not compare two nulls.
    assert sum(got[k]["value"] is not None for k in KPI_KEYS) >= 20
    store.close()
