"""The wire under the SDK: a deadline for each whole request and a cap on each answer's size.

urllib3 applies its timeout to every socket read, so an answer that trickles in one byte at a
time never times out, and it reads a body of any size into memory. Each request here gets a
watchdog that shuts its socket down when `timeout_seconds` have passed since it was sent, and
its body is read in chunks up to a fixed size. An error answer (4xx/5xx) is one the SDK reads
itself, whole, to build its exception: the pool reads that body first, under the same cap.
"""

from __future__ import annotations

import heapq
import itertools
import socket
import threading
import time
from typing import Any

from urllib3 import HTTPConnectionPool, HTTPResponse, HTTPSConnectionPool

MAX_RESPONSE_BYTES = 64 * 1024 * 1024  # a HubSpot page of 200 wide records is a few MB
READ_CHUNK = 1 << 16

_in_flight = threading.local()  # the Deadline and SizeCap of the request this thread is sending


class ResponseTooLarge(Exception):
    pass


class Deadline:
    """Ends one request by shutting down its socket once `seconds` have passed."""

    def __init__(self, seconds: float):
        self.expired = False
        self.finished = False
        self._seconds = seconds
        self._conn: Any = None
        self._lock = threading.Lock()

    def __enter__(self) -> "Deadline":
        _in_flight.deadline = self
        _WATCHDOG.add(time.monotonic() + self._seconds, self)
        return self

    def __exit__(self, *exc) -> None:
        with self._lock:
            self.finished = True
        _in_flight.deadline = None

    def watch(self, conn: Any) -> None:
        with self._lock:
            self._conn = conn
            if self.expired:
                self._shutdown()

    def expire(self) -> None:
        with self._lock:
            if self.finished:
                return
            self.expired = True
            self._shutdown()

    def _shutdown(self) -> None:
        sock = getattr(self._conn, "sock", None)
        if sock is not None:
            try:  # (the plain socket's shutdown: TLS state is not touched from this thread)
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass


class SizeCap:
    """The most bytes an error answer's body may have while this request is sent (a success
    answer's body is read by `read_capped`, which is given its limit)."""

    def __init__(self, limit: int):
        self.limit = limit

    def __enter__(self) -> "SizeCap":
        _in_flight.size_cap = self.limit
        return self

    def __exit__(self, *exc) -> None:
        _in_flight.size_cap = None


class _Watchdog:
    """One thread watches every request's deadline. (A timer thread per request made each
    request wait until its new thread had been scheduled once: on a busy machine that added
    milliseconds to every page, a quarter of a sync's wall time.)"""

    def __init__(self):
        self._wake = threading.Condition()
        self._due: list[tuple[float, int, Deadline]] = []  # a heap by time
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, when: float, deadline: Deadline) -> None:
        entry = (when, next(self._order), deadline)
        with self._wake:
            heapq.heappush(self._due, entry)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="request-deadlines", daemon=True)
                self._thread.start()
            elif self._due[0] is entry:
                # Only a deadline sooner than every other one changes the watcher's sleep; waking
                # it for each request would take the GIL from the request every time.
                self._wake.notify()

    def _next_expired(self) -> Deadline:
        with self._wake:
            while True:
                while self._due and self._due[0][2].finished:
                    heapq.heappop(self._due)
                if not self._due:
                    self._wake.wait()
                    continue
                left = self._due[0][0] - time.monotonic()
                if left > 0:
                    self._wake.wait(min(left, 3600.0))
                    continue
                return heapq.heappop(self._due)[2]

    def _run(self) -> None:
        while True:
            self._next_expired().expire()  # (outside the heap's lock: expiring takes the request's)


_WATCHDOG = _Watchdog()


def _watched(pool_class: type) -> type:
    class WatchedPool(pool_class):
        def _get_conn(self, timeout=None):
            conn = super()._get_conn(timeout)
            deadline = getattr(_in_flight, "deadline", None)
            if deadline is not None:
                deadline.watch(conn)
            return conn

        def urlopen(self, method, url, *args, **kwargs):
            response = super().urlopen(method, url, *args, **kwargs)
            limit = getattr(_in_flight, "size_cap", None)
            if limit is None or 200 <= response.status <= 299 or kwargs.get("preload_content", True):
                return response
            # The SDK would read this body through `.data`, with no limit: hand it one read here.
            body = read_capped(response, limit)
            return HTTPResponse(body=body, headers=response.headers, status=response.status,
                                reason=response.reason, request_method=method, request_url=url,
                                preload_content=False)

    WatchedPool.__name__ = f"Watched{pool_class.__name__}"
    return WatchedPool


_WATCHED_POOLS = {"http": _watched(HTTPConnectionPool), "https": _watched(HTTPSConnectionPool)}


def watch_pools(api_client: Any) -> None:
    """Let `Deadline` reach the connections of an SDK ApiClient (pools are made on first use)."""
    api_client.rest_client.pool_manager.pool_classes_by_scheme = dict(_WATCHED_POOLS)


def read_capped(response: Any, limit: int) -> bytes:
    """The whole body, or ResponseTooLarge as soon as it passes `limit` bytes."""
    length = response.headers.get("Content-Length")
    if isinstance(length, str) and length.isdigit() and int(length) > limit:
        _abandon(response)
        raise ResponseTooLarge(int(length))
    parts, size = [], 0
    for chunk in response.stream(READ_CHUNK):
        size += len(chunk)
        if size > limit:
            _abandon(response)
            raise ResponseTooLarge(size)
        parts.append(chunk)
    response.release_conn()
    return b"".join(parts)


def _abandon(response: Any) -> None:
    # The rest of the body is never read: the connection cannot be reused.
    response.close()
    response.release_conn()
