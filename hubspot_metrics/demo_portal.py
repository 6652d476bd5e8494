"""The demo's simulated portal, run as a child process (`hubspot_metrics/portal/child.py`).

Served from a thread of the demo's own process, the portal took turns with the sync for one
interpreter lock on one core. In a child, importing numpy, generating the portal and serving
run on another core, and the demo never imports the portal: the child tells it the address,
the token and the portal's clock, one JSON line each way (the exchange is described in
`portal/child.py`).

The child lives exactly as long as the pipe to its stdin: closing it (`stop`), or the demo's
process ending in any way, ends the child too.
"""

from __future__ import annotations

import atexit
import json
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from hubspot_metrics.errors import HubSpotError

CHILD_MODULE = "hubspot_metrics.portal.child"


@dataclass(frozen=True)
class ServedPortal:
    url: str
    token: str
    now: datetime  # the portal's clock: "last month" is read from it, as the portal's data was made


class DemoPortal:
    """One child process serving one portal; a context manager that stops it on the way out."""

    def __init__(self) -> None:
        self._stderr = tempfile.TemporaryFile()  # read only to explain a failed start
        self._stopping = False
        self._ended = threading.Event()
        self._watch: threading.Thread | None = None
        try:
            self._process = subprocess.Popen([sys.executable, "-m", CHILD_MODULE], stdin=subprocess.PIPE,
                                             stdout=subprocess.PIPE, stderr=self._stderr)
        except OSError as exc:
            self._stderr.close()
            raise HubSpotError(f"The demo's simulated portal did not start ({exc.strerror or exc}); "
                               "fix that and run the demo again.") from None

    @property
    def pid(self) -> int:
        return self._process.pid

    def serve(self, *, scale: int, seed: int, requests_per_10s: int) -> ServedPortal:
        """Have the child generate its portal and listen; wait until it does."""
        order = json.dumps({"scale": scale, "seed": seed, "requests_per_10s": requests_per_10s})
        try:
            self._process.stdin.write(order.encode() + b"\n")
            self._process.stdin.flush()
        except BrokenPipeError:
            pass  # it ended already: its answer (or its silence) below says why
        answer = _json_object(self._process.stdout.readline())
        try:
            return ServedPortal(answer["url"], answer["token"], datetime.fromisoformat(answer["now"]))
        except (KeyError, TypeError, ValueError):
            reason = answer.get("error") or self._how_it_ended()
            raise HubSpotError(f"The demo's simulated portal did not start ({reason}); "
                               "fix that and run the demo again.") from None

    def when_it_ends(self, callback: Callable[[], None]) -> None:
        """Call `callback` (from another thread) if the child ends before `stop`: a sync waiting
        on a dead portal would otherwise retry for a minute before it gave up."""
        def watch() -> None:
            self._process.stdout.read()  # the child writes nothing more: this returns when it exits
            if not self._stopping:
                self._ended.set()
                callback()

        self._watch = threading.Thread(target=watch, name="demo-portal-watch", daemon=True)
        self._watch.start()

    def check_alive(self, during: str) -> None:
        """One sentence if the child has ended: the real cause of whatever failed `during` it."""
        if self._ended.is_set() or self._process.poll() is not None:
            raise HubSpotError(f"The demo's simulated portal stopped {during} ({self._how_it_ended()}); "
                               "run the demo again.")

    def stop(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        try:
            self._process.stdin.close()  # the child's signal to exit
        except OSError:
            pass
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._watch is not None:  # (its read has met the end of the pipe: closing under it would fail)
            self._watch.join(timeout=5)
        self._process.stdout.close()
        self._stderr.close()

    def __enter__(self) -> "DemoPortal":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _how_it_ended(self) -> str:
        try:
            code = self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return "it did not answer"
        if code < 0:
            return f"it was killed by signal {-code}"
        self._stderr.seek(0)
        last = [line for line in self._stderr.read().decode(errors="replace").splitlines() if line.strip()][-1:]
        return f"it exited with code {code}" + (f": {last[0].strip()}" if last else "")


def _json_object(line: bytes) -> dict:
    try:
        answer = json.loads(line)
    except ValueError:  # (nothing at all when the child died first)
        return {}
    return answer if isinstance(answer, dict) else {}


# --- a head start --------------------------------------------------------------------------

_early: DemoPortal | None = None


def start_early(argv: list[str]) -> None:
    """Start the child before the command line loads, when `argv` looks like a demo: its
    imports and the CLI's then run side by side. A wrong guess costs an idle child that ends
    with this process."""
    global _early
    if "demo" not in argv or {"-h", "--help", "--version"} & set(argv):
        return
    try:
        _early = DemoPortal()
    except HubSpotError:
        return  # the demo tries again and says why
    atexit.register(_early.stop)


def portal_process() -> DemoPortal:
    """The child started early for this demo if there is one, else a new one."""
    global _early
    portal, _early = _early, None
    return portal or DemoPortal()
