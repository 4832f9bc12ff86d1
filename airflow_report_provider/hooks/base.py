"""Hook machinery shared by every API: connection settings, and the sync / async transports built from them.

An API's hooks only say which protocol to build from a connection (:meth:`ReportApiHookBase.build_protocol`)
and which calls to make; tokens, retries, rate limits and sessions live in ``common/``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

from airflow.sdk import BaseHook

from airflow_report_provider.common.exceptions import ReportValidationError
from airflow_report_provider.common.protocol import ApiProtocol, Credentials
from airflow_report_provider.common.retry import RetryPolicy
from airflow_report_provider.common.states import ReportStatus
from airflow_report_provider.common.transport import LOOP_TURNS, AsyncTransport, SyncTransport


@dataclass(frozen=True)
class ConnectionSettings:
    """What a connection holds, parsed once: credentials, extras and the transport options derived from them."""

    credentials: Credentials
    extra: dict[str, Any] = field(default_factory=dict)
    calls_per_minute: float | None = None
    verify: bool = True
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    @classmethod
    def from_connection(cls, conn: Any, *, default_host: str, conn_id: str) -> ConnectionSettings:
        extra = _extra_dict(conn, conn_id)
        host = (conn.host or "").strip() or default_host
        if "://" not in host:
            host = f"https://{host}"
        if conn.port and f":{conn.port}" not in host.split("://", 1)[1]:
            host = f"{host.rstrip('/')}:{conn.port}"
        if not conn.login or not conn.password:
            raise ReportValidationError(f"connection {conn_id!r}", "needs the client id as login and the client secret as password")
        rate = extra.get("max_calls_per_minute")
        try:
            calls_per_minute = None if rate in (None, "") else float(rate)
        except (TypeError, ValueError):
            raise ReportValidationError(f"connection {conn_id!r} extra max_calls_per_minute", "must be a number", rate) from None
        return cls(
            credentials=Credentials(host=host.rstrip("/"), client_id=conn.login, client_secret=conn.password),
            extra=extra,
            calls_per_minute=calls_per_minute,
            verify=_truthy(extra.get("verify_ssl", extra.get("verify", True))),
            retry=RetryPolicy.from_extra(extra),
        )


def _extra_dict(conn: Any, conn_id: str) -> dict[str, Any]:
    extra = getattr(conn, "extra_dejson", None)
    if extra is None:
        raw = getattr(conn, "extra", None) or "{}"
        try:
            extra = json.loads(raw)
        except ValueError:
            raise ReportValidationError(f"connection {conn_id!r} extra", "must be a JSON object") from None
    return dict(extra or {})


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("false", "0", "no", "off")
    return bool(value)


class ReportApiHookBase(BaseHook):
    """Common base of the sync and async hooks of every API."""

    conn_name_attr: ClassVar[str]
    default_conn_name: ClassVar[str]
    conn_type: ClassVar[str]
    hook_name: ClassVar[str]
    default_host: ClassVar[str]

    def __init__(self, conn_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id or self.default_conn_name
        self._settings: ConnectionSettings | None = None
        self._protocol: ApiProtocol | None = None

    def build_protocol(self, settings: ConnectionSettings) -> ApiProtocol:
        """The API's sans-IO protocol configured from the connection."""
        raise NotImplementedError

    def _configure(self, conn: Any) -> ConnectionSettings:
        self._settings = ConnectionSettings.from_connection(conn, default_host=self.default_host, conn_id=self.conn_id)
        self._protocol = self.build_protocol(self._settings)
        return self._settings

    def _transport_kwargs(self) -> dict[str, Any]:
        assert self._settings is not None
        return {
            "retry": self._settings.retry,
            "calls_per_minute": self._settings.calls_per_minute,
            "verify": self._settings.verify,
        }

    @property
    def protocol(self) -> ApiProtocol:
        if self._protocol is None:
            raise RuntimeError("the hook's connection has not been loaded yet")
        return self._protocol


class ReportApiHook(ReportApiHookBase):
    """Blocking hook base: the connection is read on first use, then one :class:`SyncTransport` serves all calls."""

    def __init__(self, conn_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(conn_id, **kwargs)
        self._transport: SyncTransport | None = None

    def get_job_status(self, job_id: str) -> ReportStatus:
        """The report job's current status (each API's hook names its own method; this is the common name)."""
        raise NotImplementedError

    def get_conn(self) -> SyncTransport:
        """The transport for this connection (created once)."""
        if self._transport is None:
            settings = self._configure(self.get_connection(self.conn_id))
            self._transport = SyncTransport(self._protocol, settings.credentials, **self._transport_kwargs())  # type: ignore[arg-type]
        return self._transport

    @property
    def transport(self) -> SyncTransport:
        return self.get_conn()

    @property
    def protocol(self) -> ApiProtocol:
        """The protocol configured from the connection (read on first use)."""
        self.get_conn()
        return super().protocol


class ReportApiAsyncHook(ReportApiHookBase):
    """Non-blocking hook base: the connection is looked up asynchronously, never blocking the event loop."""

    def __init__(self, conn_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(conn_id, **kwargs)
        self._transport: AsyncTransport | None = None

    async def get_transport(self) -> AsyncTransport:
        """The transport for this connection (the connection is fetched once, asynchronously)."""
        if self._transport is None:
            # One lookup per loop iteration: hundreds of triggers starting together would otherwise run their
            # (CPU-bound: secrets masking) lookups in one iteration and stall the triggerer's loop.
            async with LOOP_TURNS.turn():
                conn = await self.aget_connection(self.conn_id)
            settings = self._configure(conn)
            self._transport = AsyncTransport(self._protocol, settings.credentials, **self._transport_kwargs())  # type: ignore[arg-type]
        return self._transport
