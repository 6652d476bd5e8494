"""HubSpot API access: one client owns the token, the rate limiters, the timeouts and the
single retry policy.

Calls go through the official SDK (hubspot-api-client) with `_preload_content=False`: the SDK
builds the request and authenticates it, and we read the raw JSON ourselves, which is about
ten times cheaper than the SDK's model classes on hot paths. The SDK's own urllib3 retries
are switched off so that every attempt is counted and decided here.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from email.utils import parsedate_to_datetime
from dataclasses import dataclass, field
from typing import Any, Callable

import urllib3
from hubspot import HubSpot
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from hubspot_metrics.config import HubSpotSettings
from hubspot_metrics.errors import AuthError, HubSpotError, MissingScopeError, NotFoundError, QuotaError
from hubspot_metrics.ratelimit import SlidingWindowLimiter
from hubspot_metrics.transport import (
    MAX_RESPONSE_BYTES, Deadline, ResponseTooLarge, SizeCap, read_capped, watch_pools)

log = logging.getLogger(__name__)

LIST_PAGE_SIZE = 100        # list endpoints' maximum
SEARCH_PAGE_SIZE = 200      # search maximum
BATCH_READ_SIZE = 100       # objects batch read maximum
ASSOCIATION_BATCH_SIZE = 1000  # v4 association batch read maximum
OAUTH_REFRESH_MARGIN = 300  # refresh an OAuth token when it has less than this many seconds left...
OAUTH_REFRESH_FRACTION = 0.2  # ...or less than this share of its lifetime, for short-lived tokens


@dataclass
class RunStats:
    requests: int = 0
    rate_limited: int = 0
    retries: int = 0
    errors: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)


def _rate_headers(headers) -> tuple[int | None, int | None]:
    """X-HubSpot-RateLimit-Max and -Remaining of the 10-second window, where sent."""
    values = []
    for name in ("X-HubSpot-RateLimit-Max", "X-HubSpot-RateLimit-Remaining"):
        try:
            text = headers.get(name)
        except AttributeError:
            text = None
        values.append(int(text) if isinstance(text, str) and text.isdigit() else None)
    return values[0], values[1]


class _Retryable(Exception):
    """A failure worth another attempt; `wait` overrides the backoff (seconds)."""

    def __init__(self, reason: str, wait: float | None = None, full_window: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.wait = wait
        self.full_window = full_window  # a 429 for a window filled by requests we did not send


class Cancelled(Exception):
    """The run was interrupted while this client waited; its threads stop at the next wait."""


# --- what a well-formed answer looks like: anything else is malformed and retried ------------

def is_page(payload: Any) -> bool:
    """A JSON object with a `results` list: an empty body, {}, null or [] is no answer."""
    return isinstance(payload, dict) and isinstance(payload.get("results"), list)


def is_search_page(payload: Any) -> bool:
    # Keyset paging never sends an offset: an empty page that promises more carries nothing to
    # follow, so it is asked again like any other hollow answer.
    if not is_page(payload):
        return False
    paging = payload.get("paging")
    promises_more = isinstance(paging, dict) and isinstance(paging.get("next"), dict) and bool(paging["next"].get("after"))
    return bool(payload["results"]) or not promises_more


def is_account(payload: Any) -> bool:
    return isinstance(payload, dict) and payload.get("portalId") not in (None, "")


def is_token(payload: Any) -> bool:
    return isinstance(payload, dict) and isinstance(payload.get("access_token"), str) and bool(payload["access_token"])


def _scopes_missing(error: dict) -> list[str] | None:
    """The scopes named by HubSpot's MISSING_SCOPES answer; None for any other 403 (a WAF, a proxy)."""
    if error.get("category") != "MISSING_SCOPES":
        return None
    scopes: list[str] = []
    for item in error.get("errors") if isinstance(error.get("errors"), list) else []:
        context = item.get("context") if isinstance(item, dict) else None
        if isinstance(context, dict):
            found = context.get("requiredGranularScopes") or context.get("requiredScopes") or []
            scopes += [str(s) for s in found] if isinstance(found, list) else []
    return scopes


