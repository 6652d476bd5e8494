"""`python -m hubspot_metrics` and the `hubspot-metrics` command."""

# First, before the imports that take a moment (click, SQLite, the HubSpot SDK): Ctrl-C or
# SIGTERM from here on ends the command in one line, with exit 130 and no traceback.
from hubspot_metrics.interrupts import before_command

before_command()


def main() -> None:
    import sys

    from hubspot_metrics.demo_portal import start_early

    # `demo` serves its portal from a child process: started now, the child loads numpy and
    # generates the portal on another core while this process loads the command line.
    start_early(sys.argv[1:])
    from hubspot_metrics.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
