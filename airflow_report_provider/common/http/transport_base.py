"""What the sync and async transports share: construction, request preparation, and the bookkeeping of each
attempt (metrics, token refresh, limiter feedback, the retry decision), so that each transport's own code is its
send loop and its I/O.
"""

from __future__ import annotations

import logging

from airflow_report_provider import __version__
from airflow_report_provider.common.observability import metrics
from airflow_report_provider.common.http.messages import HttpRequest, HttpResponse
from airflow_report_provider.common.http.protocol import AccessToken, ApiProtocol, Credentials
from airflow_report_provider.common.http.ratelimit import RATE_LIMITERS, RateLimiter, RateLimiterRegistry
from airflow_report_provider.common.observability.redaction import mask_secret
from airflow_report_provider.common.http.retry import CallPolicy, Decision, RetryPolicy
from airflow_report_provider.common.http.shared_ratelimit import SHARED_LIMITS, SharedRateLimit, StoreUnavailable
from airflow_report_provider.common.http.tokens import TOKEN_CACHE, TOKEN_MASKS, TokenCache

#: The transports log under the name of the module that exports them.
log = logging.getLogger("airflow_report_provider.common.http.transport")

PRODUCT_TOKEN = f"airflow-report-provider/{__version__}"
DEFAULT_TIMEOUT = (15.0, 300.0)  # connect, read (seconds)
DEFAULT_CHUNK_SIZE = 1024 * 1024


class TransportBase:
    """What both transports share: credentials, token cache, limiter, request preparation, retry bookkeeping."""

    user_agent: str

    def __init__(
        self,
        protocol: ApiProtocol,
        credentials: Credentials,
        *,
        retry: RetryPolicy | None = None,
        calls_per_minute: float | None = None,
        verify: bool = True,
        proxy: str | None = None,
        rate_limit_storage: str | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        token_cache: TokenCache = TOKEN_CACHE,
        limiters: RateLimiterRegistry = RATE_LIMITERS,
    ) -> None:
        self.protocol = protocol
        self.credentials = credentials
        self.retry = retry or RetryPolicy()
        rate = protocol.default_calls_per_minute if calls_per_minute is None else calls_per_minute
        self.limiter: RateLimiter = limiters.get((protocol.api_name, *credentials.cache_key), rate)
        # With a storage URL, one limit for every process of the deployment; the in-process limiter still spaces
        # this process's calls, takes 429 feedback and stands in while the store is unreachable.
        self.shared: SharedRateLimit | None = (
            SHARED_LIMITS.get(rate_limit_storage, (protocol.api_name, *credentials.cache_key), rate) if rate_limit_storage else None
        )
        self.verify = verify
        self.proxy = proxy
        self.timeout = timeout
        self.token_cache = token_cache
        self.cache_key = (protocol.api_name, *credentials.token_key)
        mask_secret(credentials.client_secret)
        # A token request may carry the secret in another form too (Walmart: Basic base64(id:secret)).
        mask_secret(protocol.token_request(credentials).headers.get("Authorization"))

    def _prepare(self, request: HttpRequest, token: str | None) -> HttpRequest:
        if token is not None:
            request = self.protocol.authorize(request, token)
        return request.with_headers({"User-Agent": self.user_agent})

    def _token_issued(self, token: AccessToken) -> AccessToken:
        # The credential's previous token leaves the masker: a long-lived triggerer keeps one pattern per credential.
        TOKEN_MASKS.register(self.cache_key, token.value)
        metrics.token_refreshed(self.protocol.api_name)
        return token

    def _acquire(self) -> None:
        """Wait (blocking) for this credential's slot: in-process spacing, then the deployment's shared window."""
        self.limiter.acquire()
        if self.shared is not None and self.shared.usable():
            try:
                self.shared.acquire()
            except StoreUnavailable:
                pass  # the in-process limiter alone (warned once by the shared limit)

    async def _aacquire(self) -> None:
        """Async form of :meth:`_acquire`: never blocks the event loop."""
        await self.limiter.aacquire()
        if self.shared is not None and self.shared.usable():
            try:
                await self.shared.aacquire()
            except StoreUnavailable:
                pass

    def _judge(
        self,
        policy: CallPolicy,
        request: HttpRequest,
        token: str | None,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> Decision:
        """The decision after one attempt: its ``response``, or the connection ``error`` it raised instead.

        A ``return`` decision is handed back at once; any other is booked first (:meth:`_after`), then a ``raise``
        raises the call's error and a ``retry`` or ``refresh`` comes back for the loop to wait ``delay`` and send again.
        """
        if response is None:
            decision = policy.on_connection_error(error)  # type: ignore[arg-type]
        else:
            metrics.api_call(self.protocol.api_name, request.endpoint, response.status)
            decision = policy.on_response(response)
            if decision.action == "return":
                return decision
        self._after(request, decision, token, None if response is None else response.status)
        if decision.action == "raise":
            raise decision.error  # type: ignore[misc]
        return decision

    def _after(self, request: HttpRequest, decision: Decision, token: str | None, status: int | None) -> None:
        """Book-keeping between attempts: token invalidation, limiter feedback, a log line."""
        if decision.action == "refresh":
            self.token_cache.invalidate(self.cache_key, token)
            log.info("%s: %s answered 401; refreshing the access token and retrying once", self.protocol.api_name, request.endpoint)
        if decision.throttled_for:
            self.limiter.block_for(decision.throttled_for)
        if decision.action == "retry":
            log.warning(
                "%s: %s %s; retrying in %.1f s",
                self.protocol.api_name,
                request.endpoint,
                f"answered HTTP {status}" if status else "connection failed",
                decision.delay,
            )


def body_extent(response: HttpResponse) -> tuple[int, int | None]:
    """(first byte offset, whole resource size) from Content-Range / Content-Length."""
    content_range = response.headers.get("content-range")
    if response.status == 206 and content_range:
        # "bytes 100-199/1000" (total may be "*")
        spec = content_range.split(" ", 1)[-1]
        span, _, total = spec.partition("/")
        start = int(span.split("-", 1)[0]) if span and span != "*" else 0
        return start, (int(total) if total.isdigit() else None)
    length = response.headers.get("content-length")
    return 0, (int(length) if length and length.isdigit() else None)
