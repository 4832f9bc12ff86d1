"""Hook machinery shared by every API: connection settings, and the sync / async transports built from them.

An API's hooks only say which protocol to build from a connection (:meth:`ReportApiHookBase.build_protocol`)
and which calls to make; tokens, retries, rate limits and sessions live in ``common/``.
"""

from __future__ import annotations

import json
import logging
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from airflow_report_provider.compat import BaseHook, aget_connection, conf

from airflow_report_provider.common.exceptions import ReportValidationError
from airflow_report_provider.common.http.messages import HttpRequest
from airflow_report_provider.common.http.protocol import ApiProtocol, Credentials
from airflow_report_provider.common.http.retry import RetryPolicy
from airflow_report_provider.common.states import ReportStatus
from airflow_report_provider.common.http.transport import LOOP_TURNS, AsyncTransport, SyncTransport
from airflow_report_provider.hooks.connections import CONNECTION_LOOKUPS
from airflow_report_provider.hooks.extras import COMMON_EXTRAS, Parser, parse_extras


@dataclass(frozen=True)
class ConnectionSettings:
    """What a connection holds, parsed once: credentials, extras and the transport options derived from them."""

    credentials: Credentials
    extra: dict[str, Any] = field(default_factory=dict)
    calls_per_minute: float | None = None
    verify: bool = True
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    proxy: str | None = None
    rate_limit_storage: str | None = None

    @classmethod
    def from_connection(
        cls, conn: Any, *, default_host: str, conn_id: str, api_extras: Mapping[str, Parser] | None = None
    ) -> ConnectionSettings:
        """Parse and validate a connection; every error names the field (``connection 'x' extra max_retries``)."""
        raw_extra = _extra_dict(conn, conn_id)
        host = (conn.host or "").strip() or default_host
        if "://" not in host:
            host = f"https://{host}"
        if conn.port and f":{conn.port}" not in host.split("://", 1)[1]:
            host = f"{host.rstrip('/')}:{conn.port}"
        if not conn.login or not conn.password:
            raise ReportValidationError(f"connection {conn_id!r}", "needs the client id as login and the client secret as password")
        extra = parse_extras(raw_extra, {**COMMON_EXTRAS, **(api_extras or {})}, conn_id)
        default = RetryPolicy()
        return cls(
            credentials=Credentials(host=host.rstrip("/"), client_id=conn.login, client_secret=conn.password),
            extra=extra,
            calls_per_minute=extra.get("max_calls_per_minute"),
            verify=extra.get("verify_ssl", True),
            retry=RetryPolicy(
                max_attempts=extra.get("max_retries", default.max_attempts - 1) + 1,
                base_delay=extra.get("retry_base_delay", default.base_delay),
                max_delay=extra.get("retry_max_delay", default.max_delay),
            ),
            proxy=extra.get("proxy"),
            rate_limit_storage=extra.get("rate_limit_storage"),
        )


def _extra_dict(conn: Any, conn_id: str) -> Mapping[str, Any]:
    extra = getattr(conn, "extra_dejson", None)
    if extra is None:
        raw = getattr(conn, "extra", None) or "{}"
        try:
            extra = json.loads(raw)
        except ValueError:
            raise ReportValidationError(f"connection {conn_id!r} extra", "must be a JSON object") from None
    if not isinstance(extra, Mapping):
        raise ReportValidationError(f"connection {conn_id!r} extra", "must be a JSON object")
    return extra


