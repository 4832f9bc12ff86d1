"""What a report API's sans-IO protocol module provides to the shared transports.

A third API is one more subclass of :class:`ApiProtocol` (token request, auth headers, error mapping) plus its
own request builders and answer parsers; retries, tokens, rate limits and streaming come from ``common/``.
"""

from __future__ import annotations

import hashlib
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

from airflow_report_provider.common.exceptions import ApiError
from airflow_report_provider.common.http.messages import HttpRequest, HttpResponse
from airflow_report_provider.common.http.retry import retry_after_from_headers


@dataclass(frozen=True)
class Credentials:
    """A client-credentials pair for one API host. The secret never shows in ``repr``."""

    host: str
    client_id: str
    client_secret: str = field(repr=False)

    @property
    def cache_key(self) -> tuple[str, str]:
        """Rate limits are shared per (host, client id) within a process: the API counts per application."""
        return (self.host.rstrip("/"), self.client_id)

    @property
    def token_key(self) -> tuple[str, str, str]:
        """Tokens are shared per (host, client id, secret digest): a wrong secret never borrows a good token."""
        digest = hashlib.sha256(f"{self.client_id}:{self.client_secret}".encode()).hexdigest()[:24]
        return (self.host.rstrip("/"), self.client_id, digest)


@dataclass(frozen=True)
class AccessToken:
    """A bearer token and the wall-clock second it expires at."""

    value: str = field(repr=False)
    expires_at: float

    def is_fresh(self, margin: float, now: float | None = None) -> bool:
        return (now if now is not None else time.time()) < self.expires_at - margin


class ApiProtocol(ABC):
    """Authentication and error rules of one report API, free of I/O."""

    #: Short name used in logs, errors and metrics ("criteo_mpo", "walmart").
    api_name: ClassVar[str]
    #: Documented per-credential call rate the client-side limiter keeps under (0 = no limit).
    default_calls_per_minute: ClassVar[float]

    @abstractmethod
    def token_request(self, credentials: Credentials) -> HttpRequest:
        """The request that exchanges client credentials for an access token."""

    @abstractmethod
    def parse_token(self, response: HttpResponse, now: float | None = None) -> AccessToken:
        """Read the token answer; raise the mapped :class:`ApiError` on an error answer."""

    @abstractmethod
    def authorize(self, request: HttpRequest, token: str) -> HttpRequest:
        """Return the request with this API's authentication (and per-call) headers."""

    @abstractmethod
    def error_for(self, response: HttpResponse) -> ApiError:
        """Map a non-2xx answer to the typed error carrying the API's code."""

    def retry_after(self, response: HttpResponse, now: float | None = None) -> float | None:
        """Seconds the API asks us to wait before the next call, from its throttling headers."""
        return retry_after_from_headers(response.headers, now=now)
