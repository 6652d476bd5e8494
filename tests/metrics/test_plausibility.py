"""On a steady business, rates do not depend on the period's length: CLV, ARPA, pipeline
velocity and deal throughput of a month, its quarter and its year stay within a factor of 3.

(Under v1 they did not: CLV swung from thousands to millions with the period chosen, and
velocity grew with the period's length.)"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from hubspot_metrics.store import PropertyColumns, transaction, upsert_records

from .builder import StoreBuilder
from .conftest import kpis, with_default_pipeline

START = datetime(2022, 1, 1, tzinfo=timezone.utc)
END = datetime(2026, 1, 1, tzinfo=timezone.utc)
TYPES = {"createdate": "datetime", "hs_lifecyclestage_customer_date": "datetime", "closedate": "datetime",
         "amount": "number", "hs_is_closed": "bool", "hs_is_closed_won": "bool", "dealstage": "enumeration",
         "pipeline": "enumeration", "deal_currency_code": "string"}


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def steady_portal(builder: StoreBuilder, seed: int = 3) -> None:
    """Four years of one steady business: the same number of new customers every month, each
    buying once a month (a deal opened 30 days before it is won) until it stops with the same
    chance every month; beside each purchase a lost deal now and then, and a pipeline of
    prospects' deals created and closed at a constant pace."""
    rng = random.Random(seed)
    contacts, deals, links = [], [], []

    def deal(created: datetime, closed: datetime | None, won: bool, amount: float) -> str:
        did = f"d{len(deals)}"
        stage = "appointmentscheduled" if closed is None else "closedwon" if won else "closedlost"
        deals.append({"id": did, "properties": {
            "createdate": iso(created), "closedate": iso(closed) if closed else None, "dealstage": stage,
            "pipeline": "default", "amount": str(amount), "deal_currency_code": "EUR",
            "hs_is_closed": "true" if closed else "false", "hs_is_closed_won": "true" if won else "false"}})
        return did

    day = START
    while day < END:
        for _ in range(rng.choice((0, 0, 1))):  # about ten new customers a month
            cid = f"c{len(contacts)}"
            became = day + timedelta(hours=rng.randrange(24))
            contacts.append({"id": cid, "properties": {"createdate": iso(became - timedelta(days=20)),
                                                       "hs_lifecyclestage_customer_date": iso(became)}})
            purchase = became
            while purchase < END:
                won = deal(purchase - timedelta(days=30), purchase, True, 1000 + rng.randrange(200))
                links.append((won, cid))
                if rng.random() < 0.08:  # stops buying
                    break
                purchase += timedelta(days=30)
        if rng.random() < 0.5:  # prospects: half won, half lost, after about 45 days; some never close
            created = day + timedelta(hours=rng.randrange(24))
            closed = created + timedelta(days=30 + rng.randrange(30))
            deal(created, closed if closed < END - timedelta(days=60) or rng.random() < 0.5 else None,
                 rng.random() < 0.5, 800 + rng.randrange(400))
        day += timedelta(days=1)

    for table, records in (("contacts", contacts), ("deals", deals)):
        columns = PropertyColumns(builder.db, table)
        names = sorted({name for r in records for name in r["properties"]})
        with transaction(builder.db) as conn:
            columns.ensure(conn, {name: {"type": TYPES[name]} for name in names})
            upsert_records(conn, columns, records, names)
    builder.conn.executemany("INSERT INTO associations_deals_contacts VALUES (?, ?, '[]')", links)


@pytest.mark.parametrize("key", ["customer_lifetime_value", "arpa", "pipeline_velocity", "deal_throughput"])
def test_a_month_its_quarter_and_its_year_agree_within_a_factor_of_three(store, key):
    with_default_pipeline(store)
    steady_portal(store)
    values = {period: kpis(store, period)["kpis"][key] for period in ("2025-05", "2025-Q2", "2025")}
    assert all(v["value"] and v["value"] > 0 for v in values.values()), values
    low, high = min(v["value"] for v in values.values()), max(v["value"] for v in values.values())
    assert high / low <= 3, (key, {p: v["value"] for p, v in values.items()})