def _describe(body: Any, secrets: tuple[str | None, ...]) -> str:
    """A short, printable account of an unexpected answer's body, with no credential in it."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    text = " ".join(str(body or "").split())
    for secret in secrets:
        if secret:
            text = text.replace(secret, "…")
    if not text:
        return "an empty body"
    return repr(text[:120] + ("…" if len(text) > 120 else ""))


def _error_body(body: Any) -> dict:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        parsed = json.loads(body) if body else {}
    except (ValueError, RecursionError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


class HubSpotClient:
    def __init__(self, settings: HubSpotSettings, *, stats: RunStats | None = None,
                 sleep: Callable[[float], None] | None = None, clock: Callable[[], float] = time.monotonic,
                 max_response_bytes: int = MAX_RESPONSE_BYTES):
        self.settings = settings
        self.stats = stats or RunStats()
        self._cancelled = threading.Event()
        self._sleep = sleep or self._interruptible_sleep
        self.max_response_bytes = max_response_bytes
        self._clock = clock
        self.limiter = SlidingWindowLimiter(settings.requests_per_10s, 10.0, sleep=self._sleep, clock=clock)
        # (the search limit is already set below HubSpot's 5 a second: a small margin will do)
        self.search_limiter = SlidingWindowLimiter(max(1, int(settings.search_requests_per_second)), 1.0,
                                                   margin_seconds=0.05, sleep=self._sleep, clock=clock)
        self._token_expires_at: float | None = None
        self._token_lifetime = 1800.0
        self.server_time_ms: int | None = None  # from the last response's Date header
        self._answered = False  # has HubSpot ever answered this client?
        self._token_lock = threading.Lock()
        token = settings.access_token
        self.uses_oauth = bool(settings.client_id and settings.client_secret and settings.refresh_token)
        if not token and not self.uses_oauth:
            raise AuthError(
                "No HubSpot access token is set; export HUBSPOT_ACCESS_TOKEN=<your private app token> or set "
                "[hubspot] access_token (or client_id, client_secret and refresh_token for an OAuth app).")
        # retry=False: urllib3 must not retry behind our back (we count and decide every attempt).
        self.sdk = HubSpot(access_token=token or "", host=settings.base_url, retry=False)
        crm = self.sdk.crm
        # Each attribute access on the SDK builds a new ApiClient and connection pool: keep one.
        self._objects = crm.objects.basic_api
        self._search = crm.objects.search_api
        self._batch = crm.objects.batch_api
        self._assoc = crm.associations.v4.batch_api
        self._owners = crm.owners.owners_api
        self._pipelines = crm.pipelines.pipelines_api
        self._properties = crm.properties.core_api
        self._apis = [self._objects, self._search, self._batch, self._assoc, self._owners,
                      self._pipelines, self._properties]
        self._tokens = self.sdk.oauth.tokens_api
        for api in [*self._apis, self._tokens]:
            watch_pools(api.api_client)
        if self.uses_oauth:
            self._refresh_oauth_token()

    # --- auth ---------------------------------------------------------------------------

    def _set_token(self, token: str) -> None:
        for api in self._apis:
            api.api_client.configuration.access_token = token

    def _refresh_oauth_token(self) -> None:
        s = self.settings
        # Through the one retry policy: a 5xx or a dropped connection here is a passing fault;
        # only a 400/401 from this endpoint means the credentials are wrong (`_raise_for_status`).
        payload = self.call("the OAuth token refresh", self._tokens.create, grant_type="refresh_token",
                            client_id=s.client_id, client_secret=s.client_secret, refresh_token=s.refresh_token,
                            expect=is_token, token_refresh=True)
        self._set_token(payload["access_token"])
        expires_in = payload.get("expires_in")
        self._token_lifetime = float(expires_in) if isinstance(expires_in, (int, float)) and expires_in > 0 else 1800.0
        self._token_expires_at = self._clock() + self._token_lifetime
        log.info("refreshed the OAuth access token (valid for %s s)", expires_in)

    def _ensure_fresh_token(self) -> None:
        # HubSpot's usage guidelines: refresh from expires_in, don't wait for a 401.
        if self.uses_oauth and self._token_expires_at is not None:
            with self._token_lock:
                margin = min(OAUTH_REFRESH_MARGIN, OAUTH_REFRESH_FRACTION * self._token_lifetime)
                if self._token_expires_at - self._clock() < margin:
                    self._refresh_oauth_token()

    # --- the one retry policy -----------------------------------------------------------

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retryable) and exc.wait is not None:
            return exc.wait
        if isinstance(exc, _Retryable) and exc.full_window:
            return min(10.0, 2.0 * 2 ** (state.attempt_number - 1))
        # Bounded exponential backoff with jitter for 5xx and transport faults.
        return min(30.0, 0.5 * 2 ** (state.attempt_number - 1)) * (0.5 + random.random() / 2)

    def _before_sleep(self, state: RetryCallState) -> None:
        exc = state.outcome.exception()
        self.stats.add("retries")
        # INFO, not WARNING: a retried fault is routine, and cron mails whatever reaches stderr;
        # the run's summary and record count the retries.
        log.info("retrying %s after %s (attempt %d, waiting %.1f s)", state.args[0] if state.args else "request",
                    getattr(exc, "reason", exc), state.attempt_number, state.next_action.sleep if state.next_action else 0)

    def _secrets(self) -> tuple[str | None, ...]:
        s = self.settings
        return (s.access_token, s.refresh_token, s.client_secret, self._objects.api_client.configuration.access_token)

    def _interruptible_sleep(self, seconds: float) -> None:
        if self._cancelled.wait(seconds):
            raise Cancelled()

    def cancel(self) -> None:
        """Wake every wait of this client (other threads' too): the run is being interrupted."""
        self._cancelled.set()

    def call(self, what: str, fn: Callable[..., Any], *args, search: bool = False,
             expect: Callable[[Any], bool] = is_page, token_refresh: bool = False, **kwargs) -> Any:
        """Run one SDK call with rate limiting and retries; return the parsed JSON body.

        `expect` says what a well-formed answer is: a 200 that is not one is retried like a 5xx.
        """
        retrying = Retrying(
            retry=retry_if_exception_type(_Retryable),
            stop=stop_after_attempt(self.settings.max_retries + 1),
            wait=self._wait,
            sleep=self._sleep,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        try:
            return retrying(self._attempt, what, fn, args, kwargs, search, expect, token_refresh)
        except _Retryable as exc:
            raise HubSpotError(
                f"HubSpot kept failing on {what} ({exc.reason}) after {self.settings.max_retries + 1} attempts; "
                "what was synced so far is kept, run the sync again later.") from None

    def _attempt(self, what: str, fn, args, kwargs, search: bool, expect: Callable[[Any], bool],
                 token_refresh: bool) -> Any:
        if self._cancelled.is_set():
            raise Cancelled()
        (self.search_limiter if search else self.limiter).acquire()
        if not token_refresh:
            self._ensure_fresh_token()
        self.stats.add("requests")
        timeout = self.settings.timeout_seconds
        deadline = Deadline(timeout)
        try:
            with deadline, SizeCap(self.max_response_bytes):
                response = fn(*args, _preload_content=False, _request_timeout=timeout, **kwargs)
                # reading the body may fail on a truncated response
                data = read_capped(response, self.max_response_bytes)
                headers = response.headers
        except ResponseTooLarge as exc:
            self.stats.add("errors")
            raise HubSpotError(
                f"HubSpot's answer to {what} passed {self.max_response_bytes // 2**20} MB ({exc.args[0]:,} bytes "
                "read or announced) and was cut off; check any proxy between here and HubSpot, then run again.") from None
        except urllib3.exceptions.HTTPError as exc:
            self.stats.add("errors")
            if deadline.expired:
                raise _Retryable(f"no whole answer within {timeout:g} s") from None
            if not self._answered and isinstance(exc, (urllib3.exceptions.NewConnectionError,
                                                       urllib3.exceptions.NameResolutionError)):
                # Nothing has ever answered: a wrong URL or no network, not a passing fault.
                raise HubSpotError(f"Cannot reach HubSpot at {self.settings.base_url} ({type(exc).__name__}); "
                                   "check HUBSPOT_API_BASE_URL / [hubspot] base_url and the network.") from None
            raise _Retryable(type(exc).__name__) from None
        except OSError as exc:
            self.stats.add("errors")
            raise _Retryable(f"no whole answer within {timeout:g} s" if deadline.expired
                             else type(exc).__name__) from None
        except Exception as exc:
            status = getattr(exc, "status", None)
            if status is None:
                raise
            self.stats.add("errors")
            if status == 0 or deadline.expired:  # the SDK's wrapping of a TLS or transport failure
                raise _Retryable(f"no whole answer within {timeout:g} s" if deadline.expired
                                 else "a transport error") from None
            self._answered = True
            self._raise_for_status(what, status, getattr(exc, "body", None), getattr(exc, "headers", None),
                                   token_refresh)
            raise  # pragma: no cover (the line above always raises)
        self._answered = True
        try:
            payload = json.loads(data) if data else None
        except (ValueError, RecursionError):  # (JSON nested deeper than Python's recursion limit)
            self.stats.add("errors")
            raise _Retryable("an incomplete or malformed response body") from None
        if deadline.expired:  # (the body may have been cut at a point where it still parsed)
            self.stats.add("errors")
            raise _Retryable(f"no whole answer within {timeout:g} s")
        if not expect(payload):
            self.stats.add("errors")
            # (a token answer is never shown: it may hold the refresh token)
            shown = "an answer without an access token" if token_refresh else _describe(data, self._secrets())
            raise _Retryable(f"a {response.status} answer that is not a well-formed reply: {shown}")
        date = headers.get("Date")
        if date:
            try:
                self.server_time_ms = int(parsedate_to_datetime(date).timestamp() * 1000)
            except (TypeError, ValueError):
                pass
        if not search:  # search answers carry no rate-limit headers
            server_limit, remaining = _rate_headers(headers)
            if server_limit is not None:
                self.limiter.lower_to(server_limit)
            if remaining is not None:
                self.limiter.observe_remaining(remaining)
        return payload

    def _raise_for_status(self, what: str, status: int, body: Any, headers: Any = None,
                          token_refresh: bool = False) -> None:
        error = _error_body(body)
        category = error.get("category") or error.get("errorType") or ""
        if token_refresh and status in (400, 401):
            raise AuthError(
                f"HubSpot refused to refresh the OAuth access token (HTTP {status}); check [hubspot] client_id, "
                "client_secret and refresh_token, or reinstall the app.")
        if status == 429:
            self.stats.add("rate_limited")
            policy = error.get("policyName", "")
            if policy == "DAILY":
                raise QuotaError(
                    "HubSpot's daily API limit is used up; what was synced so far is kept, and the next run "
                    "after midnight (portal time) continues from there.")
            # HubSpot sends no Retry-After. A search limit is per second. The 10-second window
            # frees when the oldest request in it leaves: ours, when we filled it ourselves.
            # Filled by someone else, nobody knows when: 2, 4, 8, then 10 s (see `_wait`).
            reason = f"HTTP 429 {policy or 'rate limit'}"
            remaining = _rate_headers(headers)[1]
            if policy == "SECONDLY" or remaining:  # (room left in the window: a passing refusal)
                raise _Retryable(reason, wait=1.0)
            ours = self.limiter.seconds_until_free()
            raise _Retryable(reason, wait=max(1.0, ours)) if ours else _Retryable(reason, full_window=True)
        if status == 401 and not token_refresh:
            if category == "EXPIRED_AUTHENTICATION" and self.uses_oauth:
                self._refresh_oauth_token()
                raise _Retryable("an expired OAuth token", wait=0)
            raise AuthError(
                "the HubSpot token was rejected (HTTP 401); create a new private app token or service key in "
                "HubSpot (Settings > Integrations) and set HUBSPOT_ACCESS_TOKEN.")
        if status == 403:
            scopes = _scopes_missing(error)
            if scopes is None:  # not HubSpot's word on scopes: a firewall, a proxy, a blocked address
                raise HubSpotError(f"HubSpot's address answered {what} with HTTP 403 and {_describe(body, self._secrets())}, which "
                                   "is not HubSpot's missing-scope answer; check any proxy or firewall in between.")
            missing = ", ".join(scopes) or "an unknown scope"
            raise MissingScopeError(
                f"The HubSpot token lacks the scope {missing} needed for {what}; add it to the private app "
                "and re-install it.", scopes)
        if status == 404:
            raise NotFoundError(f"HubSpot could not find {what} (HTTP 404).")
        if status >= 500 or status in (408, 423, 477):
            raise _Retryable(f"HTTP {status}")
        message = error.get("message") or "no message"
        raise HubSpotError(f"HubSpot rejected {what} (HTTP {status} {category}: {str(message)[:200]}).")

    # --- endpoints ----------------------------------------------------------------------

    def list_page(self, object_type: str, properties: list[str], after: str | None = None,
                  archived: bool = False, limit: int = LIST_PAGE_SIZE) -> dict:
        kwargs: dict[str, Any] = {"limit": limit, "properties": properties}
        if archived:  # the SDK would send Python's "True"; HubSpot documents "true"
            kwargs["archived"] = "true"
        if after:
            kwargs["after"] = after
        return self.call(f"the {object_type} list", self._objects.get_page, object_type, **kwargs)

    def search(self, object_type: str, body: dict) -> dict:
        return self.call(f"the {object_type} search", self._search.do_search, object_type, body, search=True,
                         expect=is_search_page)

    def batch_read(self, object_type: str, ids: list[str], properties: list[str]) -> dict:
        body = {"inputs": [{"id": i} for i in ids], "properties": properties, "propertiesWithHistory": []}
        return self.call(f"the {object_type} batch read", self._batch.read, object_type, body)

    def associations(self, from_type: str, to_type: str, inputs: list[dict]) -> dict:
        return self.call(f"the {from_type}-{to_type} associations", self._assoc.get_page, from_type, to_type,
                         {"inputs": inputs})

    def owners_page(self, after: str | None = None, archived: bool = False) -> dict:
        kwargs: dict[str, Any] = {"limit": 100}
        if archived:
            kwargs["archived"] = "true"
        if after:
            kwargs["after"] = after
        return self.call("the owners", self._owners.get_page, **kwargs)

    def pipelines(self, object_type: str) -> dict:
        return self.call(f"the {object_type} pipelines", self._pipelines.get_all, object_type)

    def properties(self, object_type: str) -> dict:
        return self.call(f"the {object_type} properties", self._properties.get_all, object_type, archived=False)

    def account_details(self) -> dict:
        # The SDK has no typed client for the account-info API; its generic call_api keeps the
        # same transport, host and authentication.
        api_client = self._properties.api_client

        def get(**kwargs):
            return api_client.call_api("/account-info/v3/details", "GET", auth_settings=["oauth2"],
                                       response_types_map={}, **kwargs)

        return self.call("the account details", get, expect=is_account)
