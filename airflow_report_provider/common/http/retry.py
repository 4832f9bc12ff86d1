"""Retry decisions for one API call, free of I/O.

The sync and async transports run the same loop: send, ask :class:`CallPolicy` what to do with the outcome
(return, refresh the token and resend, wait and resend, or raise), and do it. Rules:

- 2xx: return.
- 401 on an authenticated call: refresh the token and resend once.
- 429: wait what the API asks (``x-ratelimit-reset``, ``X-Next-Replenishment-Time``, ``Retry-After``) or back off,
  and resend: a throttled call was not processed, so even a create is safe. A wait longer than ``max_delay``
  (an hourly quota) is not waited for: the error is raised with ``retry_after`` for the caller to decide.
- 5xx and cut connections: resend with backoff only when the request is idempotent; a create POST is never
  resent blindly (the hooks reattach to the job instead).
- anything else: raise the API's typed error.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

from airflow_report_provider.common.exceptions import RateLimitedError, ServerError, TransportError

if TYPE_CHECKING:
    from airflow_report_provider.common.http.messages import HttpRequest, HttpResponse
    from airflow_report_provider.common.http.protocol import ApiProtocol


@dataclass(frozen=True)
class RetryPolicy:
    """How many times and how long to wait between attempts."""

    max_attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 120.0
    jitter: float = 0.2

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Exponential backoff with jitter for the given 1-based attempt number."""
        delay = min(self.max_delay, self.base_delay * (2 ** max(0, attempt - 1)))
        spread = delay * self.jitter
        return max(0.0, delay + (rng or random).uniform(-spread, spread))

    @classmethod
    def from_extra(cls, extra: Mapping[str, object]) -> RetryPolicy:
        """Build from a connection's extra (``max_retries``, ``retry_base_delay``, ``retry_max_delay``)."""
        default = cls()
        return cls(
            max_attempts=int(extra.get("max_retries", default.max_attempts - 1)) + 1,  # type: ignore[arg-type]
            base_delay=float(extra.get("retry_base_delay", default.base_delay)),  # type: ignore[arg-type]
            max_delay=float(extra.get("retry_max_delay", default.max_delay)),  # type: ignore[arg-type]
        )


def _epoch_to_delay(value: float, now: float) -> float:
    if value > 1e11:  # epoch milliseconds
        value /= 1000.0
    return max(0.0, value - now)


def retry_after_from_headers(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait according to any throttling header an API sends, or ``None``.

    ``Retry-After`` (seconds or HTTP date), ``x-ratelimit-reset`` (Criteo: Unix seconds, or a small number of
    seconds), ``X-Next-Replenishment-Time`` (Walmart: epoch milliseconds, epoch seconds or an ISO / HTTP date).
    """
    now = time.time() if now is None else now
    for name in ("retry-after", "x-ratelimit-reset", "x-next-replenishment-time"):
        raw = headers.get(name)
        if raw in (None, ""):
            continue
        raw = str(raw).strip()
        try:
            number = float(raw)
        except ValueError:
            number = None
        if number is not None:
            if name == "retry-after" or number < 1e9:  # a delta in seconds
                return max(0.0, number)
            return _epoch_to_delay(number, now)
        try:
            return max(0.0, parsedate_to_datetime(raw).timestamp() - now)
        except (TypeError, ValueError):
            pass
        try:
            from datetime import datetime

            return max(0.0, datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp() - now)
        except ValueError:
            continue
    return None


@dataclass
class Decision:
    """What the transport does next."""

    action: str  # "return" | "refresh" | "retry" | "raise"
    delay: float = 0.0
    error: Exception | None = None
    throttled_for: float | None = None  # set on 429: feed the credential's rate limiter


class CallPolicy:
    """Decides, attempt after attempt, what to do with one call's outcome."""

    def __init__(self, protocol: ApiProtocol, request: HttpRequest, retry: RetryPolicy) -> None:
        self.protocol = protocol
        self.request = request
        self.retry = retry
        self.attempt = 0
        self.refreshed = False

    def _retry_or_raise(self, error: Exception, wait: float | None = None) -> Decision:
        if self.attempt >= self.retry.max_attempts:
            return Decision("raise", error=error)
        # Never faster than the back-off: a reset time already past (clock skew) must not turn into a hot loop.
        return Decision("retry", delay=max(self.retry.backoff(self.attempt), wait or 0.0))

    def on_response(self, response: HttpResponse) -> Decision:
        self.attempt += 1
        if 200 <= response.status < 300:
            return Decision("return")
        if response.status == 401 and self.request.authenticated and not self.refreshed:
            self.refreshed = True
            return Decision("refresh")
        error = self.protocol.error_for(response)
        if response.status == 429:
            wait = self.protocol.retry_after(response)
            if isinstance(error, RateLimitedError):
                error.retry_after = wait
            if wait is not None and wait > self.retry.max_delay:
                # Too long to wait inline: raise with retry_after. A read's throttle holds back every call of the
                # credential; a create's (Walmart's hourly quota per report type) concerns that type only.
                return Decision("raise", error=error, throttled_for=wait if self.request.idempotent else None)
            decision = self._retry_or_raise(error, wait=None if wait is None else wait + 0.05)
            decision.throttled_for = wait
            return decision
        if response.status >= 500 and self.request.idempotent:
            wait = self.protocol.retry_after(response)
            if wait is not None and wait > self.retry.max_delay:
                return Decision("raise", error=error)
            return self._retry_or_raise(error, wait=wait)
        return Decision("raise", error=error)

    def on_connection_error(self, exc: BaseException) -> Decision:
        self.attempt += 1
        error = TransportError(
            f"{self.protocol.api_name}: connection failed during {self.request.endpoint}: {type(exc).__name__}"
        )
        if not self.request.idempotent:
            return Decision("raise", error=error)
        return self._retry_or_raise(error)


__all__ = ["CallPolicy", "Decision", "RetryPolicy", "ServerError", "retry_after_from_headers"]
