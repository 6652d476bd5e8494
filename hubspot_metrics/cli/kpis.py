"""`hubspot-metrics kpis`: the KPIs of one period, as a table, JSON or CSV."""

from __future__ import annotations

import click

from hubspot_metrics import app
from hubspot_metrics.cli.root import CliSettings, cli, pass_settings, period_options
from hubspot_metrics.metrics.compute import BREAKDOWNS
from hubspot_metrics.metrics.render import render_csv, render_json, render_table


@cli.command()
@period_options
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True,
              help="table for people (rounded for reading), json or csv for machines (6 decimals).")
@click.option("--by", type=click.Choice(BREAKDOWNS),
              help="Break down into one table, a row per owner, pipeline or source (largest first) and a column "
                   "per KPI: deal and ticket KPIs by owner or pipeline, customer KPIs by owner or source.")
@click.option("--keys", "keys_text", metavar="KEY,...",
              help="Only these KPIs (any keys of the JSON output, e.g. revenue,win_rate); the --by table shows "
                   "the ten KPIs by default.")
@click.option("--compare", "with_compare", is_flag=True, help="Add the previous period and the change.")
@pass_settings
def kpis(settings: CliSettings, period_text: str | None, since: str | None, until: str | None, fmt: str, by: str | None,
         keys_text: str | None, with_compare: bool) -> None:
    """Compute the KPIs for a period from the store (never calls HubSpot)."""
    keys = app.parse_keys(keys_text) if keys_text is not None else None
    result = app.kpis(settings.config, period=period_text, since=since, until=until, by=by, keys=keys,
                      with_compare=with_compare)
    if fmt == "json":
        click.echo(render_json(result))
    elif fmt == "csv":
        click.echo(render_csv(result), nl=False)
    else:
        click.echo(render_table(result, keys))
