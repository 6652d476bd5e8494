"""The portal over real sockets: authentication, scopes, HubSpot's rate limits and headers,
injected faults and a request log, in front of the endpoints of `api.py`.

ThreadingHTTPServer with HTTP/1.1 keep-alive; each response is written in one send so that
Nagle's algorithm and delayed ACKs never add latency.
"""

from __future__ import annotations

import json
import secrets
import socket
import sys
import struct
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from .api import Api, ApiError, Call, error, match, missing_scopes, required_scopes, resolve_type
from .faults import HOLLOW_BODIES, Fault, Faults
from .formats import fmt_datetime, http_date
from .store import Portal

TEN_SECONDS = 10.0
UNLIMITED_BURST = 1_000_000      # header value reported when no burst limit is simulated
DEFAULT_DAILY = 1_000_000        # Enterprise private-app daily limit, reported when none is simulated
_REASONS = {200: "OK", 204: "No Content", 207: "Multi-Status", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
            404: "Not Found", 405: "Method Not Allowed", 429: "Too Many Requests", 500: "Internal Server Error",
            502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    query: dict[str, list[str]]
    body: dict | None
    status: int                 # 0 when the connection was reset without a response
    ts: float
    fault: str | None = None    # the injected fault, if any


class _Window:
    """Requests in a rolling window of wall-clock time."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.times: deque[float] = deque()

    def count(self, now: float) -> int:
        times, edge = self.times, now - self.seconds
        while times and times[0] <= edge:
            times.popleft()
        return len(times)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hubspot-metrics-portal"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # A page fits in the send buffer: the write returns at once instead of waiting for the
        # client to read (which, in the same process, waits for the GIL this thread holds).
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 21)
        self.server.owner._connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.owner._connections.discard(self.connection)

    def do_GET(self) -> None:
        self.server.owner._serve(self)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address) -> None:
        # A client that hangs up mid-answer (or a reset we injected ourselves) is routine for
        # a server: no traceback on the sandbox's terminal.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class PortalServer:
    def __init__(self, portal: Portal, token: str = "pat-na1-sandbox-not-a-real-token", *,
                 requests_per_10s: int | None = 190, search_per_second: int | None = 5,
                 daily_limit: int | None = None, scopes: set[str] | None = None, port: int = 0,
                 feedback_enabled: bool = True, oauth_clients: dict[str, tuple[str, str]] | None = None,
                 oauth_expires_in: int = 1800, host: str = "127.0.0.1"):
        self.portal = portal
        self.token = token
        self.requests_per_10s = requests_per_10s
        self.search_per_second = search_per_second
        self.daily_limit = daily_limit
        self.scopes = None if scopes is None else frozenset(scopes)
        self.feedback_enabled = feedback_enabled
        self.oauth_clients = dict(oauth_clients or {})
        self.oauth_expires_in = oauth_expires_in
        self.faults = Faults()
        self.api = Api(portal, feedback_enabled=feedback_enabled)
        self._host, self._port = host, port
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._log: list[RequestRecord] = []
        self._log_lock = threading.Lock()
        self._limit_lock = threading.Lock()
        self._burst = _Window(TEN_SECONDS)
        self._second = _Window(1.0)
        self._search = _Window(1.0)
        self.daily_used = 0
        self._oauth_tokens: dict[str, float] = {}   # access token -> expiry (time.monotonic)
        self._app_id = 1_000_000 + portal.portal_id % 1_000_000
        # Endpoints of the sandbox's own, beside HubSpot's API: (method, path) -> handler(query, body)
        # returning (status, payload); they need the portal's token like any other call.
        self.admin_routes: dict[tuple[str, str], Callable[[dict, Any], tuple[int, Any]]] = {}

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> "PortalServer":
        if self._httpd is not None:
            return self
        self._httpd = _HTTPServer((self._host, self._port), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="portal-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        for conn in list(self._connections):  # keep-alive connections would keep serving otherwise
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "PortalServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the portal server is not running; call start() first")
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    # --- request log -----------------------------------------------------------------------

    @property
    def request_log(self) -> list[RequestRecord]:
        with self._log_lock:
            return list(self._log)

    def reset_log(self) -> None:
        with self._log_lock:
            self._log.clear()

    def _record(self, method: str, path: str, query: dict, body: Any, status: int, fault: str | None) -> None:
        record = RequestRecord(method, path, query, body if isinstance(body, dict) else None, status, time.time(),
                               fault)
        with self._log_lock:
            self._log.append(record)

    # --- one request -------------------------------------------------------------------------

    def _serve(self, h: _Handler) -> None:
        split = urlsplit(h.path)
        path, query = split.path, parse_qs(split.query, keep_blank_values=True)
        raw = _read_body(h)
        body = _parse_body(raw, h.headers.get("Content-Type", ""))
        fault = self.faults.draw(path)
        search = path.rstrip("/").endswith("/search")
        if fault is not None and fault.kind == "hold":
            self.faults.hold()
            fault = None
        # Each request is logged before its response leaves, so a client that has its answer
        # always finds the request in the log.
        if fault is not None and fault.kind not in ("slow", "truncate", "drip"):
            self._record(h.command, path, query, body, 0 if fault.kind == "reset" else self._fault_status(fault),
                         fault.kind)
            self._inject(h, fault, search)
            return
        if fault is not None and fault.kind == "slow":
            time.sleep(self.faults.slow_seconds)
        status, payload, headers = self._respond(h, path, query, body)
        if self.faults.stuck_paging and status == 200:
            _repeat_cursors(payload, query, body)
        data = payload if isinstance(payload, bytes) else json.dumps(
            payload, separators=(",", ":"), check_circular=False).encode()
        self._record(h.command, path, query, body, status, fault.kind if fault else None)
        if fault is not None and fault.kind == "drip":
            self._drip(h, status, data, headers)
            return
        self._send(h, status, data, headers, truncate=fault is not None and fault.kind == "truncate")

    def _respond(self, h: _Handler, path: str, query: dict, body: Any) -> tuple[int, Any, dict[str, str]]:
        if path.rstrip("/") == "/oauth/v1/token" and h.command == "POST":
            return self._oauth(body)
        oauth, denied = self._authenticate(h.headers.get("Authorization", ""))
        if denied is not None:
            return 401, denied, {}
        admin = self.admin_routes.get((h.command, path.rstrip("/")))
        if admin is not None:
            status, payload = admin(query, body)
            return status, payload, {}
        try:
            found = match(h.command, path)
        except ApiError as exc:
            found, early = None, exc
        else:
            early = None
        search = bool(found and found[0].search)
        limited = self._limits(search, oauth)
        if isinstance(limited, ApiError):
            return limited.status, limited.body, limited.headers
        headers = limited
        if early is not None:
            return early.status, early.body, headers
        if found is None:
            return 404, error("OBJECT_NOT_FOUND", f"Resource not found: {h.command} {path}"), headers
        route, params = found
        base_url = f"http://{h.headers.get('Host') or f'{self._host}:{self.port}'}"
        call = Call(h.command, path, query, body, base_url,
                    {"index_lag_ms": self.faults.index_lag_ms, "daily_used": self.daily_used,
                     "daily_limit": self.daily_limit if self.daily_limit is not None else DEFAULT_DAILY})
        try:
            self._check_scopes(route, params)
            status, payload = self.api.handle(route, params, call)
        except ApiError as exc:
            return exc.status, exc.body, headers
        return status, payload, headers

    # --- auth and scopes -------------------------------------------------------------------

    def _authenticate(self, header: str) -> tuple[bool, dict | None]:
        """(is an OAuth token, 401 body or None)."""
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token:
            if token == self.token:
                return False, None
            expires = self._oauth_tokens.get(token)
            if expires is not None:
                left = expires - time.monotonic()
                if left > 0:
                    return True, None
                ago = max(1, int(-left))
                return True, error("EXPIRED_AUTHENTICATION",
                                   f"The OAuth token used to make this call expired {ago} second(s) ago.",
                                   context={"expire time": [fmt_datetime(int((time.time() + left) * 1000))]})
        return False, error("INVALID_AUTHENTICATION",
                            "Authentication credentials not found. This API supports OAuth 2.0 authentication and "
                            "you can find more details at https://developers.hubspot.com/docs/methods/auth/"
                            "oauth-overview")

    def _check_scopes(self, route, params: dict[str, str]) -> None:
        groups = required_scopes(route, params)
        if not self.feedback_enabled and any(
                resolve_type(params[k]) == "feedback_submissions" for k in ("type", "to") if k in params):
            # Without Service Hub Professional the feedback scope cannot be granted: HubSpot answers
            # as for any scope the app lacks.
            raise missing_scopes([["crm.objects.feedback_submissions.read"]])
        if self.scopes is None:
            return
        missing = [g for g in groups if not self.scopes.intersection(g)]
        if missing:
            raise missing_scopes(missing)

    def _oauth(self, form: Any) -> tuple[int, dict, dict]:
        form = form if isinstance(form, dict) else {}

        def bad(status: str, message: str) -> tuple[int, dict, dict]:
            return 400, {"status": status, "message": message, "correlationId": str(uuid.uuid4())}, {}

        if form.get("grant_type") != "refresh_token":
            return bad("BAD_GRANT_TYPE", "grant_type must be refresh_token in this simulated portal")
        client = self.oauth_clients.get(form.get("client_id", ""))
        if client is None:
            return bad("BAD_CLIENT_ID", "missing or unknown client id")
        secret, refresh = client
        if form.get("client_secret") != secret:
            return bad("BAD_CLIENT_SECRET", "missing or invalid client secret")
        if form.get("refresh_token") != refresh:
            return bad("BAD_REFRESH_TOKEN", "missing or unknown refresh token")
        token = "CO" + secrets.token_urlsafe(96)
        self._oauth_tokens[token] = time.monotonic() + self.oauth_expires_in
        return 200, {"token_type": "bearer", "refresh_token": refresh, "access_token": token,
                     "expires_in": self.oauth_expires_in, "hub_id": self.portal.portal_id,
                     "scopes": sorted(self.scopes) if self.scopes is not None else ["oauth"]}, {}

    # --- limits ----------------------------------------------------------------------------

    def _limits(self, search: bool, oauth: bool) -> dict[str, str] | ApiError:
        """Count the request against the limits: headers to send, or the 429 to answer with."""
        now = time.monotonic()
        with self._limit_lock:
            if self.daily_limit is not None and self.daily_used >= self.daily_limit:
                return ApiError(429, self._rate_body("DAILY", "You have reached your daily limit.",
                                                     "private_app-api-calls-daily"))
            if search:
                if self.search_per_second is not None and self._search.count(now) >= self.search_per_second:
                    return ApiError(429, {"status": "error", "message": "You have reached your secondly limit.",
                                          "errorType": "RATE_LIMIT", "correlationId": str(uuid.uuid4()),
                                          "policyName": "SECONDLY"})
                self._search.times.append(now)
                self.daily_used += 1
                return {}  # search responses carry no X-HubSpot-RateLimit-* headers
            burst = self.requests_per_10s if self.requests_per_10s is not None else UNLIMITED_BURST
            used = self._burst.count(now)
            if self.requests_per_10s is not None and used >= burst:
                return ApiError(429, self._rate_body("TEN_SECONDLY_ROLLING",
                                                     "You have reached your ten_secondly_rolling limit.",
                                                     "private_app-api-calls-ten-secondly"),
                                self._rate_headers(burst, 0, oauth))
            self._burst.times.append(now)
            self._second.times.append(now)
            self.daily_used += 1
            return self._rate_headers(burst, burst - used - 1, oauth)

    def _rate_headers(self, burst: int, remaining: int, oauth: bool) -> dict[str, str]:
        secondly = max(1, burst // 10)
        headers = {"X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
                   "X-HubSpot-RateLimit-Max": str(burst), "X-HubSpot-RateLimit-Remaining": str(max(0, remaining)),
                   "X-HubSpot-RateLimit-Secondly": str(secondly),
                   "X-HubSpot-RateLimit-Secondly-Remaining": str(max(0, secondly - self._second.count(
                       time.monotonic())))}
        if not oauth:  # OAuth apps get no daily headers
            daily = self.daily_limit if self.daily_limit is not None else DEFAULT_DAILY
            headers["X-HubSpot-RateLimit-Daily"] = str(daily)
            headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(max(0, daily - self.daily_used))
        return headers

    def _rate_body(self, policy: str, message: str, group: str) -> dict:
        return {"status": "error", "message": message, "errorType": "RATE_LIMIT",
                "correlationId": str(uuid.uuid4()), "policyName": policy,
                "groupName": f"publicapi:{group}:{self._app_id}:{self.portal.portal_id}",
                "requestId": str(uuid.uuid4())}

    # --- faults and the wire ---------------------------------------------------------------

    @staticmethod
    def _fault_status(fault: Fault) -> int:
        if fault.kind == "429":
            return 429
        if fault.kind == "hollow":
            return 200 if fault.body is not None or HOLLOW_BODIES[_pick(fault, HOLLOW_BODIES)] is not None else 204
        if fault.kind == "oversized":
            return 200
        if fault.kind == "oversized_error":
            return 502
        if fault.kind == "html403":
            return 403
        return (500, 502, 503, 504)[min(3, int(fault.variant * 4))]

    def _inject(self, h: _Handler, fault: Fault, search: bool) -> None:
        if fault.kind == "hollow":
            data = fault.body if fault.body is not None else HOLLOW_BODIES[_pick(fault, HOLLOW_BODIES)]
            self._send(h, 200 if data is not None else 204, data or b"", {})
            return
        if fault.kind in ("oversized", "oversized_error"):
            self._oversized(h, self._fault_status(fault), chunked=fault.variant >= 0.5)
            return
        if fault.kind == "html403":
            page = ("<!DOCTYPE html>\r\n<html><head><title>Access denied</title></head><body><h1>Access denied</h1>"
                    "<p>You do not have access to this page. Ray ID: 7d1e3b2c</p></body></html>\r\n")
            self._send(h, 403, page.encode(), {}, content_type="text/html")
            return
        if fault.kind == "429" and search:  # HubSpot's search limit is per second
            body = {"status": "error", "message": "You have reached your secondly limit.", "errorType": "RATE_LIMIT",
                    "correlationId": str(uuid.uuid4()), "policyName": "SECONDLY"}
            self._send(h, 429, json.dumps(body).encode(), {})
            return
        if fault.kind == "reset":
            h.close_connection = True
            conn = h.connection
            try:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                socket.close(conn.detach())  # linger 0: the kernel sends RST, not FIN
            except OSError:
                pass
            return
        status = self._fault_status(fault)
        if status == 429:
            burst = self.requests_per_10s if self.requests_per_10s is not None else UNLIMITED_BURST
            body = self._rate_body("TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit.",
                                   "private_app-api-calls-ten-secondly")
            with self._limit_lock:
                headers = self._rate_headers(burst, 0, False)
            self._send(h, 429, json.dumps(body).encode(), headers)
        elif status in (502, 504):
            title = f"{status} {_REASONS[status]}"
            page = f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>" \
                   f"\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n"
            self._send(h, status, page.encode(), {}, content_type="text/html")
        else:
            body = error("INTERNAL_ERROR" if status == 500 else "SERVICE_UNAVAILABLE",
                         "internal error" if status == 500 else "Service Unavailable. Please try again later.")
            self._send(h, status, json.dumps(body).encode(), {})

    def _send(self, h: _Handler, status: int, data: bytes, headers: dict[str, str], truncate: bool = False,
              content_type: str = "application/json;charset=utf-8") -> None:
        head = self._head(status, {"Content-Length": str(len(data)), "X-HubSpot-Correlation-Id": str(uuid.uuid4()),
                                   **headers}, content_type, close=h.close_connection or truncate)
        if truncate:
            # The whole length is announced but only part of the body arrives.
            data = data[:max(1, len(data) // 2)]
            h.close_connection = True
        try:
            h.wfile.write(head + data)
        except OSError:
            h.close_connection = True

    def _head(self, status: int, headers: dict[str, str], content_type: str, close: bool) -> bytes:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}",
                 *([] if self.faults.no_date else [f"Date: {http_date(self.portal.now_ms)}"]),
                 f"Content-Type: {content_type}", *(f"{k}: {v}" for k, v in headers.items())]
        if close:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _drip(self, h: _Handler, status: int, data: bytes, headers: dict[str, str]) -> None:
        """The whole answer, one byte at a time: every read is quick, the answer never ends soon."""
        head = self._head(status, {"Content-Length": str(len(data)), **headers}, "application/json;charset=utf-8",
                          close=True)
        h.close_connection = True
        try:
            for i in range(len(head) + len(data)):  # (bounded: it ends with the answer, or the client)
                h.wfile.write((head + data)[i:i + 1])
                h.wfile.flush()
                time.sleep(self.faults.drip_seconds)
        except OSError:
            pass

    def _oversized(self, h: _Handler, status: int, chunked: bool) -> None:
        """An answer of `oversize_bytes`: announced, or chunked without a length, until the client hangs up."""
        total = self.faults.oversize_bytes
        h.close_connection = True
        framing = {"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": str(total)}
        block = b'{"results":[' + b" " * 65_524
        try:
            h.wfile.write(self._head(status, framing, "application/json;charset=utf-8", close=True))
            sent = 0
            while sent < total:
                part = block[:total - sent]
                h.wfile.write(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
                sent += len(part)
            if chunked:
                h.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass


def _pick(fault: Fault, choices: tuple) -> int:
    return min(len(choices) - 1, int(fault.variant * len(choices)))


def _repeat_cursors(payload: Any, query: dict, body: Any) -> None:
    """Stuck paging: a page asked for with a cursor names that same cursor as the next one."""
    if not isinstance(payload, dict):
        return
    after = (query.get("after") or [None])[0]
    if after is None and isinstance(body, dict):
        after = body.get("after")
    if after not in (None, "", "0"):
        payload["paging"] = {"next": {"after": str(after)}}
    inputs = body.get("inputs") if isinstance(body, dict) else None
    if isinstance(inputs, list):  # association batch reads page each record on its own
        afters = {str(i.get("id")): i.get("after") for i in inputs if isinstance(i, dict) and i.get("after")}
        for item in payload.get("results") or []:
            source = str((item.get("from") or {}).get("id"))
            if source in afters:
                item["paging"] = {"next": {"after": afters[source]}}


def _read_body(h: BaseHTTPRequestHandler) -> bytes:
    if h.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int(h.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                h.rfile.readline()
                return b"".join(chunks)
            chunks.append(h.rfile.read(size))
            h.rfile.readline()
    length = int(h.headers.get("Content-Length") or 0)
    return h.rfile.read(length) if length else b""


def _parse_body(raw: bytes, content_type: str) -> Any:
    if not raw:
        return None
    if "application/x-www-form-urlencoded" in content_type:
        return {k: v[-1] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")
