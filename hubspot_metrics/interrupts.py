"""How Ctrl-C and SIGTERM end the command: one line on stderr and exit 130, never a traceback.

Two phases. Before a command runs (the interpreter loading the CLI, click reading the
options) there is nothing to clean up, so a signal ends the process at once. While a command
runs, both signals raise KeyboardInterrupt instead, so that what is under way (the sync's run
log, its lock, a page fetcher's thread) is closed on the way out; the CLI root turns that
into its own one line.

This module imports only the C signal module and sys (no `signal`, `contextlib` or `typing`:
`import signal` alone builds enums for long enough to be hit), since `__main__` installs
the first phase before it imports anything else.
"""

from __future__ import annotations

import _signal
import sys

NOT_STARTED = "Interrupted before the command started; nothing was changed."


def _end_at_once(signum, frame) -> None:
    sys.stderr.write(NOT_STARTED + "\n")
    raise SystemExit(130)


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt  # SIGTERM (a stopped service, a killed cron job) ends like Ctrl-C


def before_command() -> None:
    _signal.signal(_signal.SIGINT, _end_at_once)
    _signal.signal(_signal.SIGTERM, _end_at_once)


class during_command:
    """The second phase, for as long as the command runs (`with during_command():`); the first
    one comes back after it.

    Only where the command line installed the first phase: a test's CliRunner or a program
    that embeds the CLI keeps its own handlers."""

    def __enter__(self) -> None:
        self.active = _signal.getsignal(_signal.SIGINT) is _end_at_once
        if self.active:
            _signal.signal(_signal.SIGINT, _signal.default_int_handler)
            _signal.signal(_signal.SIGTERM, _raise_interrupt)

    def __exit__(self, *exc) -> None:
        if self.active:
            before_command()
