"""The non-blocking transport (``aiohttp``), used by the async hooks in triggers, and the aiohttp session every
hook and trigger of one event loop shares."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from airflow_report_provider.common.observability import metrics
from airflow_report_provider.common.exceptions import TransportError
from airflow_report_provider.common.http.loops import LOOP_TURNS
from airflow_report_provider.common.http.messages import Headers, HttpRequest, HttpResponse
from airflow_report_provider.common.http.protocol import AccessToken
from airflow_report_provider.common.http.retry import CallPolicy, RetryPolicy
from airflow_report_provider.common.http.transport_base import DEFAULT_CHUNK_SIZE, PRODUCT_TOKEN, TransportBase

ASYNC_USER_AGENT = f"{PRODUCT_TOKEN} aiohttp/{aiohttp.__version__}"


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


class AsyncTransport(TransportBase):
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
                try:
                    response = await self._send_once(session, prepared)
                except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                    decision = self._judge(policy, request, token, error=exc)
                else:
                    decision = self._judge(policy, request, token, response)
                    if decision.action == "return":
                        return response
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
