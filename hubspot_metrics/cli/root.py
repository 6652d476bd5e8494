"""The root of the command line: the `hubspot-metrics` group, the settings every command
shares, and the one place where a user error becomes one sentence and an exit code.

Every command receives a `CliSettings` (click's `ctx.obj`) that loads the configuration once, with
the precedence option > environment > file > default. A `UserError` anywhere ends the
command with its one-sentence message and its exit code, never a traceback.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
import warnings
from dataclasses import dataclass, field

import click

from hubspot_metrics import __version__, postgres
from hubspot_metrics.config import Config, load_config
from hubspot_metrics.errors import ConfigError, UserError
from hubspot_metrics.interrupts import during_command
from hubspot_metrics.objects import OBJECTS


@dataclass
class CliSettings:
    config_option: str | None = None
    db_option: str | None = None
    verbose: int = 0
    _config: Config | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_option, self.db_option)
        return self._config


pass_settings = click.make_pass_decorator(CliSettings)


class Group(click.Group):
    """Turns user errors into one line on stderr and a non-zero exit."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # click cuts each description to one line and ends it with "..."; a newcomer picks the
        # command from this list, so each first sentence is shown whole (wrapped when narrow).
        rows = [(name, command.get_short_help_str(limit=1_000)) for name in self.list_commands(ctx)
                if (command := self.get_command(ctx, name)) is not None and not command.hidden]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context):
        with during_command():
            return self._invoke(ctx)

    def _invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except UserError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except sqlite3.Error as exc:  # e.g. disk full, or a store locked for longer than 30 s
            if "readonly" in str(exc):  # made read-only while the command ran
                click.echo("Error: the store became read-only during the run; make it writable by this user "
                           "(chmod u+w) and run again: what was committed is kept.", err=True)
                ctx.exit(2)
            click.echo(f"Error: the store failed ({exc}); check the disk and that no other program holds it, "
                       "then run again: what was committed is kept.", err=True)
            ctx.exit(2)
        except OSError as exc:
            click.echo(f"Error: {exc.strerror or exc} ({getattr(exc, 'filename', None) or 'system call'}); "
                       "fix that and run again.", err=True)
            ctx.exit(2)
        except Exception as exc:
            failure = postgres.driver_failure(exc)  # (a PostgreSQL store's driver error: one sentence too)
            if failure is None:
                raise
            click.echo(f"Error: {failure}", err=True)
            ctx.exit(failure.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted; what was committed is kept and the next run resumes from it.", err=True)
            ctx.exit(130)


def _setup_logging(verbose: int) -> None:
    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    # The SDK's urllib3 logs full URLs at DEBUG; they carry no token, but keep them quiet.
    logging.getLogger("urllib3").setLevel(logging.WARNING)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    click.echo(f"Warning: {message}", err=True)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 120})
@click.option("--config", "config_option", type=click.Path(),
              help="Config file (default: $HUBSPOT_METRICS_CONFIG, else ./hubspot-metrics.toml if present).")
@click.option("--db", "db_option", type=click.Path(),
              help="SQLite store path or postgresql:// URL (default: $HUBSPOT_METRICS_DB, else [store] path).")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(__version__, prog_name="hubspot-metrics")
@click.pass_context
def cli(ctx: click.Context, config_option: str | None, db_option: str | None, verbose: int) -> None:
    """Sync HubSpot CRM data into SQLite and compute the ten CRM KPIs from it."""
    _setup_logging(verbose)
    warnings.showwarning = _show_warning
    ctx.obj = CliSettings(config_option, db_option, verbose)


def parse_only(value: str | None) -> list[str] | None:
    if not value:
        return None
    names = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [n for n in names if n not in OBJECTS]
    if unknown:
        raise ConfigError(f"--only has unknown object {unknown[0]!r}; use any of {', '.join(OBJECTS)}.")
    return names




def show_warnings(warnings_: list[str]) -> None:
    for warning in warnings_:
        click.echo(f"Warning: {warning}", err=True)


def period_options(command):
    """--period, or --since with --until: the period options of every command that measures one."""
    options = [
        click.option("--period", "period_text", metavar="PERIOD",
                     help="2026-10 (month), 2026-Q3 (quarter), 2026 (year), or last_month, last_quarter, "
                          "month_to_date, year_to_date."),
        click.option("--since", metavar="DATE", help="First day of a custom range (YYYY-MM-DD), with --until."),
        click.option("--until", metavar="DATE", help="Day after the custom range (exclusive), with --since."),
    ]
    for option in reversed(options):
        command = option(command)
    return command
