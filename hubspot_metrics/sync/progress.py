"""How the sync tells someone how far it got: a listener it calls, silent unless given one."""

from __future__ import annotations

import sys
from typing import Callable, Protocol


class ProgressListener(Protocol):
    """What the sync calls while it works; the CLI passes one that draws on the terminal."""

    def start(self, label: str, total: int | None) -> None: ...

    def advance(self, n: int) -> None: ...

    def finish(self, summary: str) -> None: ...


class SilentProgress:
    """The default listener: a sync run from code (tests, the nightly job) shows nothing."""

    def start(self, label: str, total: int | None) -> None:
        pass

    def advance(self, n: int) -> None:
        pass

    def finish(self, summary: str) -> None:
        pass


# Transitional: the terminal display belongs to the CLI (cli/progress.py on the app/cli
# branch). It stays here only until that branch lands, so that today's cli.py keeps working;
# delete it then.
class Progress:
    """A progress bar per object on a terminal; plain log lines otherwise (cron)."""

    def __init__(self, echo: Callable[[str], None] | None = None, interactive: bool = False):
        self.echo = echo or (lambda line: None)
        self.interactive = interactive
        self._bar = None
        self._count = 0
        self._label = ""
        self._next_report = 0

    def start(self, label: str, total: int | None) -> None:
        self._label, self._count, self._next_report = label, 0, 10_000
        if self.interactive and total:
            import click

            self._bar = click.progressbar(length=total, label=f"{label:<30}", show_pos=True, file=sys.stderr)
            self._bar.__enter__()
        elif self.interactive:
            self._write(f"\r{label:<30} …")
        else:
            self.echo(f"{label}: started" + (f" ({total} records in HubSpot)" if total is not None else ""))

    def _write(self, text: str) -> None:
        sys.stderr.write(text)
        sys.stderr.flush()

    def advance(self, n: int) -> None:
        self._count += n
        if self._bar is not None:
            self._bar.update(n)
        elif self.interactive:
            self._write(f"\r{self._label:<30} {self._count:,}")
        elif self._count >= self._next_report:
            self.echo(f"{self._label}: {self._count} records")
            self._next_report += 10_000

    def finish(self, summary: str) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None
            return
        if self.interactive:
            self._write(f"\r{self._label:<30} {summary}\n")
        else:
            self.echo(f"{self._label}: {summary}")

