"""Client-side rate limiting, so that a healthy sync never meets a 429.

HubSpot counts requests in a rolling 10-second window (and search requests per second).
A sliding-window limiter remembers the send times of the last `limit` requests and waits
until the oldest leaves the window before sending another.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable


class SlidingWindowLimiter:
    def __init__(self, limit: int, window_seconds: float, *, margin_seconds: float = 0.2,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.limit = max(1, int(limit))
        self.window = window_seconds
        # Our clock and HubSpot's disagree, and a request is counted when it arrives, not when
        # it leaves: a margin (2 % of a 10-second window) keeps us inside.
        self.margin = margin_seconds
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def lower_to(self, limit: int) -> None:
        """HubSpot told us (X-HubSpot-RateLimit-Max) that our share is smaller than configured."""
        with self._lock:
            self.limit = max(1, min(self.limit, int(limit)))

    def observe_remaining(self, remaining: int) -> None:
        """HubSpot said (X-HubSpot-RateLimit-Remaining) how much of its window is left.

        Requests we did not send count there too: an earlier run a moment ago, another app of
        the same account. When fewer than our own share is left, count the difference as sent
        now, so that we wait for them too: our room is then min(our share left, HubSpot's).
        """
        with self._lock:
            now = self._clock()
            self._expire(now)
            used_elsewhere = self.limit - max(0, int(remaining)) - len(self._sent)
            if used_elsewhere > 0:  # (the latest times so far: the window stays in order)
                self._sent.extend([now] * used_elsewhere)

    def seconds_until_free(self) -> float:
        """How long until the oldest request we know of leaves the window (0: room now)."""
        with self._lock:
            now = self._clock()
            self._expire(now)
            if len(self._sent) < self.limit:
                return 0.0
            return max(0.0, self._sent[0] + self.window + self.margin - now)

    def _expire(self, now: float) -> None:
        while self._sent and now - self._sent[0] >= self.window + self.margin - 1e-9:
            self._sent.popleft()

    def acquire(self) -> None:
        with self._lock:
            while True:
                now = self._clock()
                self._expire(now)
                if len(self._sent) < self.limit:
                    self._sent.append(now)
                    return
                wait = self._sent[0] + self.window + self.margin - now
                self._sleep(wait)
