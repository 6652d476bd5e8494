"""`compute_kpis`: run the queries for one period, apply the formulas, add the data-quality
report and, on request, a breakdown by owner, pipeline or source (docs/metrics.md, "Output")."""

from __future__ import annotations

import os
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Callable

from hubspot_metrics.config import MetricsSettings
from hubspot_metrics.dialect import dialect_of
from hubspot_metrics.errors import ConfigError, StoreError
from hubspot_metrics.metrics.catalog import DIMENSIONS, FAMILIES, FAMILY_KPIS, applicable, families_of
from hubspot_metrics.metrics.kpis import (
    NO_GROUP_LABELS, SurveyTally, kpi_values, not_applicable, tally_surveys)
from hubspot_metrics.metrics.quality import assess
from hubspot_metrics.metrics.counts import CustomerCounts, DealCounts, SurveyCounts, TicketCounts
from hubspot_metrics.metrics.queries import DIMENSION_PROPERTIES, Queries
from hubspot_metrics.metrics.segments import segment_labels, segment_size
from hubspot_metrics.metrics.sql import StoreView, connection
from hubspot_metrics.periods import Period, measured_up_to
from hubspot_metrics.postgres import second_reader
from hubspot_metrics.store import connect_read_only, sync_running
from hubspot_metrics.values import format_instant

BREAKDOWNS = tuple(DIMENSIONS)


def complete_to(db) -> datetime:
    """The `now` of every KPI: the start of the store's last completed sync."""
    moment = StoreView.open(db).complete_to()
    if moment is None:
        raise StoreError("The store has no completed sync, so it has no KPIs yet; run `hubspot-metrics sync` first.")
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


def timezone_in_use(db, settings: MetricsSettings) -> tuple[str, str]:
    """The zone KPIs use and where it comes from: [metrics] timezone when configured, else the
    portal's own zone as the sync stored it, else (before the first sync) UTC."""
    if settings.timezone:
        return settings.timezone, "[metrics] timezone"
    portal = StoreView.open(db).portal_timezone()
    return (portal, "the portal's, from its account details") if portal else ("UTC", "no account details synced yet")


def with_store_timezone(db, settings: MetricsSettings) -> MetricsSettings:
    """Settings whose `timezone` is the one KPIs use (`timezone_in_use`)."""
    if settings.timezone:
        return settings
    return replace(settings, timezone=timezone_in_use(db, settings)[0])


def compute_kpis(db, period: Period, settings: MetricsSettings, by: str | None = None,
                 now: datetime | None = None, keys: tuple[str, ...] | None = None) -> dict:
    """Every KPI for `period`, read from the store `db` (a sqlite_utils.Database or a
    sqlite3.Connection); nothing is written and HubSpot is never called.

    `now` is the instant the store is complete to, by default the start of its last completed
    sync (`complete_to`): a period that ends after it is measured up to it (`partial`), one
    that starts at or after it is a ConfigError.

    Returns the object of docs/metrics.md, "Output", plus the data-quality report:

        {"period": "2026-10", "start": ISO, "end": ISO, "as_of": ISO, "partial": bool,
         "timezone": "Europe/Berlin", "currency": "EUR" | None,
         "kpis": {key: {"value": int | float | None, "n": int, "reason": str | None, "unit": str}},
         "warnings": ["one sentence per gap that skews a KPI", ...],
         "data_quality": {
             "home_currency": "EUR" | None,
             "<customer unit>" | "deals" | "tickets" | "feedback_submissions": {
                 "records": live records used (deals and tickets: in the configured pipelines),
                 "excluded_archived": n, "excluded_merged": n (marked, or named by a survivor),
                 "unparsable": {property: values that are not a number / instant / boolean},
                 ...per object: deals "won_without_amount", "won_in_other_currency_without_home_amount",
                 "won_negative_cycle", "won_without_createdate", "open_without_amount",
                 "closed_without_closedate", "unknown_stage"; tickets "unanswered",
                 "negative_response"; feedback "nps_|csat_" + "out_of_scale", "unparsable",
                 "without_value"}}}

    Counts named "won_…", "negative_…", "unanswered" and the survey ones are of period P;
    the others are of the whole store. With `by` ("owner", "pipeline" or "source"):

        "breakdown": {"by": by, "groups": [{"key": id or None, "label": str, "n": int, "kpis": {...}}]}

    one group per value of the dimension with anything to show (None: records without one),
    largest `n` first (segments.segment_size says what it counts), then by label (records
    without one last). Each group has every key; those the dimension does not apply to (see
    catalog.DIMENSIONS) are `{"value": None, "n": 0, "reason": "not_applicable", ...}`.

    `keys` (explain): run only the queries these keys need; "kpis" (and each group's) then
    holds just them, and there is no data-quality report (empty warnings and data_quality).
    """
    if by is not None and by not in BREAKDOWNS:
        raise ConfigError(f"--by {by!r} is not a breakdown; use owner, pipeline or source.")
    period = measured_up_to(period, now or complete_to(db))
    conn = connection(db)
    if conn.in_transaction or not _sync_running(conn):
        return _compute(db, period, settings, by, keys)
    # A sync is writing: read every query from one WAL snapshot (one read transaction, one
    # connection), so no KPI mixes records from before and after one of its pages.
    conn.execute("BEGIN")
    try:
        return _compute(db, period, settings, by, keys)
    finally:
        conn.execute("COMMIT")


