"""`python -m hubspot_metrics` and the `hubspot-metrics` command."""

import signal


def _quiet_exit(signum, frame):
    raise SystemExit(130)


def main() -> None:
    # Loading the CLI takes a moment; Ctrl-C or SIGTERM in it has nothing to clean up and
    # ends the command without a traceback. `cli.main` then installs the handlers of a run.
    signal.signal(signal.SIGINT, _quiet_exit)
    signal.signal(signal.SIGTERM, _quiet_exit)
    from hubspot_metrics.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
