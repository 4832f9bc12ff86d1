"""Client-side rate limiting per credential, shared by threads and coroutines of one process.

A :class:`RateLimiter` spaces calls evenly (``60 / calls_per_minute`` seconds apart, with a small burst) by
handing out reservations: each caller learns how long to wait before its call, so a sync hook sleeps and an
async hook awaits without holding a lock. A 429 answer pushes every later reservation past the time the API
asked us to wait (``x-ratelimit-reset``, ``X-Next-Replenishment-Time``, ``Retry-After``).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Hashable


class RateLimiter:
    """An even-spacing limiter (GCRA) with a burst allowance and 429 feedback."""

    def __init__(self, calls_per_minute: float, burst: int = 1, clock: Callable[[], float] = time.monotonic) -> None:
        self.calls_per_minute = calls_per_minute
        self.interval = 60.0 / calls_per_minute if calls_per_minute > 0 else 0.0
        self.burst = max(1, burst)
        self.clock = clock
        self._next_free = 0.0  # theoretical arrival time (GCRA) of the next call
        self._blocked_until = 0.0
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Book the next slot; return the seconds to wait before using it."""
        if self.interval <= 0 and self._blocked_until <= 0:
            return 0.0
        with self._lock:
            now = self.clock()
            tat = max(self._next_free, now, self._blocked_until)
            go = max(now, self._blocked_until, tat - self.interval * (self.burst - 1))
            self._next_free = tat + self.interval
            return max(0.0, go - now)

    def block_for(self, seconds: float) -> None:
        """Hold every call of this credential back for ``seconds`` (429 feedback)."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self.clock() + max(0.0, seconds))

    def acquire(self) -> float:
        """Wait (blocking) for a slot; return the seconds waited."""
        delay = self.reserve()
        if delay > 0:
            time.sleep(delay)
        return delay

    async def aacquire(self) -> float:
        """Wait (without blocking the event loop) for a slot; return the seconds waited."""
        delay = self.reserve()
        if delay > 0:
            await asyncio.sleep(delay)
        return delay


class RateLimiterRegistry:
    """One limiter per credential per process; the first caller's rate wins until :meth:`reset`."""

    def __init__(self) -> None:
        self._limiters: dict[Hashable, RateLimiter] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, calls_per_minute: float) -> RateLimiter:
        with self._lock:
            limiter = self._limiters.get(key)
            if limiter is None or limiter.calls_per_minute != calls_per_minute:
                limiter = self._limiters[key] = RateLimiter(calls_per_minute)
            return limiter

    def reset(self) -> None:
        with self._lock:
            self._limiters.clear()


#: The limiters every hook and trigger of this process uses.
RATE_LIMITERS = RateLimiterRegistry()
