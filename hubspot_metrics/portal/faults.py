"""Injected failures: what a sync meets on a bad day with HubSpot.

Per request, with probability `rate`, one enabled kind is drawn from a seeded generator in
arrival order, so a sequential client sees the same faults on every run:

- "5xx": a 500/502/503/504, with a HubSpot JSON body or a proxy's HTML page;
- "reset": the connection is reset (RST) without any response;
- "truncate": a valid Content-Length but only part of the body, then the connection closes;
- "slow": the answer comes `slow_seconds` late;
- "429": a spurious rate-limit response: SECONDLY on a search, TEN_SECONDLY_ROLLING elsewhere;
- "hollow": a 200 that carries no answer (an empty body, {}, null or []), or a 204;

and the ones no retry cures, which a run must end on clearly:

- "drip": the real answer, one byte every `drip_seconds`;
- "oversized": a 200 of `oversize_bytes`, announced by Content-Length or chunked without end;
- "oversized_error": the same size and framing, as a 502 (a proxy's error page gone wrong);
- "html403": a firewall's HTML "access denied" page with status 403.

Three kinds are not drawn per request. While "index_lag" is enabled, every search misses the
records modified in the last `index_lag_seconds` of the portal clock, like HubSpot's
eventually consistent index (which also lags behind on older edits, see `search.py`). While
"stuck_paging" is enabled, a page asked for with a cursor names that same cursor as the next.
While "no_date" is enabled, answers carry no Date header.

`plan` aims one kind at chosen requests instead: the next `times` requests to a path, after
`skip` of them, e.g. the second page of a list. One kind is only planned: "hold" keeps its
request waiting until `release()` (or a minute), so a test can act while a sync is mid-run.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

RECOVERABLE = frozenset({"5xx", "reset", "truncate", "slow", "429", "hollow", "index_lag"})
KINDS = RECOVERABLE | {"drip", "oversized", "oversized_error", "html403", "stuck_paging", "no_date", "hold"}
HOLD_SECONDS = 60
MODES = frozenset({"index_lag", "stuck_paging", "no_date"})  # not drawn per request
HOLLOW_BODIES = (b"", b"{}", b"null", b"[]", None)  # None: a 204


@dataclass(frozen=True)
class Fault:
    kind: str
    variant: float  # a second draw, e.g. which 5xx status to send
    body: bytes | None = None  # a planned answer's own body (hollow)


@dataclass
class _Plan:
    fault: Fault
    path: str
    skip: int
    times: int


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.clear()

    def configure(self, rate: float = 0.15, kinds: set[str] | frozenset[str] | None = None, seed: int = 0,
                  slow_seconds: float = 0.5, index_lag_seconds: float = 30, drip_seconds: float = 0.5,
                  oversize_bytes: int = 215 * 2**20) -> None:
        kinds = set(RECOVERABLE if kinds is None else kinds)
        unknown = kinds - KINDS
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; choose from {sorted(KINDS)}")
        if not 0 <= rate <= 1:
            raise ValueError("rate must be between 0 and 1")
        with self._lock:
            self.rate = rate
            self.kinds = frozenset(kinds)
            self.slow_seconds = slow_seconds
            self.index_lag_seconds = index_lag_seconds
            self.drip_seconds = drip_seconds
            self.oversize_bytes = oversize_bytes
            self._rng = random.Random(seed)
            self._per_request = sorted(kinds - MODES)

    def plan(self, kind: str, path: str, *, times: int = 1, skip: int = 0, variant: float = 0.0,
             body: bytes | None = None) -> None:
        if kind not in KINDS - MODES:
            raise ValueError(f"cannot plan {kind!r}; choose from {sorted(KINDS - MODES)}")
        with self._lock:
            self._plans.append(_Plan(Fault(kind, variant, body), path.rstrip("/"), skip, times))

    def hold(self) -> None:
        self.holding.set()
        self.released.wait(HOLD_SECONDS)

    def release(self) -> None:
        self.released.set()

    def clear(self) -> None:
        self.holding, self.released = threading.Event(), threading.Event()
        with self._lock:
            self._plans: list[_Plan] = []
            self.rate = 0.0
            self.kinds = frozenset()
            self.slow_seconds = 0.0
            self.index_lag_seconds = 0.0
            self.drip_seconds = 0.0
            self.oversize_bytes = 0
            self._rng = random.Random(0)
            self._per_request = []

    @property
    def index_lag_ms(self) -> int:
        return int(self.index_lag_seconds * 1000) if "index_lag" in self.kinds else 0

    @property
    def stuck_paging(self) -> bool:
        return "stuck_paging" in self.kinds

    @property
    def no_date(self) -> bool:
        return "no_date" in self.kinds

    def draw(self, path: str = "") -> Fault | None:
        with self._lock:
            for plan in self._plans:
                if plan.path == path.rstrip("/") and plan.times > 0:
                    if plan.skip > 0:
                        plan.skip -= 1
                        return None
                    plan.times -= 1
                    return plan.fault
            if not self._per_request or self.rate <= 0:
                return None
            if self._rng.random() >= self.rate:
                return None
            return Fault(self._rng.choice(self._per_request), self._rng.random())
