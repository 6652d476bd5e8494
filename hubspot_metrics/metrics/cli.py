"""`hubspot-metrics kpis`: the KPIs of one period, as a table, JSON or CSV."""

from __future__ import annotations

import click

from hubspot_metrics.cli import App, pass_app
from hubspot_metrics.errors import ConfigError, StoreError
from hubspot_metrics.metrics.compute import BREAKDOWNS, complete_to, compute_kpis, with_store_timezone
from hubspot_metrics.metrics.render import compare, render_csv, render_json, render_table
from hubspot_metrics.metrics.sql import StoreView
from hubspot_metrics.periods import (
    NAMED_PERIODS, PERIOD_HELP, Period, named_period, parse_period, period_from_range, previous_period)
from hubspot_metrics.store import open_store


def resolve_period(period: str | None, since: str | None, until: str | None, tz: str, now) -> Period:
    """--period P, or --since D --until D (one or the other, and both of the pair); named
    periods (last_month, ...) are relative to `now`, the instant the store is complete to."""
    if period and (since or until):
        raise ConfigError(f"Give either --period or --since/--until, not both; {PERIOD_HELP}.")
    if period:
        if period.strip() in NAMED_PERIODS:
            return named_period(period.strip(), tz, now)
        return parse_period(period, tz)
    if since and until:
        return period_from_range(since, until, tz)
    if since or until:
        raise ConfigError(f"--since and --until go together (until is exclusive), e.g. --since 2026-01-15 --until 2026-02-15.")
    raise ConfigError(f"Say which period to compute: {PERIOD_HELP}.")


def open_synced_store(path: str):
    """The store, read-only; one sentence when it is missing or was never synced."""
    db = open_store(path, create=False, readonly=True)
    if not StoreView.open(db).was_synced():
        db.conn.close()
        raise StoreError(f"The store {path} has never been synced; run `hubspot-metrics sync` first.")
    return db


def _period_before(period: Period) -> Period:
    try:
        return previous_period(period)
    except (OverflowError, ValueError):  # e.g. --since 1900-01-01 --until 9998-12-31
        raise ConfigError("--compare needs an equally long period before this one, which would start before "
                          "the year 1; compare a shorter range.") from None


@click.command()
@click.option("--period", "period_text", metavar="PERIOD",
              help="2026-10 (month), 2026-Q3 (quarter), 2026 (year), or last_month, last_quarter, "
                   "month_to_date, year_to_date.")
@click.option("--since", metavar="DATE", help="First day of a custom range (YYYY-MM-DD), with --until.")
@click.option("--until", metavar="DATE", help="Day after the custom range (exclusive), with --since.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True,
              help="table for people (rounded for reading), json or csv for machines (6 decimals).")
@click.option("--by", type=click.Choice(BREAKDOWNS),
              help="Break down: deal and ticket KPIs by owner or pipeline, customer KPIs by owner or source.")
@click.option("--compare", "with_compare", is_flag=True, help="Add the previous period and the change.")
@pass_app
def kpis(app: App, period_text: str | None, since: str | None, until: str | None, fmt: str, by: str | None,
         with_compare: bool) -> None:
    """Compute the KPIs for a period from the store (never calls HubSpot)."""
    # The period's syntax first, so a mistyped period is named even where there is no store.
    resolve_period(period_text, since, until, "UTC", None)
    db = open_synced_store(app.config.store_path)
    try:
        settings = with_store_timezone(db, app.config.metrics)
        now = complete_to(db)
        period = resolve_period(period_text, since, until, settings.timezone, now)
        previous = _period_before(period) if with_compare else None  # (before the work, to fail fast)
        result = compute_kpis(db, period, settings, by=by, now=now)
        if previous is not None:
            result = compare(result, compute_kpis(db, previous, settings, now=now))
    finally:
        db.conn.close()
    if fmt == "json":
        click.echo(render_json(result))
    elif fmt == "csv":
        click.echo(render_csv(result), nl=False)
    else:
        click.echo(render_table(result))
