"""The `nightly`, `export` and `report` commands."""

from __future__ import annotations

import click

from hubspot_metrics import app
from hubspot_metrics.cli.progress import Progress
from hubspot_metrics.cli.root import CliSettings, cli, pass_settings, show_warnings


@cli.command()
@pass_settings
def nightly(settings: CliSettings) -> None:
    """For cron: sync, snapshot the KPIs of [nightly] periods, export and report; one summary line."""
    outcome = app.nightly(settings.config, progress=Progress.for_stderr(lines=settings.verbose > 0),
                          on_synced=lambda synced: show_warnings(synced.warnings))
    click.echo(outcome.summary)


@cli.command()
# Plain paths, not click.Path(dir_okay=False): check_output refuses a folder in one sentence
# instead of click's three-line usage error.
@click.option("--out", required=True, type=click.Path(), help="CSV file to write.")
@click.option("--grain", type=click.Choice(["month", "quarter", "year"]), default="month", show_default=True,
              help="Length of the periods: one row (or one set of rows) per calendar month, quarter or year.")
@click.option("--periods", "count", type=click.IntRange(1, 120), default=12, show_default=True,
              help="How many of the most recent closed periods.")
@click.option("--wide", is_flag=True, help="One row per period, one column per KPI.")
@pass_settings
def export(settings: CliSettings, out: str, grain: str, count: int, wide: bool) -> None:
    """Write KPI history as CSV (each closed period from its latest snapshot under today's definitions, else computed)."""
    outcome = app.export(settings.config, out, grain=grain, periods=count, wide=wide)
    click.echo(f"wrote {outcome.path}: {count} {grain}{'s' if count > 1 else ''}, {'wide' if wide else 'long'} format; "
               f"{outcome.from_snapshots} from snapshots, {count - outcome.from_snapshots} computed now")


@cli.command()
@click.option("--out", required=True, type=click.Path(), help="HTML file to write.")
@pass_settings
def report(settings: CliSettings, out: str) -> None:
    """Write a self-contained HTML report: summary, KPI cards with 13-month trends, supporting metrics."""
    click.echo(f"wrote {app.report(settings.config, out)}")