def _sync_running(conn: sqlite3.Connection) -> bool:
    path = _database_file(conn)
    return path is not None and sync_running(path)


def _compute(db, period: Period, settings: MetricsSettings, by: str | None, keys: tuple[str, ...] | None) -> dict:
    view = StoreView.open(db)
    queries = Queries(view, period, settings)
    grouped = DIMENSION_PROPERTIES.get(by, {}) if by else {}
    needed = set(FAMILIES) if keys is None else set().union(*(families_of(k) for k in keys))

    # Two halves of about equal work, one per core.
    def customers_and_surveys(q: Queries):
        return (q.customers(by if "customers" in grouped else None) if "customers" in needed else {},
                q.surveys() if "surveys" in needed else SurveyCounts())

    def deals_and_tickets(q: Queries):
        return (q.deals(by if "deals" in grouped else None) if "deals" in needed else {},
                q.tickets(by if "tickets" in grouped else None) if "tickets" in needed else {},
                {t: q.exclusions(t) for t in (settings.customer_object, "deals", "tickets", "feedback_submissions")})

    (customers, surveys), (deals, tickets, exclusions) = _in_two_lanes(queries, customers_and_surveys,
                                                                       deals_and_tickets)
    tally = tally_surveys(surveys, settings.csat)
    totals = CustomerCounts.total(customers), DealCounts.total(deals), TicketCounts.total(tickets)
    quality, warnings = assess(settings, *totals, surveys, tally, exclusions, queries.home_currency)
    churn_property = settings.churn.property
    churn_synced = settings.churn.mode != "property" or view.column(settings.customer_object, churn_property) is not None
    if not churn_synced:
        warnings.append(f"The churn property {churn_property} is not in the store yet, so retention, churn, active "
                        f"customers, ARPA and lifetime value have no value; run `hubspot-metrics sync` to read it "
                        f"from the {settings.customer_object} (and check that HubSpot defines it there).")
    kpis = kpi_values(*totals, tally, period, settings, churn_synced)
    stale = _stale_open_deals(totals[1].open_created, kpis["avg_sales_cycle_days"]["value"], period)
    quality["deals"]["stale_open"] = stale
    if stale:
        warnings.append(f"{stale} open {'deal was' if stale == 1 else 'deals were'} created more than "
                        f"{_stale_age(kpis['avg_sales_cycle_days']['value'])} before the end of the period; stale "
                        f"deals inflate pipeline_velocity (close or delete them in HubSpot).")
    result = {
        "period": period.label,
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        # whole milliseconds, as the store keeps instants
        "as_of": period.until.isoformat(timespec="milliseconds" if period.until.microsecond else "auto"),
        "partial": period.partial,
        "timezone": period.timezone,
        "currency": queries.home_currency,
        "kpis": kpis,
        "warnings": warnings,
        "data_quality": quality,
    }
    if by:
        result["breakdown"] = _breakdown(by, view, {"customers": customers, "deals": deals, "tickets": tickets},
                                         period, settings, churn_synced)
    if keys is not None:  # the other keys were computed from families that were not read
        result.update(warnings=[], data_quality={})
        result["kpis"] = {k: v for k, v in kpis.items() if k in keys}
        for group in result.get("breakdown", {}).get("groups", []):
            group["kpis"] = {k: v for k, v in group["kpis"].items() if k in keys}
    return result


