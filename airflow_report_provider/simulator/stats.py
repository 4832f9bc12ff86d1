"""Counters and request records, readable from the test thread while the server runs."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field, fields

SECRET_QUERY_KEYS = {"sig", "client_secret", "access_token"}
KEPT_HEADER_VALUES = {
    "user-agent",
    "accept",
    "accept-encoding",
    "content-type",
    "content-length",
    "range",
    "host",
    "connection",
    "wm_svc.name",
    "wm_qos.correlation_id",
    "wm_consumer.channel.type",
    "wm_market",
    "wm_global_version",
}


@dataclass
class RequestRecord:
    """One request as seen by the simulator; header values are kept only for non-secret headers."""

    endpoint: str
    method: str
    path: str
    query: str
    headers: dict[str, str]  # header name -> value, or "<redacted>" for anything not in KEPT_HEADER_VALUES
    time: float  # simulator clock
    status: int | None = None

    @property
    def header_names(self) -> set[str]:
        return {h.lower() for h in self.headers}

    @property
    def user_agent(self) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == "user-agent"), None)


def redact_query(query: dict[str, str]) -> str:
    """Query string with secret values (signatures, secrets) replaced."""
    return "&".join(f"{k}={'<redacted>' if k in SECRET_QUERY_KEYS else v}" for k, v in query.items())


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: (v if k.lower() in KEPT_HEADER_VALUES else "<redacted>") for k, v in headers.items()}


@dataclass
class Stats:
    """What the simulator answered; `reset()` clears everything."""

    calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    tokens_issued: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    throttled: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    status_codes: Counter = field(default_factory=Counter)
    requests: list[RequestRecord] = field(default_factory=list)
    max_records: int = 200_000  # the oldest tenth is dropped past this
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, rec: RequestRecord) -> None:
        with self._lock:
            self.calls[rec.endpoint] += 1
            self.requests.append(rec)
            if len(self.requests) > self.max_records:
                del self.requests[: len(self.requests) - self.max_records + self.max_records // 10]

    def answered(self, rec: RequestRecord, status: int) -> None:
        with self._lock:
            if rec.status is not None:  # already recorded when the headers went out
                return
            rec.status = status
            self.status_codes[(rec.endpoint, status)] += 1
            if status == 429:
                self.throttled[rec.endpoint] += 1

    def token_issued(self, api: str) -> None:
        with self._lock:
            self.tokens_issued[api] += 1

    def total_calls(self) -> int:
        return sum(self.calls.values())

    def records(self, endpoint: str | None = None) -> list[RequestRecord]:
        """A snapshot of the request records, optionally for one endpoint."""
        with self._lock:
            return [r for r in self.requests if endpoint is None or r.endpoint == endpoint]

    def reset(self) -> None:
        """Empty every counter and the request records."""
        with self._lock:
            for f in fields(self):
                value = getattr(self, f.name)
                if isinstance(value, (dict, list)):
                    value.clear()
