"""The `nightly`, `export` and `report` commands."""

from __future__ import annotations

import click

from hubspot_metrics.cli import App, pass_app


@click.command()
@pass_app
def nightly(app: App) -> None:
    """For cron: sync, snapshot the KPIs of [nightly] periods, export and report; one summary line."""
    from hubspot_metrics.results.nightly import run_nightly

    click.echo(run_nightly(app.config, verbose=app.verbose > 0))


@click.command()
# Plain paths, not click.Path(dir_okay=False): check_output refuses a folder in one sentence
# instead of click's three-line usage error.
@click.option("--out", required=True, type=click.Path(), help="CSV file to write.")
@click.option("--grain", type=click.Choice(["month", "quarter", "year"]), default="month", show_default=True,
              help="Length of the periods: one row (or one set of rows) per calendar month, quarter or year.")
@click.option("--periods", "count", type=click.IntRange(1, 120), default=12, show_default=True,
              help="How many of the most recent closed periods.")
@click.option("--wide", is_flag=True, help="One row per period, one column per KPI.")
@pass_app
def export(app: App, out: str, grain: str, count: int, wide: bool) -> None:
    """Write KPI history as CSV (each closed period from its latest snapshot under today's definitions, else computed)."""
    from hubspot_metrics.metrics.cli import open_synced_store
    from hubspot_metrics.results.export import check_output, export_history, write_file

    check_output(out, app.config.store_path)
    db = open_synced_store(app.config.store_path)
    try:
        text, from_snapshots = export_history(db, app.config.metrics, grain=grain, periods=count, wide=wide)
        write_file(out, text)
    finally:
        db.conn.close()
    click.echo(f"wrote {out}: {count} {grain}{'s' if count > 1 else ''}, {'wide' if wide else 'long'} format; "
               f"{from_snapshots} from snapshots, {count - from_snapshots} computed now")


@click.command()
@click.option("--out", required=True, type=click.Path(), help="HTML file to write.")
@pass_app
def report(app: App, out: str) -> None:
    """Write a self-contained HTML report: summary, KPI cards with 13-month trends, supporting metrics."""
    from hubspot_metrics.metrics.cli import open_synced_store
    from hubspot_metrics.results.export import check_output, write_file
    from hubspot_metrics.results.report import build_report

    check_output(out, app.config.store_path, example="report.html")
    db = open_synced_store(app.config.store_path)
    try:
        write_file(out, build_report(db, app.config.metrics))
    finally:
        db.conn.close()
    click.echo(f"wrote {out}")
