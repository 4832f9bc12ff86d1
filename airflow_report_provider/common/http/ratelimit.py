"""Client-side rate limiting per credential, shared by threads and coroutines of one process.

A :class:`RateLimiter` spaces calls evenly (``60 / calls_per_minute`` seconds apart, with a small burst) by
handing out reservations: each caller learns how long to wait before its call, so a sync hook sleeps and an
async hook awaits without holding a lock. A 429 answer pushes every later reservation past the time the API
asked us to wait (``x-ratelimit-reset``, ``X-Next-Replenishment-Time``, ``Retry-After``).

The process-wide limiters keep a little headroom under the configured rate: APIs count calls in fixed
one-minute windows, and a call reaches the server a few milliseconds earlier or later than its booked slot, so
spacing calls exactly ``60 / N`` seconds apart now and then puts ``N + 1`` calls into one window.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Hashable

#: Fraction of the per-minute rate left unused by the process-wide limiters (2 %: 1.2 s of jitter a minute).
DEFAULT_HEADROOM = 0.02


class RateLimiter:
    """An even-spacing limiter (GCRA) with a burst allowance and 429 feedback.

    ``headroom`` widens the spacing by that fraction (0.02: calls 2 % further apart than ``calls_per_minute``).
    """

    def __init__(
        self,
        calls_per_minute: float,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        headroom: float = 0.0,
    ) -> None:
        self.calls_per_minute = calls_per_minute
        self.headroom = max(0.0, headroom)
        self.interval = 60.0 / calls_per_minute * (1.0 + self.headroom) if calls_per_minute > 0 else 0.0
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

    def set_rate(self, calls_per_minute: float) -> None:
        """Change the rate, keeping the booked slots and any 429 block."""
        with self._lock:
            self.calls_per_minute = calls_per_minute
            self.interval = 60.0 / calls_per_minute * (1.0 + self.headroom) if calls_per_minute > 0 else 0.0

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
    """One limiter per credential per process, spacing calls with :data:`DEFAULT_HEADROOM`.

    A caller asking for another rate (a changed connection extra) re-rates the same limiter: every transport of
    the credential keeps sharing one budget and any 429 block.
    """

    def __init__(self, headroom: float = DEFAULT_HEADROOM) -> None:
        self.headroom = headroom
        self._limiters: dict[Hashable, RateLimiter] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, calls_per_minute: float) -> RateLimiter:
        with self._lock:
            limiter = self._limiters.get(key)
            if limiter is None:
                limiter = self._limiters[key] = RateLimiter(calls_per_minute, headroom=self.headroom)
            elif limiter.calls_per_minute != calls_per_minute:
                limiter.set_rate(calls_per_minute)
            return limiter

    def reset(self) -> None:
        with self._lock:
            self._limiters.clear()


#: The limiters every hook and trigger of this process uses.
RATE_LIMITERS = RateLimiterRegistry()
