"""The command line: thin click commands that parse options, call `hubspot_metrics.app` and
render what it returns. Importing this package registers every command; nothing else in the
product imports it."""

from __future__ import annotations

from hubspot_metrics.cli import demo, explain, kpis, results, sync  # noqa: F401  (each registers its commands)
from hubspot_metrics.cli.root import CliSettings, cli
from hubspot_metrics.interrupts import before_command
from hubspot_metrics.portal.cli import sandbox

cli.add_command(sandbox)  # the simulated portal's own command, served under the product's name

__all__ = ["CliSettings", "cli", "main"]


def main() -> None:
    before_command()  # (already done by `__main__`; here too for a program that calls this main)
    cli(prog_name="hubspot-metrics")
