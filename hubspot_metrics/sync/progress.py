"""How the sync tells someone how far it got: a listener it calls, silent unless given one."""

from __future__ import annotations

from typing import Protocol


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
