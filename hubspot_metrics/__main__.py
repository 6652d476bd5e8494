"""`python -m hubspot_metrics` and the `hubspot-metrics` command."""

# First, before the imports that take a moment (click, SQLite, the HubSpot SDK): Ctrl-C or
# SIGTERM from here on ends the command in one line, with exit 130 and no traceback.
from hubspot_metrics.interrupts import before_command

before_command()


def main() -> None:
    from hubspot_metrics.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
