"""Simulator state: a movable clock, tokens, rate-limit windows and the jobs of both APIs."""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


class Clock:
    """Wall time plus an offset that `advance` moves forward (all timing in the simulator uses it)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def utcnow(self) -> datetime:
        return datetime.fromtimestamp(self.now(), UTC)


def iso_z(ts: float) -> str:
    """`YYYY-MM-DDTHH:mm:ssZ` for a Unix time."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Token:
    """An issued access token."""

    api: str
    client_id: str
    issued_at: float
    expires_at: float


class TokenStore:
    """Opaque random tokens per API; several may be valid at once."""

    def __init__(self) -> None:
        self._tokens: dict[str, Token] = {}
        self._lock = threading.Lock()

    def issue(self, api: str, client_id: str, now: float, lifetime: float) -> tuple[str, Token]:
        value = secrets.token_urlsafe(32)
        tok = Token(api, client_id, now, now + lifetime)
        with self._lock:
            if len(self._tokens) > 50_000:
                self._tokens = {k: t for k, t in self._tokens.items() if t.expires_at > now - 3600}
            self._tokens[value] = tok
        return value, tok

    def check(self, api: str, value: str | None, now: float) -> tuple[str, Token | None]:
        """("ok" | "invalid" | "expired", token)."""
        tok = self._tokens.get(value or "")
        if tok is None or tok.api != api:
            return "invalid", None
        if now >= tok.expires_at:
            return "expired", tok
        return "ok", tok

    def expire_all(self, now: float) -> None:
        with self._lock:
            for tok in self._tokens.values():
                tok.expires_at = min(tok.expires_at, now)


class FixedWindowLimiter:
    """Calls per key in fixed windows aligned on multiples of `period` seconds (simulator clock)."""

    def __init__(self) -> None:
        self._windows: dict[Any, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def hit(self, key: Any, limit: int, period: float, now: float) -> tuple[bool, int, float]:
        """Count one call; returns (allowed, remaining after this call, window end time)."""
        window = int(now // period)
        with self._lock:
            w, count = self._windows.get(key, (window, 0))
            if w != window:
                count = 0
            allowed = count < limit
            if allowed:
                count += 1
            self._windows[key] = (window, count)
        return allowed, max(0, limit - count), (window + 1) * period


class SlidingLog:
    """Event times per key over a sliding period (Walmart's one create per report type per hour)."""

    def __init__(self) -> None:
        self._events: dict[Any, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def check_and_add(self, key: Any, limit: int, period: float, now: float) -> tuple[bool, int, float]:
        """(allowed, tokens left, next replenishment time); records the event when allowed."""
        with self._lock:
            events = self._events[key]
            while events and events[0] <= now - period:
                events.popleft()
            if len(events) >= limit:
                return False, 0, events[0] + period
            events.append(now)
            nxt = events[0] + period
            return True, limit - len(events), nxt


# --------------------------------------------------------------------------- jobs


@dataclass
class CriteoJob:
    """One real-time export job."""

    export_id: str
    client_id: str
    attributes: dict  # normalized request attributes
    window: tuple[datetime, datetime]
    created_at: float
    done_at: float
    outcome: str  # Done | Failure | Expired
    ttl: float
    rows: int
    report_bytes: int | None
    seed: int
    cache_key: str | None = None
    rows_count: int | None = None  # known once the content was built
    first_reported_done_at: float | None = None  # first status answer showing a terminal state

    def status(self, now: float) -> str:
        if now < self.done_at:
            return "Pending"
        if self.outcome == "Done" and now >= self.done_at + self.ttl:
            return "Expired"
        return self.outcome

    @property
    def file_format(self) -> str:
        return self.attributes["fileFormat"]


@dataclass
class WalmartRequest:
    """One on-request report request."""

    request_id: str
    client_id: str
    partner_id: str
    report_type: str
    report_version: str
    payload: dict | None
    created_at: float
    inprogress_at: float
    ready_at: float
    outcome: str  # READY | ERROR
    file_format: str
    rows: int
    report_bytes: int | None
    bom: bool
    seed: int
    file_name: str = ""
    csv_crc: int | None = None
    first_reported_done_at: float | None = None
    extra: dict = field(default_factory=dict)

    @property
    def done_at(self) -> float:
        return self.ready_at

    def status(self, now: float) -> str:
        if now < self.inprogress_at:
            return "RECEIVED"
        if now < self.ready_at:
            return "INPROGRESS"
        return self.outcome

    def as_json(self, now: float) -> dict:
        """The request object as the status/list/create calls answer it."""
        out: dict[str, Any] = {
            "requestId": self.request_id,
            "requestStatus": self.status(now),
            "requestSubmissionDate": iso_z(self.created_at),
            "reportType": self.report_type,
            "reportVersion": self.report_version,
        }
        if self.payload is not None:
            out["payload"] = self.payload
        if out["requestStatus"] == "READY":
            out["reportGenerationDate"] = iso_z(self.ready_at)
        return out


def new_id() -> str:
    """A random UUID (job ids are random; content does not depend on them)."""
    return str(uuid.uuid4())
