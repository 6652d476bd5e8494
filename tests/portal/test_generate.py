"""The generated data: deterministic, proportionate, realistic, and quirky in the ways real portals are."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

import pytest

from hubspot_metrics.portal import generate_portal
from hubspot_metrics.portal.formats import fmt_datetime, parse_time
from hubspot_metrics.portal.schema import LIFECYCLE_STAGES, OBJECT_TYPES, deal_stage_meta

from .conftest import NOW, NOW_MS

PAIRS = [("deals", "contacts"), ("deals", "companies"), ("contacts", "companies"), ("tickets", "contacts"),
         ("feedback_submissions", "contacts")]


def snapshot(portal) -> dict:
    return {
        "records": {name: (list(portal.records(name)), list(portal.records(name, archived=True)))
                    for name in OBJECT_TYPES},
        "owners": portal.owners,
        "associations": {pair: sorted(portal.association_pairs(*pair)) for pair in PAIRS},
        "settings": (portal.portal_id, portal.time_zone, portal.home_currency, portal.now),
    }


def props(portal, name, archived=False):
    return [r["properties"] for r in portal.records(name, archived=archived)]


@pytest.fixture(scope="module")
def big():
    return generate_portal(scale=5000, seed=7, now=NOW)


def test_same_seed_scale_and_now_give_the_same_portal():
    a = snapshot(generate_portal(scale=300, seed=9, now=NOW))
    b = snapshot(generate_portal(scale=300, seed=9, now=NOW))
    assert a == b
    c = snapshot(generate_portal(scale=300, seed=10, now=NOW))
    assert c["records"]["contacts"] != a["records"]["contacts"]
    assert c["associations"] != a["associations"]


def test_sizes_follow_the_scale():
    portal = generate_portal(scale=1000, seed=2, now=NOW)
    created = {name: len(portal.tables[name]) for name in OBJECT_TYPES}
    assert created == {"contacts": 1000, "companies": 200, "deals": 500, "tickets": 500, "feedback_submissions": 333}
    # Every type has archived records; merged-away records are in neither list.
    for name in OBJECT_TYPES:
        live, archived = len(props(portal, name)), len(props(portal, name, archived=True))
        assert archived >= 1, name
        assert live + archived <= created[name]
    merged_away = created["contacts"] - len(props(portal, "contacts")) - len(props(portal, "contacts", True))
    assert merged_away == 10  # 1 % of contacts
    owners = portal.owners
    assert 10 <= len(owners) <= 41
    retired = [o for o in owners if o["archived"]]
    assert retired and all(o["userId"] is None and isinstance(o["userIdIncludingInactive"], int) for o in retired)
    assert portal.now == NOW and portal.home_currency == "EUR" and portal.time_zone == "Europe/Berlin"


def test_all_values_are_strings_or_null_and_datetimes_are_hubspot_formatted(big):
    for name, otype in OBJECT_TYPES.items():
        for p in props(big, name)[:500]:
            assert all(v is None or isinstance(v, str) for v in p.values()), name
            for prop in otype.props:
                v = p.get(prop.name)
                if prop.type == "datetime" and v and v != "not a date":
                    assert v.endswith("Z") and v[10] == "T" and parse_time(v) is not None, (name, prop.name, v)
                if prop.type == "date" and v and v != "not a date":
                    assert len(v) == 10 and parse_time(v) % 86_400_000 == 0, (name, prop.name, v)


def test_every_recent_month_has_leads_customers_wins_losses_tickets_and_surveys():
    portal = generate_portal(scale=2000, seed=4, now=NOW)
    months = [f"2025-{m:02d}" for m in (11, 12)] + [f"2026-{m:02d}" for m in range(1, 11)]

    def per_month(values):
        counts = Counter(v[:7] for v in values if v and v[:4].isdigit())
        return {m: counts[m] for m in months}

    contacts, deals = props(portal, "contacts"), props(portal, "deals")
    series = {
        "leads": per_month(p["hs_lifecyclestage_lead_date"] or p["hs_v2_date_entered_lead"] for p in contacts),
        "customers": per_month(p["hs_lifecyclestage_customer_date"] or p["hs_v2_date_entered_customer"]
                               for p in contacts),
        "won": per_month(p["closedate"] for p in deals if p["hs_is_closed_won"] == "true"),
        "lost": per_month(p["closedate"] for p in deals if p["hs_is_closed_lost"] == "true"),
        "tickets": per_month(p["createdate"] for p in props(portal, "tickets")),
        "surveys": per_month(p["hs_submission_timestamp"] for p in props(portal, "feedback_submissions")),
    }
    for name, counts in series.items():
        assert min(counts.values()) >= 1, (name, counts)
    assert series["leads"]["2026-10"] > series["leads"]["2025-11"]  # a growing business


def test_lifecycle_dates_come_in_legacy_only_v2_only_and_both(big):
    kinds = Counter()
    for p in props(big, "contacts"):
        legacy, v2 = p["hs_lifecyclestage_lead_date"], p["hs_v2_date_entered_lead"]
        if legacy or v2:
            kinds["both" if legacy and v2 else "legacy" if legacy else "v2"] += 1
            if legacy and v2:
                assert legacy == v2
    assert kinds["both"] > kinds["legacy"] > 100 and kinds["v2"] > 100
    for p in props(big, "contacts"):
        customer = p["hs_lifecyclestage_customer_date"] or p["hs_v2_date_entered_customer"]
        lead = p["hs_lifecyclestage_lead_date"] or p["hs_v2_date_entered_lead"]
        if customer and lead:
            assert parse_time(lead) <= parse_time(customer) <= NOW_MS
        modified = parse_time(p["lastmodifieddate"])
        assert parse_time(p["createdate"]) <= modified <= NOW_MS
    churned = [p for p in props(big, "contacts") if p["churn_date"]]
    assert churned and all(p["lifecyclestage"] in ("customer", "evangelist", "", None) for p in churned)


def test_deals_are_consistent_with_their_stages_and_currencies(big):
    meta = deal_stage_meta()
    deals = props(big, "deals")
    currencies = Counter(p["deal_currency_code"] for p in deals)
    assert currencies["EUR"] > currencies["USD"] > 0 and currencies[""] > 0 and currencies[None] > 0
    for p in deals:
        pipeline, m = meta[p["dealstage"]]
        assert p["pipeline"] == pipeline
        closed = m["isClosed"] == "true"
        assert p["hs_is_closed"] == ("true" if closed else "false")
        assert p["hs_is_closed_won"] == ("true" if closed and m["probability"] == "1.0" else "false")
        assert p["hs_is_closed_lost"] == ("true" if closed and m["probability"] == "0.0" else "false")
        if p["deal_currency_code"] == "USD" and p["hs_exchange_rate"] and p["amount_in_home_currency"]:
            assert float(p["amount_in_home_currency"]) == pytest.approx(
                float(p["amount"]) * float(p["hs_exchange_rate"]), abs=0.006)
        elif p["deal_currency_code"] == "EUR" and p["amount_in_home_currency"]:
            assert p["amount_in_home_currency"] == p["amount"]
    on_hold = [p for p in deals if p["dealstage"] == "11348550"]  # probability 0.0 but open
    assert on_hold and all(p["hs_is_closed_lost"] == "false" for p in on_hold)
    assert {p["pipeline"] for p in deals} == {"default", "11348547"}


def test_real_portal_quirks_are_present(big):
    deals, contacts = props(big, "deals"), props(big, "contacts")
    tickets, feedback = props(big, "tickets"), props(big, "feedback_submissions")
    assert any(p["amount"] == "12,5k" for p in deals)
    assert any(p["closedate"] == "not a date" for p in deals)
    assert any(p["hs_is_closed_won"] == "true" and p["amount"] in (None, "") for p in deals)
    assert any(p["hs_value"] == "N/A" for p in feedback)
    assert any(p["hs_value"] == "11" and p["hs_survey_type"] == "NPS" for p in feedback)
    assert any(p["lifecyclestage"] == "" for p in contacts) and any(p["lifecyclestage"] is None for p in contacts)
    names = [p["firstname"] for p in contacts] + [p["lastname"] for p in contacts]
    assert any(n and "\n" in n for n in names) and any(n and n.startswith("=") for n in names)
    assert any(n and '"' in n for n in names) and any(n and any(ord(ch) > 0xFFFF for ch in n) for n in names)
    early = [p for p in tickets if p["first_agent_reply_date"] and
             parse_time(p["first_agent_reply_date"]) < parse_time(p["createdate"])]
    assert early and all(int(p["time_to_first_agent_reply"]) < 0 for p in early)
    assert any(p["first_agent_reply_date"] is None and p["hs_first_agent_message_sent_at"] is None for p in tickets)
    assert any(p["first_agent_reply_date"] is None and p["hs_first_agent_message_sent_at"] for p in tickets)
    assert any(p["first_agent_reply_date"] and p["hs_first_agent_message_sent_at"] is None for p in tickets)
    # A bulk import: one modified millisecond shared by about 5 % of contacts.
    (stamp, count), = Counter(p["lastmodifieddate"] for p in contacts).most_common(1)
    assert count >= 0.04 * len(contacts) and stamp == "2026-10-31T14:03:27.123Z"
    # Merged-away ids appear in survivors' hs_merged_object_ids and nowhere else.
    existing = {r["id"] for r in big.records("contacts")} | {r["id"] for r in big.records("contacts", archived=True)}
    merged = [i for p in contacts if p["hs_merged_object_ids"] for i in p["hs_merged_object_ids"].split(";")]
    assert len(merged) >= 45 and not set(merged) & existing


def test_closed_tickets_and_surveys_carry_consistent_calculated_values(big):
    for p in props(big, "tickets"):
        if p["hs_pipeline_stage"] == "4":
            assert p["closed_date"] is not None
            if p["time_to_close"]:
                assert int(p["time_to_close"]) == parse_time(p["closed_date"]) - parse_time(p["createdate"])
        else:
            assert p["closed_date"] is None and p["time_to_close"] is None
    bands = {"NPS": (9, 7), "CSAT": (4, 3), "CES": (6, 4)}
    scales = {"NPS": range(0, 11), "CSAT": range(1, 6), "CES": range(1, 8)}
    seen = Counter()
    for p in props(big, "feedback_submissions"):
        kind, value, group = p["hs_survey_type"], p["hs_value"], p["hs_response_group"]
        if value in ("N/A", "11") or group is None:
            continue
        assert int(value) in scales[kind]
        promoter, passive = bands[kind]
        assert group == ("PROMOTER" if int(value) >= promoter else "PASSIVE" if int(value) >= passive
                         else "DETRACTOR")
        seen[kind] += 1
    assert set(seen) == {"NPS", "CSAT", "CES"}


def test_associations_are_symmetric_and_one_account_has_more_than_500_contacts():
    portal = generate_portal(scale=1000, seed=5, now=NOW)
    for a, b in PAIRS:
        forward = set(portal.association_pairs(a, b))
        backward = {(y, x) for x, y in portal.association_pairs(b, a)}
        assert forward == backward and forward, (a, b)
    per_company = Counter(company for company, _ in portal.association_pairs("companies", "contacts"))
    assert max(per_company.values()) > 500
    lifecycle = Counter(p["lifecyclestage"] for p in props(portal, "companies"))
    assert set(lifecycle) <= set(LIFECYCLE_STAGES) and lifecycle["customer"] > 0


def test_a_hundred_thousand_contacts_generate_with_their_deals():
    # (how long this takes is measured by bench/bench_portal.py, not asserted here)
    portal = generate_portal(scale=100_000, seed=1, now=datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert len(portal.tables["contacts"]) == 100_000 and len(portal.tables["deals"]) == 50_000


def test_every_second_of_a_day_is_served_as_hubspot_writes_it():
    midnight = datetime(2026, 3, 29, tzinfo=timezone.utc)
    base = int(midnight.timestamp()) * 1000
    for second in range(86_400):
        moment = datetime.fromtimestamp(base // 1000 + second, tz=timezone.utc)
        assert fmt_datetime(base + second * 1000) == moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert fmt_datetime(base + second * 1000 + 7) == moment.strftime("%Y-%m-%dT%H:%M:%S.007Z")