def _stale_open_deals(open_created: list[str], avg_cycle_days: float | None, period: Period) -> int:
    """Open deals created more than 3 average sales cycles of P (365 days when P has none)
    before its end (docs/metrics.md, "Data quality")."""
    age = timedelta(days=3 * avg_cycle_days) if avg_cycle_days else timedelta(days=365)
    threshold = format_instant(period.until - age)
    return sum(1 for created in open_created if created < threshold)


def _stale_age(avg_cycle_days: float | None) -> str:
    return f"3 average sales cycles ({3 * avg_cycle_days:.1f} days)" if avg_cycle_days else "a year"


def _in_two_lanes(queries: Queries, first: Callable, second: Callable):
    """Run `second` on another core when the store allows it, on a second connection that reads
    exactly what the caller's reads (`_second_reader`): SQLite releases the GIL while it works,
    and PostgreSQL runs each session in a server process of its own, so a large store's wall
    time halves. The caller's connection stays in the caller's thread (sqlite3 insists on that).
    Sequential where no such connection exists, and on single-core machines.
    """
    conn = queries.view.conn
    open_other = _second_reader(conn) if (os.cpu_count() or 1) >= 2 else None
    if open_other is None:
        return first(queries), second(queries)

    def on_second_connection():
        other = open_other()
        try:
            return second(queries.on(other))
        finally:
            other.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        later = pool.submit(on_second_connection)
        result = first(queries)
        return result, later.result()


def _second_reader(conn) -> Callable | None:
    """A function opening a second connection that sees what `conn` sees, or None when there is
    none. SQLite: the same file read-only, except in memory or inside an open transaction
    (another connection would not see its uncommitted rows). PostgreSQL: a session on the
    snapshot of a reader's transaction (a writer's connection, as in `nightly`, stays alone)."""
    if dialect_of(conn).name == "postgresql":
        return second_reader(conn) if getattr(conn, "read_only", False) else None
    path = _database_file(conn)
    if path is None or conn.in_transaction:
        return None
    return lambda: connect_read_only(path)


def _database_file(conn: sqlite3.Connection) -> str | None:
    """The SQLite file behind `conn`; None in memory and on PostgreSQL (no file; its readers hold
    one snapshot transaction, postgres.open_database)."""
    if dialect_of(conn).name != "sqlite":
        return None
    for _, name, path in conn.execute("PRAGMA database_list"):
        if name == "main":
            return path or None
    return None


def _breakdown(by: str, view: StoreView, families: dict[str, dict], period: Period, settings: MetricsSettings,
               churn_synced: bool) -> dict:
    """One entry per value of the dimension that has something to show; the KPIs a dimension
    does not apply to are `not_applicable` (catalog.DIMENSIONS says which apply)."""
    grouped = DIMENSION_PROPERTIES[by]
    wanted = applicable(by)
    labels = segment_labels(view.conn, by, settings.customer_object)
    keys = set().union(*(families[f].keys() for f in grouped))
    groups = []
    for key in keys:
        counts = {"customers": CustomerCounts(), "deals": DealCounts(), "tickets": TicketCounts()}
        for family in grouped:
            counts[family] = families[family].get(key, counts[family])
        values = kpi_values(counts["customers"], counts["deals"], counts["tickets"], SurveyTally(), period, settings,
                            churn_synced)
        applies = wanted
        if by == "pipeline" and key is not None:
            # A pipeline holds deals or tickets, not both: the other family does not apply.
            applies = {k for f in grouped if key in families[f] for k in FAMILY_KPIS[f]}
        kpis = {k: v if k in applies else not_applicable(k) for k, v in values.items()}
        if not any(kpis[k]["n"] for k in applies):
            continue  # e.g. a deactivated owner with nothing in or open at the period
        label = NO_GROUP_LABELS[by] if key is None else labels.get(key, key)
        groups.append({"key": key, "label": label, "n": segment_size(by, kpis), "kpis": kpis})
    groups.sort(key=lambda g: (-g["n"], g["key"] is None, str(g["label"]).casefold(), str(g["key"])))
    return {"by": by, "groups": groups}
