"""`hubspot-metrics explain KEY`: the records behind one KPI, as a table, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json

import click

from hubspot_metrics import app
from hubspot_metrics.cli.root import CliSettings, cli, pass_settings, period_options
from hubspot_metrics.errors import ConfigError
from hubspot_metrics.files import check_output, write_file
from hubspot_metrics.metrics.catalog import LABELS
from hubspot_metrics.metrics.compute import BREAKDOWNS
from hubspot_metrics.metrics.render import _table, format_value
from hubspot_metrics.values import spreadsheet_safe


@cli.command()
@click.argument("key")
@period_options
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True,
              help="table for people, json or csv for machines (CSV cells are safe to open in a spreadsheet).")
@click.option("--out", type=click.Path(), help="Write to this file instead of the terminal.")
@click.option("--all", "include_all", is_flag=True,
              help="Add the records the rule considered and left out, each with a reason (the data to fix in HubSpot).")
@click.option("--owner", metavar="ID", help="Only the records of this owner (its HubSpot owner id).")
@click.option("--pipeline", metavar="ID", help="Only the deals or tickets of this pipeline (its id).")
@click.option("--source", metavar="VALUE", help="Only the customers of this original source (e.g. ORGANIC_SEARCH).")
@click.option("--by", type=click.Choice(BREAKDOWNS),
              help="The breakdown of the segment: --by owner --segment ID is --owner ID.")
@click.option("--segment", metavar="VALUE", help="With --by: the owner id, pipeline id or source value.")
@pass_settings
def explain(settings: CliSettings, key: str, period_text: str | None, since: str | None, until: str | None, fmt: str,
            out: str | None, include_all: bool, owner: str | None, pipeline: str | None, source: str | None,
            by: str | None, segment: str | None) -> None:
    """List the records behind one KPI (exactly its n), each with its role, value and dates, and a HubSpot link."""
    by, segment = _segment(by, segment, owner=owner, pipeline=pipeline, source=source)
    if out:
        check_output(out, settings.config.store_path, example=f"explain.{'txt' if fmt == 'table' else fmt}")
    outcome = app.explain(settings.config, key, period=period_text, since=since, until=until, by=by, segment=segment,
                          include_all=include_all)
    text = {"json": render_json, "csv": render_csv, "table": render_table}[fmt](outcome)
    if out:
        write_file(out, text)
        click.echo(f"wrote {out}: {len(outcome.rows):,} rows")
    else:
        click.echo(text, nl=fmt != "csv")


def _segment(by: str | None, segment: str | None, **shorthands: str | None) -> tuple[str | None, str | None]:
    """--owner ID is short for --by owner --segment ID; saying both, consistently, is fine too."""
    given = [(name, value) for name, value in shorthands.items() if value is not None]
    if len(given) > 1:
        raise ConfigError("Give one segment: --owner, --pipeline or --source.")
    if not given:
        return by, segment
    name, value = given[0]
    if (by or name) != name:
        raise ConfigError(f"--{name} {value} is not a {by}; give one segment, e.g. --{name} {value} alone.")
    if (segment or value) != value:
        raise ConfigError(f"--{name} {value} and --segment {segment} name two segments; give one.")
    return name, value


def render_json(outcome: app.ExplainOutcome) -> str:
    return json.dumps(outcome.as_dict(), indent=2, ensure_ascii=False)


def render_csv(outcome: app.ExplainOutcome) -> str:
    """One row per record; every text cell through spreadsheet_safe (labels come from HubSpot users)."""
    out = io.StringIO()
    # The csv module quotes a cell only for the characters of its line terminator: written with
    # "\r\n", a label holding a bare carriage return is quoted too; each row then ends in "\n".
    writer = csv.writer(out, lineterminator="\r\n")
    lines = []
    for cells in [outcome.columns, *([_csv_cell(row[c]) for c in outcome.columns] for row in outcome.rows)]:
        writer.writerow(cells)
        lines.append(out.getvalue()[:-2])
        out.seek(0)
        out.truncate()
    return "\n".join(lines) + "\n"


def _csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value)
    return spreadsheet_safe(str(value))


def render_table(outcome: app.ExplainOutcome) -> str:
    k = outcome.kpi
    segment = f", {outcome.by} {outcome.segment}" if outcome.by else ""
    span = f"{outcome.start[:16].replace('T', ' ')} to {outcome.end[:16].replace('T', ' ')}"
    if outcome.partial:
        span += f", partial: measured up to {outcome.as_of[:16].replace('T', ' ')}"
    lines = [f"{LABELS[outcome.key]} ({outcome.key}) for {outcome.period}{segment}: {span} "
             f"(time zone {outcome.timezone})",
             f"{format_value(k['value'], k['unit'], outcome.currency, k['reason'])}, n = {k['n']:,}"]
    if not outcome.rows:
        return "\n".join(lines + ["No records to list."])
    cells = [list(outcome.columns)] + [[_table_cell(row[c]) for c in outcome.columns] for row in outcome.rows]
    numeric = {"value", "share"}
    return "\n".join(lines + [""] + _table(cells, "".join(">" if c in numeric else "<" for c in outcome.columns)))


def _table_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.2f}"
    # one line per record: a label with a line break would break the table
    return " ".join(str(value).split())
