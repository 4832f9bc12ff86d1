"""One rate limit per credential for a whole deployment, kept in a shared store (Redis) with ``limits``.

Every process of a deployment (Celery workers, triggerers) books its calls in the same moving window: at most
``N`` calls of a credential in any window of about a minute, whichever process makes them. The window is a little
longer than 60 s (:data:`WINDOW_HEADROOM`): an API counts the arrival of a call, which comes a moment after it
was booked. The sync path uses ``limits``' sync storage; the async path (the triggerer) its asyncio storage, so
waiting for a slot never blocks the event loop.

When the store cannot be reached the caller falls back to its in-process limiter with a warning (never a failed
task) and tries the store again after :data:`RETRY_STORE_AFTER` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import threading
import time
import weakref
from collections.abc import Hashable
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

#: The shared window is this much longer than a minute (2 %: 62 s for 60).
WINDOW_HEADROOM = 0.02
#: After the store failed, calls use the in-process limiter for this long before trying the store again.
RETRY_STORE_AFTER = 60.0
#: Connect / read timeouts of the store's client: an unreachable store costs a call this long at most.
STORE_TIMEOUT = 2.0
#: Key prefix in the store.
KEY_PREFIX = "airflow_report_provider"


def shown_url(url: str) -> str:
    """The storage URL without credentials, for logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


def window_for(calls_per_minute: float, headroom: float = WINDOW_HEADROOM) -> tuple[int, int]:
    """(calls, window seconds) for a rate: whole calls in a whole number of seconds, never faster than the rate."""
    amount = max(1, math.floor(calls_per_minute))
    return amount, max(1, math.ceil(60.0 * amount / calls_per_minute * (1.0 + headroom)))


class StoreUnavailable(Exception):
    """The shared store could not be used; the caller falls back to its in-process limiter."""


def _client_options(url: str) -> dict[str, Any]:
    if urlsplit(url).scheme.startswith(("redis", "rediss")):
        return {"socket_connect_timeout": STORE_TIMEOUT, "socket_timeout": STORE_TIMEOUT}
    return {}


class SharedRateLimit:
    """A moving-window limit of one credential in a shared store: ``acquire`` (blocking) and ``aacquire`` (async).

    Both raise :class:`StoreUnavailable` when the store fails; the transports then use their in-process limiter.
    """

    def __init__(self, storage_url: str, key: tuple[str, ...], calls_per_minute: float) -> None:
        from limits import RateLimitItemPerSecond

        self.storage_url = storage_url
        self.key = key
        amount, seconds = window_for(calls_per_minute)
        self.item = RateLimitItemPerSecond(amount, seconds, namespace=KEY_PREFIX)
        self._sync: Any = None
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self._failed_at: float | None = None

    # -- availability -----------------------------------------------------------------------------------------
    def usable(self) -> bool:
        """False for a while after the store failed (calls use the in-process limiter meanwhile)."""
        return self._failed_at is None or time.monotonic() - self._failed_at >= RETRY_STORE_AFTER

    def _failed(self, exc: BaseException) -> StoreUnavailable:
        first = self._failed_at is None
        self._failed_at = time.monotonic()
        if first:
            log.warning(
                "Shared rate-limit store %s is unreachable (%s); this process falls back to its own limiter "
                "and tries the store again in %.0f s",
                shown_url(self.storage_url),
                type(exc).__name__,
                RETRY_STORE_AFTER,
            )
        return StoreUnavailable(type(exc).__name__)

    def _recovered(self) -> None:
        if self._failed_at is not None:
            self._failed_at = None
            log.warning("Shared rate-limit store %s is reachable again", shown_url(self.storage_url))

    @staticmethod
    def _pause(reset_time: float) -> float:
        # A little jitter: processes waiting for the same slot do not all come back at once.
        return max(0.05, reset_time - time.time()) + random.uniform(0.0, 0.1)

    # -- blocking -------------------------------------------------------------------------------------------
    def _sync_limiter(self) -> Any:
        with self._lock:
            if self._sync is None:
                from limits.storage import storage_from_string
                from limits.strategies import MovingWindowRateLimiter

                self._sync = MovingWindowRateLimiter(storage_from_string(self.storage_url, **_client_options(self.storage_url)))
            return self._sync

    def acquire(self) -> float:
        """Wait (blocking) until the credential's shared window has a slot and book it; return seconds waited."""
        waited = 0.0
        try:
            limiter = self._sync_limiter()
            while not limiter.hit(self.item, *self.key):
                pause = self._pause(limiter.get_window_stats(self.item, *self.key).reset_time)
                time.sleep(pause)
                waited += pause
        except Exception as exc:
            raise self._failed(exc) from None
        self._recovered()
        return waited

    # -- async ----------------------------------------------------------------------------------------------
    def _async_limiter(self) -> Any:
        loop = asyncio.get_running_loop()
        with self._lock:
            limiter = self._async.get(loop)
            if limiter is None:
                from limits.aio.strategies import MovingWindowRateLimiter
                from limits.storage import storage_from_string

                options = _client_options(self.storage_url)
                if urlsplit(self.storage_url).scheme.startswith("redis"):
                    options["implementation"] = "redispy"  # redis.asyncio: no second Redis client library
                storage = storage_from_string(f"async+{self.storage_url}", **options)
                limiter = self._async[loop] = MovingWindowRateLimiter(storage)
            return limiter

    async def aacquire(self) -> float:
        """Wait (without blocking the event loop) for a slot of the shared window and book it."""
        waited = 0.0
        try:
            limiter = self._async_limiter()
            while not await limiter.hit(self.item, *self.key):
                stats = await limiter.get_window_stats(self.item, *self.key)
                pause = self._pause(stats.reset_time)
                await asyncio.sleep(pause)
                waited += pause
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise self._failed(exc) from None
        self._recovered()
        return waited


class SharedRateLimits:
    """One :class:`SharedRateLimit` per (store, credential, rate) in this process."""

    def __init__(self) -> None:
        self._limits: dict[Hashable, SharedRateLimit] = {}
        self._lock = threading.Lock()

    def get(self, storage_url: str, key: tuple[str, ...], calls_per_minute: float) -> SharedRateLimit | None:
        """The shared limit, or ``None`` when the rate is unlimited (0) or ``limits`` is not installed."""
        if calls_per_minute <= 0:
            return None
        try:
            import limits  # noqa: F401
        except ImportError:
            log.warning("rate_limit_storage is set but the 'limits' package is missing: this process limits alone")
            return None
        with self._lock:
            entry = (storage_url, key, calls_per_minute)
            limit = self._limits.get(entry)
            if limit is None:
                limit = self._limits[entry] = SharedRateLimit(storage_url, key, calls_per_minute)
            return limit

    def reset(self) -> None:
        with self._lock:
            self._limits.clear()


#: The shared limits every transport of this process uses.
SHARED_LIMITS = SharedRateLimits()
