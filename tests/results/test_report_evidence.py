"""The report's evidence (issue 14, point 4): "behind this number" lists each headline KPI's
records, the largest first, at most 20 per role, linked to HubSpot; "Fix in HubSpot" lists the
records the data-quality warnings count, at most 50 per kind. Every text is escaped."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from hubspot_metrics.config import MetricsSettings
from hubspot_metrics.results.report import build_report
from tests.metrics.builder import StoreBuilder
from tests.metrics.conftest import with_default_pipeline

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)  # the builder's last completed sync: the report shows 2025-12
HOSTILE = '<script>alert("deal")</script>'
DEAL = "https://app-eu1.hubspot.com/contacts/777/record/0-3/"


@pytest.fixture(scope="module")
def html(tmp_path_factory):
    store = StoreBuilder(tmp_path_factory.mktemp("evidence") / "store.db")
    store.conn.execute("UPDATE account SET portalId = 777, uiDomain = 'app-eu1.hubspot.com'")
    with_default_pipeline(store)
    # 25 deals won in December, cycles of 1..25 days; W24 has the hostile name, W25 no amount
    for i in range(1, 26):
        store.add("deals", f"W{i}", dealname=HOSTILE if i == 24 else f"Won {i}", createdate="2025-12-01",
                  closedate=f"2025-12-{i + 1:02d}", dealstage="closedwon", pipeline="default",
                  amount=None if i == 25 else 1000 * i, deal_currency_code="EUR", hs_is_closed=True,
                  hs_is_closed_won=True)
    # 60 open deals whose amount does not parse: one kind of unparsable value, 60 records
    for i in range(60):
        store.add("deals", f"O{i:02d}", dealname=f"Open {i}", createdate="2025-06-01", dealstage="appointmentscheduled",
                  pipeline="default", amount="12,5k", hs_is_closed=False, hs_is_closed_won=False)
    store.add("tickets", "T1", subject="Printer on fire", createdate="2025-12-03T10:00:00Z")
    page = build_report(store.db, MetricsSettings(timezone="UTC"), NOW)
    store.close()
    return page


def section(html: str, key: str) -> str:
    return re.search(rf'<section class="behind" id="behind-{key}">.*?</section>', html, re.S).group(0)


def test_a_hostile_deal_name_is_escaped_in_its_link(html):
    assert "<script" not in html and HOSTILE not in html
    assert (f'<a href="{DEAL}W24">&lt;script&gt;alert(&quot;deal&quot;)&lt;/script&gt;</a>') in section(
        html, "avg_sales_cycle_days")


def test_each_headline_kpi_links_to_its_records_the_longest_cycles_first_twenty_per_role(html):
    assert re.findall(r'<section class="behind" id="behind-(\w+)">', html) == [
        "cac", "customer_retention_rate", "customer_lifetime_value", "conversion_rate", "churn_rate", "nps", "csat",
        "avg_first_response_hours", "avg_sales_cycle_days", "pipeline_velocity"]
    assert '<a class="evidence" href="#behind-avg_sales_cycle_days">behind this number</a>' in html
    cycles = section(html, "avg_sales_cycle_days")
    assert "<caption>won: the first 20 of 25</caption>" in cycles
    rows = re.findall(r'<tr><td><a href="[^"]+/(W\d+)">.*?</a></td><td class="num">([^<]*)</td>', cycles)
    assert rows == [(f"W{i}", f"{i}.0 days") for i in range(25, 5, -1)]
    # the open deals at the start of December, 20 of 60 listed; nothing to list for surveys
    assert "<caption>open at start: the first 20 of 60</caption>" in section(html, "pipeline_velocity")
    assert "<p class=\"sub\">No records in 2025-12.</p>" in section(html, "nps")


def test_fix_in_hubspot_lists_the_records_behind_the_warnings_fifty_per_kind(html):
    fix = re.search(r"<h2>Fix in HubSpot</h2>(.*?)<h2>", html, re.S).group(1)
    assert re.findall(r"<caption>(.*?)</caption>", fix) == [
        "Won deals without an amount in the home currency: 1", "Tickets without a first agent reply: 1",
        "Unparsable amount of deals: the first 50 of 60"]
    assert (f'<tr><td><a href="{DEAL}W25">Won 25</a></td><td>no amount</td><td>2025-12-01 00:00</td>'
            "<td>2025-12-26 00:00</td></tr>") in fix
    assert ('<tr><td><a href="https://app-eu1.hubspot.com/contacts/777/record/0-5/T1">Printer on fire</a></td>'
            "<td>no reply</td><td>2025-12-03 10:00</td><td></td></tr>") in fix
    unparsable = re.findall(rf'<tr><td><a href="{DEAL}(O\d+)">deals O\d+</a></td><td>12,5k</td></tr>', fix)
    assert unparsable == [f"O{i:02d}" for i in range(50)]
