"""The blocking transport (``requests``), used by the sync hooks in workers."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import requests

from airflow_report_provider.common.exceptions import IncompleteDownloadError, TransportError
from airflow_report_provider.common.http.messages import Headers, HttpRequest, HttpResponse
from airflow_report_provider.common.http.protocol import AccessToken
from airflow_report_provider.common.http.retry import CallPolicy, RetryPolicy
from airflow_report_provider.common.http.transport_base import DEFAULT_CHUNK_SIZE, PRODUCT_TOKEN, TransportBase, body_extent
from airflow_report_provider.common.landing.streaming import OpenedBody

SYNC_USER_AGENT = f"{PRODUCT_TOKEN} python-requests/{requests.__version__}"


class SyncTransport(TransportBase):
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
            try:
                response, raw = self._send_once(prepared, stream)
            except requests.RequestException as exc:
                decision = self._judge(policy, request, token, error=exc)
            else:
                decision = self._judge(policy, request, token, response)
                if decision.action == "return":
                    return response, raw
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
            start, total = body_extent(response)
            yield OpenedBody(chunks=_sync_chunks(raw, chunk_size, start, total), start=start, total_size=total)
        finally:
            raw.close()

    def close(self) -> None:
        self.session.close()


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
