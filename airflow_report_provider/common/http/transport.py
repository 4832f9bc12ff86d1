"""The two transports every API shares: :class:`SyncTransport` (requests) and :class:`AsyncTransport` (aiohttp).

Both drive a protocol module from ``apis/``: they add the API's authentication from the process-wide token cache,
pass every rate-limited call through the credential's limiter, and let :class:`CallPolicy` decide about retries
(:mod:`.transport_base`), so their send loops (:mod:`.sync_transport`, :mod:`.async_transport`) are the only
per-transport code. This module is where the hooks and triggers import them from.
"""

from __future__ import annotations

from airflow_report_provider.common.http.async_transport import ASYNC_USER_AGENT, SESSIONS, AsyncTransport
from airflow_report_provider.common.http.loops import LOOP_TURNS
from airflow_report_provider.common.http.sync_transport import SYNC_USER_AGENT, SyncTransport
from airflow_report_provider.common.http.transport_base import DEFAULT_CHUNK_SIZE, DEFAULT_TIMEOUT, PRODUCT_TOKEN, log

__all__ = [
    "ASYNC_USER_AGENT",
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_TIMEOUT",
    "LOOP_TURNS",
    "PRODUCT_TOKEN",
    "SESSIONS",
    "SYNC_USER_AGENT",
    "AsyncTransport",
    "SyncTransport",
    "log",
]
