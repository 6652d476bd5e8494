"""`hubspot-metrics demo`: the whole product on a simulated portal, offline, with no token."""

from __future__ import annotations

import click

from hubspot_metrics import app
from hubspot_metrics.cli.progress import Progress
from hubspot_metrics.cli.root import cli, show_warnings
from hubspot_metrics.config import DEFAULT_SCHEMA
from hubspot_metrics.store import is_postgres_url
from hubspot_metrics.metrics.render import render_table


@cli.command()
# A plain path, not click.Path(file_okay=False): a file is refused in one sentence instead.
@click.option("--dir", "folder", default="hubspot-metrics-demo", show_default=True, type=click.Path(),
              help="Folder for the demo store (its demo files are replaced on every run).")
@click.option("--scale", default=5000, show_default=True, type=click.IntRange(50, 200_000),
              help="Contacts in the simulated portal.")
@click.option("--seed", default=1, show_default=True, help="Seed of the generated portal.")
@click.option("--db", "db", metavar="URL",
              help="A postgresql:// URL: put the demo store in PostgreSQL instead of demo.db in --dir.")
@click.option("--schema", default=DEFAULT_SCHEMA, show_default=True,
              help="With --db: the schema for the demo store (one an earlier demo made is replaced).")
@click.pass_context
def demo(ctx: click.Context, folder: str, scale: int, seed: int, db: str | None, schema: str) -> None:
    """See the whole product work: simulated portal → sync → KPIs (no token, no network)."""
    if db is None and is_postgres_url(ctx.obj.db_option):  # (`hubspot-metrics --db URL demo` too)
        db = ctx.obj.db_option
    outcome = app.demo(folder, scale=scale, seed=seed, db=db, schema=schema, progress=Progress.for_stderr(),
                       step=lambda text: click.echo(text, err=True), on_synced=_show_sync)
    click.echo("")
    click.echo(render_table(outcome.kpis))
    click.echo("")
    click.echo(f"CAC uses a demo spend of {app.DEMO_MONTHLY_SPEND:,.0f} a month ([spend] in the config).")
    click.echo(f"Report: {outcome.report_path.resolve()}")
    if outcome.schema is None:
        click.echo(f"Store: {outcome.store_path} (query it with sqlite3); took {outcome.seconds:.1f} s.")
        click.echo(f"Next: hubspot-metrics --db {outcome.store_path} kpis --period {outcome.last_month.label} --compare")
    else:
        click.echo(f"Store: {outcome.store_path}, schema {outcome.schema} (query it with psql or a BI tool); "
                   f"took {outcome.seconds:.1f} s.")
        click.echo(f"Next: hubspot-metrics --db '{outcome.store_path}' kpis --period {outcome.last_month.label} "
                   "--compare" + ("" if outcome.schema == DEFAULT_SCHEMA else f" (with [store] schema = \"{outcome.schema}\")"))


def _show_sync(outcome: app.SyncOutcome) -> None:
    show_warnings(outcome.warnings)
    click.echo(outcome.summary, err=True)
