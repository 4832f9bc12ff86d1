"""One access token per credential per process, shared by every sync hook, async hook and trigger.

Tokens are renewed ``refresh_margin`` seconds (60 by default) before they expire. At most one refresh per
credential is in flight: threads wait on a lock, coroutines of one event loop wait on an asyncio lock, and
whoever gets the lock second finds the fresh token and does not fetch again.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Awaitable, Callable, Hashable

from airflow_report_provider.common.http.loops import PerLoop
from airflow_report_provider.common.http.protocol import AccessToken
from airflow_report_provider.common.observability.redaction import mask_secret

DEFAULT_REFRESH_MARGIN = 60.0


class TokenCache:
    """Process-wide token store keyed by credential (see :attr:`Credentials.cache_key`)."""

    def __init__(self, refresh_margin: float = DEFAULT_REFRESH_MARGIN, clock: Callable[[], float] = time.time) -> None:
        self.refresh_margin = refresh_margin
        self.clock = clock
        self._tokens: dict[Hashable, tuple[AccessToken, float]] = {}
        self._guard = threading.Lock()
        self._thread_locks: dict[Hashable, threading.Lock] = {}
        self._loop_locks: PerLoop[dict[Hashable, asyncio.Lock]] = PerLoop(dict)
        self.fetches = 0

    def _fresh(self, key: Hashable) -> AccessToken | None:
        entry = self._tokens.get(key)
        if entry is None:
            return None
        token, lifetime = entry
        # A token that lives less than twice the margin is renewed at half its life instead.
        margin = min(self.refresh_margin, lifetime / 2)
        return token if token.is_fresh(margin, self.clock()) else None

    def _thread_lock(self, key: Hashable) -> threading.Lock:
        with self._guard:
            return self._thread_locks.setdefault(key, threading.Lock())

    def _loop_lock(self, key: Hashable) -> asyncio.Lock:
        # Only the running loop's coroutines use its locks: no thread lock is needed past PerLoop's own.
        return self._loop_locks.get().setdefault(key, asyncio.Lock())

    def _store(self, key: Hashable, token: AccessToken) -> str:
        with self._guard:
            self._tokens[key] = (token, max(0.0, token.expires_at - self.clock()))
            self.fetches += 1
        return token.value

    def get(self, key: Hashable, fetch: Callable[[], AccessToken]) -> str:
        """The cached token, fetching a new one (once, under a lock) when missing or about to expire."""
        token = self._fresh(key)
        if token is not None:
            return token.value
        with self._thread_lock(key):
            token = self._fresh(key)
            if token is not None:
                return token.value
            return self._store(key, fetch())

    async def aget(self, key: Hashable, fetch: Callable[[], Awaitable[AccessToken]]) -> str:
        """Async form of :meth:`get`: one refresh in flight per credential per event loop."""
        token = self._fresh(key)
        if token is not None:
            return token.value
        async with self._loop_lock(key):
            token = self._fresh(key)
            if token is not None:
                return token.value
            return self._store(key, await fetch())

    def invalidate(self, key: Hashable, rejected: str | None = None) -> None:
        """Forget the token (only if it is still the rejected one, so concurrent callers refresh once)."""
        with self._guard:
            entry = self._tokens.get(key)
            if entry is not None and (rejected is None or entry[0].value == rejected):
                del self._tokens[key]

    def clear(self) -> None:
        with self._guard:
            self._tokens.clear()


#: The cache every hook and trigger of this process uses.
TOKEN_CACHE = TokenCache()


def _unmask(value: str) -> None:
    """Take a retired token out of Airflow's masker (its pattern set and compiled expression); no-op elsewhere."""
    try:
        from airflow_report_provider.compat import secrets_masker
    except Exception:  # pragma: no cover - Airflow missing
        return
    masker = secrets_masker()
    patterns = getattr(masker, "patterns", None)
    pattern = re.escape(value)
    if not isinstance(patterns, set) or pattern not in patterns:
        return
    patterns.discard(pattern)
    masker.replacer = re.compile("|".join(patterns)) if patterns else None


class TokenMasks:
    """Each credential's current token registered with Airflow's secret masker, and only that one.

    Every new secret adds a pattern to the masker (one regular expression of all of them, run on every log line).
    A triggerer that lives for weeks refreshes each credential's token many times a day: the token a refresh
    replaces (never sent again by this process) leaves the masker, so it holds one pattern per credential.
    """

    def __init__(
        self, mask: Callable[[str], None] = mask_secret, unmask: Callable[[str], None] = _unmask
    ) -> None:
        self._mask, self._unmask = mask, unmask
        self._current: dict[Hashable, str] = {}
        self._lock = threading.Lock()

    def register(self, key: Hashable, value: str) -> None:
        with self._lock:
            previous = self._current.get(key)
            if previous == value:
                return
            self._current[key] = value
            in_use = previous is not None and previous in self._current.values()
        self._mask(value)
        if previous is not None and not in_use:
            self._unmask(previous)

    def clear(self) -> None:
        with self._lock:
            self._current.clear()


#: The masks every transport of this process registers its tokens with.
TOKEN_MASKS = TokenMasks()
