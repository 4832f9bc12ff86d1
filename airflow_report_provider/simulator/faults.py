"""Injected faults: the next N calls of an endpoint answer a status, are delayed, or are cut mid-body."""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

ENDPOINTS = (
    "criteo.token",
    "criteo.create",
    "criteo.status",
    "criteo.download",
    "walmart.token",
    "walmart.token_detail",
    "walmart.create",
    "walmart.status",
    "walmart.list",
    "walmart.download_url",
    "walmart.blob",
)


@dataclass
class Fault:
    """What to do to a call. `status` answers an error with the API's envelope (`body`/`headers` override
    or add); `cut_after_bytes` sends the real headers (full Content-Length) and N body bytes then closes
    the connection; `delay` (seconds, wall time) waits before answering."""

    status: int | None = None
    times: int = 1
    cut_after_bytes: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    delay: float | None = None


class FaultRegistry:
    """FIFO queue of faults per endpoint name; thread-safe."""

    def __init__(self) -> None:
        self._queues: dict[str, deque[Fault]] = defaultdict(deque)
        self._lock = threading.Lock()

    def add(self, endpoint: str, fault: Fault) -> None:
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; one of {', '.join(ENDPOINTS)}")
        if fault.times < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            self._queues[endpoint].append(fault)

    def take(self, endpoint: str) -> Fault | None:
        """The fault for this call, if any (consumes one of its `times`)."""
        if not self._queues.get(endpoint):
            return None
        with self._lock:
            queue = self._queues.get(endpoint)
            if not queue:
                return None
            fault = queue[0]
            fault.times -= 1
            if fault.times <= 0:
                queue.popleft()
            return fault

    def pending(self, endpoint: str | None = None) -> int:
        """Calls still to be faulted (for one endpoint or all)."""
        with self._lock:
            queues = [self._queues.get(endpoint, deque())] if endpoint else list(self._queues.values())
            return sum(f.times for q in queues for f in q)

    def clear(self) -> None:
        with self._lock:
            self._queues.clear()