class ReportApiHookBase(BaseHook):
    """Common base of the sync and async hooks of every API.

    Each API declares the class attributes below, :meth:`build_protocol` and (optionally) :meth:`probe_request`
    once, in a mixin its sync and async hooks share; the hooks themselves only add the API's calls.
    """

    conn_name_attr: ClassVar[str]
    default_conn_name: ClassVar[str]
    conn_type: ClassVar[str]
    hook_name: ClassVar[str]
    default_host: ClassVar[str]
    #: The API's own connection extras (besides :data:`COMMON_EXTRAS`), each with its parser.
    api_extras: ClassVar[Mapping[str, Parser]] = {}
    #: The API's job statuses (as it spells them, case-insensitive); any other is warned about once.
    known_statuses: ClassVar[frozenset[str]] = frozenset()
    #: What :meth:`test_connection` answers when the connection works.
    connection_ok_message: ClassVar[str]

    def __init__(self, conn_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id or self.default_conn_name
        setattr(self, self.conn_name_attr, self.conn_id)  # also under the API's own name ("criteo_mpo_conn_id")
        self._settings: ConnectionSettings | None = None
        self._protocol: ApiProtocol | None = None

    def build_protocol(self, settings: ConnectionSettings) -> ApiProtocol:
        """The API's sans-IO protocol configured from the connection."""
        raise NotImplementedError

    def probe_request(self) -> HttpRequest | None:
        """The call :meth:`test_connection` sends to prove the host and the credentials (the protocol is loaded);
        ``None``: a token alone proves them."""
        return None

    def _configure(self, conn: Any) -> ConnectionSettings:
        self._settings = ConnectionSettings.from_connection(
            conn, default_host=self.default_host, conn_id=self.conn_id, api_extras=self.api_extras
        )
        self._protocol = self.build_protocol(self._settings)
        return self._settings

    def _transport_kwargs(self) -> dict[str, Any]:
        assert self._settings is not None
        return {
            "retry": self._settings.retry,
            "calls_per_minute": self._settings.calls_per_minute,
            "verify": self._settings.verify,
            "proxy": self._settings.proxy,
            "rate_limit_storage": self._settings.rate_limit_storage or configured_rate_limit_storage(),
        }

    def checked(self, status: ReportStatus) -> ReportStatus:
        """``status``, after warning (once per process per API and status) about a status the API does not
        document: it is treated as not finished yet, so a wait would run to its deadline."""
        warn_unknown_status(self.hook_name, status.raw_status, self.known_statuses)
        return status

    @property
    def protocol(self) -> ApiProtocol:
        if self._protocol is None:
            raise RuntimeError("the hook's connection has not been loaded yet")
        return self._protocol


log = logging.getLogger(__name__)

def configured_rate_limit_storage() -> str | None:
    """``[report_provider] rate_limit_storage`` from Airflow's configuration (every connection), if set."""
    try:
        value = conf.get("report_provider", "rate_limit_storage", fallback=None)
    except Exception:
        return None
    if not value or not str(value).strip():
        return None
    return COMMON_EXTRAS["rate_limit_storage"]("[report_provider] rate_limit_storage", value)


_WARNED_STATUSES: set[tuple[str, str]] = set()
_WARNED_LOCK = threading.Lock()


def warn_unknown_status(api: str, raw_status: str, known: frozenset[str]) -> None:
    """Log a warning the first time this process sees ``raw_status`` from ``api`` when it is not in ``known``."""
    if not known or raw_status.lower() in known:
        return
    with _WARNED_LOCK:
        if (api, raw_status) in _WARNED_STATUSES:
            return
        _WARNED_STATUSES.add((api, raw_status))
    log.warning(
        "%s answered a job status this provider does not know: %r; treating it as not finished yet", api, raw_status
    )


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
            transport = SyncTransport(self._protocol, settings.credentials, **self._transport_kwargs())  # type: ignore[arg-type]
            # Closed with the hook, or when the hook is garbage-collected without being closed.
            self._finalizer = weakref.finalize(self, transport.close)
            self._transport = transport
        return self._transport

    def close(self) -> None:
        """Close the transport's HTTP session (its pooled connections); a later call opens a new one."""
        if self._transport is not None:
            self._finalizer()
            self._transport = None

    def test_connection(self) -> tuple[bool, str]:
        """Fetch a token, then send :meth:`probe_request` if the API has one (the session is closed afterwards)."""
        try:
            transport = self.get_conn()
            probe = self.probe_request()
            if probe is None:
                transport.token()
            else:
                transport.send(probe)
        except Exception as exc:
            return False, str(exc)
        finally:
            self.close()
        return True, self.connection_ok_message

    def __enter__(self) -> ReportApiHook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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

    async def get_job_status(self, job_id: str) -> ReportStatus:
        """The report job's current status (each API's hook names its own method; this is the common name)."""
        raise NotImplementedError

    async def _lookup_connection(self, conn_id: str) -> Any:
        # One lookup per loop iteration: lookups of several connections starting together would otherwise run their
        # (CPU-bound: secrets masking) work in one iteration and stall the triggerer's loop.
        async with LOOP_TURNS.turn():
            return await aget_connection(self, conn_id)

    async def get_transport(self) -> AsyncTransport:
        """The transport for this connection (the connection is fetched once, asynchronously)."""
        if self._transport is None:
            conn = await CONNECTION_LOOKUPS.get(self.conn_id, self._lookup_connection)
            settings = self._configure(conn)
            self._transport = AsyncTransport(self._protocol, settings.credentials, **self._transport_kwargs())  # type: ignore[arg-type]
        return self._transport

    async def test_connection(self) -> tuple[bool, str]:
        """As :meth:`ReportApiHook.test_connection`, on the loop's shared session."""
        try:
            transport = await self.get_transport()
            probe = self.probe_request()
            await (transport.token() if probe is None else transport.send(probe))
        except Exception as exc:
            return False, str(exc)
        return True, self.connection_ok_message
