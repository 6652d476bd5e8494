"""The `sync`, `status` and `check` commands: HubSpot and the store's freshness."""

from __future__ import annotations

import click

from hubspot_metrics import app
from hubspot_metrics.cli.progress import Progress
from hubspot_metrics.cli.root import CliSettings, cli, parse_only, pass_settings, show_warnings
from hubspot_metrics.errors import AuthError


@cli.command()
@click.option("--full", is_flag=True, help="Re-read every record with the list endpoint instead of only the changes.")
@click.option("--only", metavar="OBJECT,...", help="Sync only these objects (contacts, companies, deals, tickets, feedback_submissions).")
@pass_settings
def sync(settings: CliSettings, full: bool, only: str | None) -> None:
    """Pull HubSpot data into the SQLite store (full the first time, incremental after)."""
    outcome = app.sync(settings.config, full=full, only=parse_only(only), progress=Progress.for_stderr())
    show_warnings(outcome.warnings)
    click.echo(outcome.summary)


@cli.command()
@click.option("--live/--no-live", default=None,
              help="Ask HubSpot for its record totals (default: when a token is configured).")
@pass_settings
def status(settings: CliSettings, live: bool | None) -> None:
    """Show the last sync runs, the cursors, completeness and warnings."""
    click.echo(app.status(settings.config, live=live))


@cli.command()
@pass_settings
def check(settings: CliSettings) -> None:
    """Validate the token and its scopes per object, and say which KPIs can be computed."""
    outcome = app.check(settings.config)
    click.echo(outcome.report)
    if not outcome.ok:
        raise AuthError("The token cannot read everything the KPIs need; add the scopes listed above to the private app.")
