"""Injected failures: what a sync meets on a bad day with HubSpot.

Per request, with probability `rate`, one enabled kind is drawn from a seeded generator in
arrival order, so a sequential client sees the same faults on every run:

- "5xx": a 500/502/503/504, with a HubSpot JSON body or a proxy's HTML page;
- "reset": the connection is reset (RST) without any response;
- "truncate": a valid Content-Length but only part of the body, then the connection closes;
- "slow": the answer comes `slow_seconds` late;
- "429": a spurious TEN_SECONDLY_ROLLING rate-limit response.

"index_lag" is not drawn per request: while enabled, every search misses the records modified
in the last `index_lag_seconds` of the portal clock, like HubSpot's eventually consistent index.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

KINDS = frozenset({"5xx", "reset", "truncate", "slow", "429", "index_lag"})


@dataclass(frozen=True)
class Fault:
    kind: str
    variant: float  # a second draw, e.g. which 5xx status to send


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.clear()

    def configure(self, rate: float = 0.15, kinds: set[str] | frozenset[str] | None = None, seed: int = 0,
                  slow_seconds: float = 0.5, index_lag_seconds: float = 30) -> None:
        kinds = set(KINDS if kinds is None else kinds)
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
            self._rng = random.Random(seed)
            self._per_request = sorted(kinds - {"index_lag"})

    def clear(self) -> None:
        with self._lock:
            self.rate = 0.0
            self.kinds = frozenset()
            self.slow_seconds = 0.0
            self.index_lag_seconds = 0.0
            self._rng = random.Random(0)
            self._per_request = []

    @property
    def index_lag_ms(self) -> int:
        return int(self.index_lag_seconds * 1000) if "index_lag" in self.kinds else 0

    def draw(self) -> Fault | None:
        with self._lock:
            if not self._per_request or self.rate <= 0:
                return None
            if self._rng.random() >= self.rate:
                return None
            return Fault(self._rng.choice(self._per_request), self._rng.random())
