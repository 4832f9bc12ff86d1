"""Hooks for Criteo Marketplace Performance Outcomes real-time report exports.

Both hooks drive :mod:`airflow_report_provider.apis.criteo_mpo` through the shared transports: one token per
credential per process, a 40 calls/min limiter per credential, retries per :mod:`common.retry`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from airflow_report_provider.apis.criteo_mpo import (
    CRITEO_DEFAULT_API_VERSION,
    CRITEO_DEFAULT_HOST,
    CriteoMpoProtocol,
    CriteoReportRequest,
    validate_report_id,
)
from airflow_report_provider.common import lineage
from airflow_report_provider.common.exceptions import RateLimitedError, ServerError, TransportError
from airflow_report_provider.common.states import ReportStatus
from airflow_report_provider.common.streaming import ByteOpener, OpenedBody
from airflow_report_provider.common.transport import DEFAULT_CHUNK_SIZE
from airflow_report_provider.hooks.base import ConnectionSettings, ReportApiAsyncHook, ReportApiHook

#: How many times a create is re-sent after a throttled or failed attempt. Safe because Criteo answers an
#: identical request with the export it already made (cached identical requests) instead of a new one.
CREATE_ATTEMPTS = 4


class _CriteoMpoConnection:
    """Connection metadata and protocol construction shared by the sync and async hooks."""

    conn_name_attr = "criteo_mpo_conn_id"
    default_conn_name = "criteo_mpo_default"
    conn_type = "criteo_mpo"
    hook_name = "Criteo MPO"
    default_host = CRITEO_DEFAULT_HOST

    def build_protocol(self, settings: ConnectionSettings) -> CriteoMpoProtocol:
        version = str(settings.extra.get("api_version") or CRITEO_DEFAULT_API_VERSION)
        return CriteoMpoProtocol(host=settings.credentials.host, api_version=version)

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            "hidden_fields": ["schema", "port"],
            "relabeling": {"host": "API base URL", "login": "Client ID", "password": "Client secret"},
            "placeholders": {"host": CRITEO_DEFAULT_HOST, "extra": '{"api_version": "preview"}'},
        }


def _create_retry_delay(error: Exception, attempt: int, base: float, report: CriteoReportRequest) -> float | None:
    """Seconds to wait before re-sending a create, or ``None`` when the error is final.

    A throttled create was not processed: always safe to send again. After a 5xx or a cut connection the
    export may exist; only a request with absolute dates is sent again, because Criteo answers an identical
    request with its cached export. A relative (lookback) window is a new request every time: not re-sent.
    """
    if isinstance(error, RateLimitedError):
        return error.retry_after if error.retry_after is not None else base * 2**attempt
    if isinstance(error, (ServerError, TransportError)) and report.start_date is not None:
        return base * 2**attempt
    return None


class CriteoMpoHook(_CriteoMpoConnection, ReportApiHook):
    """Blocking hook: create an export, read its status, stream its bytes.

    :param criteo_mpo_conn_id: a ``criteo_mpo`` connection (host, client id as login, client secret as password).
    """

    def __init__(self, criteo_mpo_conn_id: str = "criteo_mpo_default", **kwargs: Any) -> None:
        super().__init__(criteo_mpo_conn_id, **kwargs)
        self.criteo_mpo_conn_id = self.conn_id

    def create_report(self, report: CriteoReportRequest) -> ReportStatus:
        """Submit an export job; an identical earlier request may answer with its (cached) export id."""
        transport = self.get_conn()
        request = self.protocol.create_request(report)
        for attempt in range(CREATE_ATTEMPTS):
            try:
                return self.protocol.parse_job(transport.send(request))
            except (RateLimitedError, ServerError, TransportError) as exc:
                delay = _create_retry_delay(exc, attempt, transport.retry.base_delay, report)
                if delay is None or attempt + 1 >= CREATE_ATTEMPTS or delay > transport.retry.max_delay:
                    raise
                self.log.warning("Creating the export failed (%s); sending the identical request again in %.1f s", exc, delay)
                time.sleep(delay)
        raise AssertionError("unreachable")

    def get_report_status(self, report_id: str) -> ReportStatus:
        """The export's current status (Pending, Done, Failure, Expired)."""
        report_id = validate_report_id(report_id)
        return self.protocol.parse_job(self.get_conn().send(self.protocol.status_request(report_id)))

    get_job_status = get_report_status

    def open_download(self, report_id: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> ByteOpener:
        """An opener of the export's bytes (resumable with HTTP Range) for the streaming writer."""
        report_id = validate_report_id(report_id)
        transport = self.get_conn()
        request = self.protocol.download_request(report_id)
        lineage.record_hook_input(self, lineage.criteo_report_name(None, None, report_id=report_id))

        def opener(offset: int) -> contextlib.AbstractContextManager[OpenedBody]:
            return transport.open_stream(request, offset=offset, chunk_size=chunk_size)

        return opener

    def iter_report(self, report_id: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
        """The export's bytes in bounded chunks (never the whole body in memory)."""
        with self.open_download(report_id, chunk_size)(0) as body:
            yield from body.chunks

    def test_connection(self) -> tuple[bool, str]:
        """Fetch a token: proves the host and the credentials."""
        try:
            self.get_conn().token()
        except Exception as exc:
            return False, str(exc)
        return True, "Connection to Criteo succeeded: a token was issued"


class CriteoMpoAsyncHook(_CriteoMpoConnection, ReportApiAsyncHook):
    """Non-blocking hook used by triggers: status calls and downloads over the loop's shared aiohttp session.

    :param criteo_mpo_conn_id: a ``criteo_mpo`` connection.
    """

    def __init__(self, criteo_mpo_conn_id: str = "criteo_mpo_default", **kwargs: Any) -> None:
        super().__init__(criteo_mpo_conn_id, **kwargs)
        self.criteo_mpo_conn_id = self.conn_id

    async def create_report(self, report: CriteoReportRequest) -> ReportStatus:
        """Submit an export job (not retried by the transport; see :class:`CriteoMpoHook.create_report`)."""
        transport = await self.get_transport()
        return self.protocol.parse_job(await transport.send(self.protocol.create_request(report)))  # type: ignore[attr-defined]

    async def get_report_status(self, report_id: str) -> ReportStatus:
        """The export's current status."""
        report_id = validate_report_id(report_id)
        transport = await self.get_transport()
        return self.protocol.parse_job(await transport.send(self.protocol.status_request(report_id)))  # type: ignore[attr-defined]

    async def iter_report(self, report_id: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> AsyncIterator[bytes]:
        """The export's bytes in bounded chunks."""
        report_id = validate_report_id(report_id)
        transport = await self.get_transport()
        async for chunk in transport.iter_download(self.protocol.download_request(report_id), chunk_size):  # type: ignore[attr-defined]
            yield chunk

    async def test_connection(self) -> tuple[bool, str]:
        try:
            transport = await self.get_transport()
            await transport.token()
        except Exception as exc:
            return False, str(exc)
        return True, "Connection to Criteo succeeded: a token was issued"
