"""The two transports every API shares: :class:`SyncTransport` (requests) and :class:`AsyncTransport` (aiohttp).

Both drive a protocol module from ``apis/``: they add the API's authentication from the process-wide token cache,
pass every rate-limited call through the credential's limiter, and let :class:`CallPolicy` decide about retries,
so the two loops below are the only per-transport code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import weakref
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import requests

from airflow_report_provider import __version__
from airflow_report_provider.common.observability import metrics
from airflow_report_provider.common.exceptions import IncompleteDownloadError, TransportError
from airflow_report_provider.common.http.messages import Headers, HttpRequest, HttpResponse
from airflow_report_provider.common.http.protocol import AccessToken, ApiProtocol, Credentials
from airflow_report_provider.common.http.ratelimit import RATE_LIMITERS, RateLimiter, RateLimiterRegistry
from airflow_report_provider.common.observability.redaction import mask_secret
from airflow_report_provider.common.http.retry import CallPolicy, Decision, RetryPolicy
from airflow_report_provider.common.http.shared_ratelimit import SHARED_LIMITS, SharedRateLimit, StoreUnavailable
from airflow_report_provider.common.landing.streaming import OpenedBody
from airflow_report_provider.common.http.tokens import TOKEN_CACHE, TOKEN_MASKS, TokenCache

log = logging.getLogger(__name__)

PRODUCT_TOKEN = f"airflow-report-provider/{__version__}"
SYNC_USER_AGENT = f"{PRODUCT_TOKEN} python-requests/{requests.__version__}"
ASYNC_USER_AGENT = f"{PRODUCT_TOKEN} aiohttp/{aiohttp.__version__}"
DEFAULT_TIMEOUT = (15.0, 300.0)  # connect, read (seconds)
DEFAULT_CHUNK_SIZE = 1024 * 1024


class _TransportBase:
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


class SyncTransport(_TransportBase):
    """Blocking transport over a ``requests.Session`` (one per transport, pooled connections)."""

    user_agent = SYNC_USER_AGENT

    def __init__(self, *args: Any, session: requests.Session | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.session = session or requests.Session()

    def token(self) -> str:
        """The credential's access token, from the process cache."""
        return self.token_cache.get(self.cache_key, self._fetch_token)

    def _fetch_token(self) -> AccessToken:
        request = self.protocol.token_request(self.credentials)
        response = self._call(request, stream=False)[0]
        return self._token_issued(self.protocol.parse_token(response))

    def _send_once(self, request: HttpRequest, stream: bool) -> tuple[HttpResponse, requests.Response | None]:
        raw = self.session.request(
            request.method,
            request.url,
            params=request.params,
            json=request.json,
            data=request.form,
            headers=dict(request.headers),
            timeout=self.timeout,
            verify=self.verify,
            proxies={"http": self.proxy, "https": self.proxy} if self.proxy else None,
            stream=stream,
            # A redirect would carry the API's token headers to another host: only unauthenticated calls (the
            # pre-signed blob download) follow one.
            allow_redirects=not request.authenticated,
        )
        if stream and 200 <= raw.status_code < 300:
            return HttpResponse(raw.status_code, Headers(raw.headers)), raw
        body = raw.content
        raw.close()
        return HttpResponse(raw.status_code, Headers(raw.headers), body), None

    def _call(
        self, request: HttpRequest, stream: bool, retry: RetryPolicy | None = None
    ) -> tuple[HttpResponse, requests.Response | None]:
        policy = CallPolicy(self.protocol, request, retry or self.retry)
        while True:
            token = self.token() if request.authenticated else None
            prepared = self._prepare(request, token)
            if request.rate_limited:
                self._acquire()
            status = None
            try:
                response, raw = self._send_once(prepared, stream)
            except requests.RequestException as exc:
                decision = policy.on_connection_error(exc)
            else:
                status = response.status
                metrics.api_call(self.protocol.api_name, request.endpoint, status)
                decision = policy.on_response(response)
                if decision.action == "return":
                    return response, raw
            self._after(request, decision, token, status)
            if decision.action == "raise":
                raise decision.error  # type: ignore[misc]
            if decision.delay:
                time.sleep(decision.delay)

    def send(self, request: HttpRequest, retry: RetryPolicy | None = None) -> HttpResponse:
        """Send a call and return its complete answer (retried per :class:`CallPolicy` with ``retry``, by default
        the connection's policy); raise typed errors."""
        return self._call(request, stream=False, retry=retry)[0]

    @contextlib.contextmanager
    def open_stream(self, request: HttpRequest, offset: int = 0, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[OpenedBody]:
        """Open a download as an :class:`OpenedBody` of bounded chunks, from ``offset`` when the server allows."""
        if offset:
            request = request.with_headers({"Range": f"bytes={offset}-"})
        response, raw = self._call(request, stream=True)
        assert raw is not None
        try:
            start, total = _body_extent(response)
            yield OpenedBody(chunks=_sync_chunks(raw, chunk_size, start, total), start=start, total_size=total)
        finally:
            raw.close()

    def close(self) -> None:
        self.session.close()


def _body_extent(response: HttpResponse) -> tuple[int, int | None]:
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


def _sync_chunks(raw: requests.Response, chunk_size: int, start: int, total: int | None) -> Iterator[bytes]:
    received = start
    try:
        for chunk in raw.iter_content(chunk_size=chunk_size):
            if chunk:
                received += len(chunk)
                yield chunk
    except (requests.RequestException, OSError) as exc:
        raise TransportError(f"download cut after {received} bytes: {type(exc).__name__}") from None
    if total is not None and received < total:
        raise IncompleteDownloadError(f"download ended at {received} of {total} bytes")


class _LoopSessions:
    """One aiohttp session per event loop, shared by every async hook and trigger running on it.

    Users hold it through :meth:`use`; the session closes when the last user of its loop leaves, so a
    triggerer keeps one pool of connections while it has triggers, and tests leave no unclosed session.
    """

    def __init__(self) -> None:
        self._sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    @contextlib.asynccontextmanager
    async def use(self) -> AsyncIterator[aiohttp.ClientSession]:
        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._sessions.get(loop)
            if entry is None or entry[0].closed:
                connector = aiohttp.TCPConnector(limit=100, limit_per_host=50, ttl_dns_cache=300)
                # trust_env: HTTP(S)_PROXY / NO_PROXY apply as they do for requests.
                session = aiohttp.ClientSession(connector=connector, trust_env=True)
                entry = self._sessions[loop] = [session, 0]
            entry[1] += 1
        try:
            yield entry[0]
        finally:
            with self._lock:
                entry[1] -= 1
                last = entry[1] == 0
                if last and self._sessions.get(loop) is entry:
                    del self._sessions[loop]
            if last:
                await entry[0].close()

    def open_count(self) -> int:
        return sum(1 for entry in self._sessions.values() if not entry[0].closed)


SESSIONS = _LoopSessions()


class _LoopTurns:
    """Per event loop, one holder at a time, handed on at most once per loop iteration.

    For short blocking steps that arrive in bursts: a triggerer starting hundreds of triggers looks up their
    connections and registers their tokens together, and each new secret recompiles Airflow's masker (a regular
    expression of every secret so far: milliseconds each with a few hundred). Taking turns spreads the burst
    over loop iterations so the loop keeps serving timers and sockets in between. (Airflow's masker is not
    thread-safe, so moving the work to threads is not an option.)
    """

    def __init__(self) -> None:
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()
        self._guard = threading.Lock()

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        with self._guard:
            lock = self._locks.setdefault(loop, asyncio.Lock())
        async with lock:
            yield
            await asyncio.sleep(0)  # hold the turn over one iteration: the next holder runs in a later one


LOOP_TURNS = _LoopTurns()


class AsyncTransport(_TransportBase):
    """Non-blocking transport over the event loop's shared aiohttp session."""

    user_agent = ASYNC_USER_AGENT

    async def token(self) -> str:
        """The credential's access token, from the process cache (one refresh in flight per loop)."""
        return await self.token_cache.aget(self.cache_key, self._fetch_token)

    async def _fetch_token(self) -> AccessToken:
        request = self.protocol.token_request(self.credentials)
        response = await self.send(request)
        token = self.protocol.parse_token(response)
        async with LOOP_TURNS.turn():
            self._token_issued(token)  # registers the token with Airflow's masker
        return token

    def _client_timeout(self) -> aiohttp.ClientTimeout:
        connect, read = self.timeout
        return aiohttp.ClientTimeout(total=None, connect=connect, sock_read=read)

    def _request_options(self, request: HttpRequest) -> dict[str, Any]:
        """``session.request`` options of a call. A redirect would carry the API's token headers to another host:
        only unauthenticated calls (the pre-signed blob download) follow one."""
        return {
            "params": dict(request.params) if request.params else None,
            "json": request.json,
            "data": dict(request.form) if request.form else None,
            "headers": dict(request.headers),
            "timeout": self._client_timeout(),
            "ssl": self.verify,
            "proxy": self.proxy,
            "allow_redirects": not request.authenticated,
        }

    async def _send_once(self, session: aiohttp.ClientSession, request: HttpRequest) -> HttpResponse:
        async with session.request(request.method, request.url, **self._request_options(request)) as raw:
            body = await raw.read()
            return HttpResponse(raw.status, Headers(raw.headers), body)

    async def send(self, request: HttpRequest, retry: RetryPolicy | None = None) -> HttpResponse:
        """Send a call and return its complete answer (retried per :class:`CallPolicy` with ``retry``, by default
        the connection's policy); raise typed errors."""
        policy = CallPolicy(self.protocol, request, retry or self.retry)
        async with SESSIONS.use() as session:
            while True:
                token = await self.token() if request.authenticated else None
                prepared = self._prepare(request, token)
                if request.rate_limited:
                    await self._aacquire()
                status = None
                try:
                    response = await self._send_once(session, prepared)
                except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                    decision = policy.on_connection_error(exc)
                else:
                    status = response.status
                    metrics.api_call(self.protocol.api_name, request.endpoint, status)
                    decision = policy.on_response(response)
                    if decision.action == "return":
                        return response
                self._after(request, decision, token, status)
                if decision.action == "raise":
                    raise decision.error  # type: ignore[misc]
                if decision.delay:
                    await asyncio.sleep(decision.delay)

    async def iter_download(self, request: HttpRequest, chunk_size: int = DEFAULT_CHUNK_SIZE) -> AsyncIterator[bytes]:
        """Yield a download in bounded chunks (a 2xx answer is required; errors raise typed exceptions)."""
        async with SESSIONS.use() as session:
            token = await self.token() if request.authenticated else None
            prepared = self._prepare(request, token)
            if request.rate_limited:
                await self._aacquire()
            received = 0
            try:
                async with session.request(prepared.method, prepared.url, **self._request_options(prepared)) as raw:
                    metrics.api_call(self.protocol.api_name, request.endpoint, raw.status)
                    if raw.status >= 300:
                        raise self.protocol.error_for(HttpResponse(raw.status, Headers(raw.headers), await raw.read()))
                    async for chunk in raw.content.iter_chunked(chunk_size):
                        received += len(chunk)
                        yield chunk
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                # The exception's own text may hold the URL (a pre-signed one): only its type is kept.
                raise TransportError(
                    f"{self.protocol.api_name}: {request.endpoint} failed after {received} bytes: {type(exc).__name__}"
                ) from None
