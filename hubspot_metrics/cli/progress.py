"""How a sync's progress looks on a terminal: a bar (or a running count) per object, or plain
lines when stderr is not a terminal. It listens to the sync (start, advance, finish); the sync
itself never writes to the screen."""

from __future__ import annotations

import sys
from typing import Callable

import click


class Progress:
    """A progress bar per object on a terminal; plain log lines otherwise (cron)."""

    REPORT_EVERY = 10_000  # records between two plain lines

    def __init__(self, echo: Callable[[str], None] | None = None, interactive: bool = False):
        self.echo = echo or (lambda line: None)
        self.interactive = interactive
        self._bar = None
        self._count = 0
        self._label = ""
        self._next_report = 0

    @classmethod
    def for_stderr(cls, lines: bool = True) -> "Progress":
        """On a terminal, always drawn; elsewhere, plain lines only when `lines` (cron mails
        whatever a job prints, and the nightly job should mail only its failures)."""
        interactive = sys.stderr.isatty()
        echo = (lambda line: click.echo(line, err=True)) if lines or interactive else None
        return cls(echo=echo, interactive=interactive)

    def start(self, label: str, total: int | None) -> None:
        self._label, self._count, self._next_report = label, 0, self.REPORT_EVERY
        if self.interactive and total:
            self._bar = click.progressbar(length=total, label=f"{label:<30}", show_pos=True, file=sys.stderr)
            self._bar.__enter__()
        elif self.interactive:
            self._write(f"\r{label:<30} …")
        else:
            self.echo(f"{label}: started" + (f" ({total} records in HubSpot)" if total is not None else ""))

    def advance(self, n: int) -> None:
        self._count += n
        if self._bar is not None:
            self._bar.update(n)
        elif self.interactive:
            self._write(f"\r{self._label:<30} {self._count:,}")
        elif self._count >= self._next_report:
            self.echo(f"{self._label}: {self._count} records")
            self._next_report += self.REPORT_EVERY

    def finish(self, summary: str) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None
        elif self.interactive:
            self._write(f"\r{self._label:<30} {summary}\n")
        else:
            self.echo(f"{self._label}: {summary}")

    @staticmethod
    def _write(text: str) -> None:
        sys.stderr.write(text)
        sys.stderr.flush()
