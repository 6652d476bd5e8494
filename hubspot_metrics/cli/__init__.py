"""The command line: thin click commands that parse options, call `hubspot_metrics.app` and
render what it returns. Importing this package registers every command; nothing else in the
product imports it."""

from __future__ import annotations

import signal

from hubspot_metrics.cli import demo, explain, kpis, results, sync  # noqa: F401  (each registers its commands)
from hubspot_metrics.cli.root import CliSettings, cli
from hubspot_metrics.portal.cli import sandbox

cli.add_command(sandbox)  # the simulated portal's own command, served under the product's name

__all__ = ["CliSettings", "cli", "main"]


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt  # SIGTERM (a stopped service, a killed cron job) ends like Ctrl-C


def main() -> None:
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    cli(prog_name="hubspot-metrics")
