"""Hooks for Criteo Marketplace Performance Outcomes real-time report exports.

Both hooks drive :mod:`airflow_report_provider.apis.criteo_mpo` through the shared transports: one token per
credential per process, a 40 calls/min limiter per credential, retries per :mod:`common.retry`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

from airflow_report_provider.apis.criteo_mpo import (
    CRITEO_DEFAULT_API_VERSION,
    CRITEO_DEFAULT_HOST,
    CriteoMpoProtocol,
    STATES,
    CriteoReportRequest,
    validate_report_id,
)
from airflow_report_provider.common.observability import lineage
from airflow_report_provider.common.http.messages import HttpRequest
from airflow_report_provider.common.http.retry import RetryPolicy
from airflow_report_provider.common.states import ReportStatus
from airflow_report_provider.common.landing.streaming import ByteOpener, OpenedBody
from airflow_report_provider.common.http.transport import DEFAULT_CHUNK_SIZE
from airflow_report_provider.hooks.base import ConnectionSettings, ReportApiAsyncHook, ReportApiHook
from airflow_report_provider.hooks.extras import text
from airflow_report_provider.hooks.forms import connection_form

#: How many POSTs one create may send in all (throttled or failed attempts included). Re-sending is safe
#: because Criteo answers an identical request with the export it already made (cached identical requests).
CREATE_ATTEMPTS = 4


class _CriteoMpoConnection:
    """What both Criteo hooks declare (see :class:`ReportApiHookBase`): a token alone proves a connection."""

    conn_name_attr = "criteo_mpo_conn_id"
    default_conn_name = "criteo_mpo_default"
    conn_type = "criteo_mpo"
    hook_name = "Criteo MPO"
    default_host = CRITEO_DEFAULT_HOST
    api_extras = {"api_version": text}
    known_statuses = frozenset(STATES)
    connection_ok_message = "Connection to Criteo succeeded: a token was issued"

    def build_protocol(self, settings: ConnectionSettings) -> CriteoMpoProtocol:
        version = str(settings.extra.get("api_version") or CRITEO_DEFAULT_API_VERSION)
        return CriteoMpoProtocol(host=settings.credentials.host, api_version=version)


def create_call(protocol: CriteoMpoProtocol, report: CriteoReportRequest, retry: RetryPolicy) -> tuple[HttpRequest, RetryPolicy]:
    """The create POST and its one retry budget (the transport's loop is the only one that re-sends it).

    A throttled create was not processed: always safe to send again. After a 5xx or a cut connection the
    export may exist; only a request with absolute dates is sent again (marked idempotent), because Criteo
    answers an identical request with its cached export. A relative (lookback) window is a new request every
    time: not re-sent. At most :data:`CREATE_ATTEMPTS` POSTs in all, fewer when the connection allows fewer.
    """
    request = protocol.create_request(report)
    if report.start_date is not None:
        request = replace(request, idempotent=True)
    return request, replace(retry, max_attempts=max(1, min(retry.max_attempts, CREATE_ATTEMPTS)))


class CriteoMpoHook(_CriteoMpoConnection, ReportApiHook):
    """Blocking hook: create an export, read its status, stream its bytes.

    :param criteo_mpo_conn_id: a ``criteo_mpo`` connection (host, client id as login, client secret as password).
    """

    # The connection form for Airflow before 3.2 (later ones read the provider info): hooks/forms.py.
    get_connection_form_widgets, get_ui_field_behaviour = connection_form("criteo_mpo")

    def __init__(self, criteo_mpo_conn_id: str = "criteo_mpo_default", **kwargs: Any) -> None:
        super().__init__(criteo_mpo_conn_id, **kwargs)

    def create_report(self, report: CriteoReportRequest) -> ReportStatus:
        """Submit an export job; an identical earlier request may answer with its (cached) export id."""
        transport = self.get_conn()
        request, retry = create_call(self.protocol, report, transport.retry)  # type: ignore[arg-type]
        return self.checked(self.protocol.parse_job(transport.send(request, retry=retry)))

    def get_report_status(self, report_id: str) -> ReportStatus:
        """The export's current status (Pending, Done, Failure, Expired)."""
        report_id = validate_report_id(report_id)
        return self.checked(self.protocol.parse_job(self.get_conn().send(self.protocol.status_request(report_id))))

    get_job_status = get_report_status

    def open_download(self, report_id: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> ByteOpener:
        """An opener of the export's bytes (resumable with HTTP Range) for the streaming writer."""
        report_id = validate_report_id(report_id)
        transport = self.get_conn()
        request = self.protocol.download_request(report_id)
        lineage.record_hook_input(self, report_id)

        def opener(offset: int) -> contextlib.AbstractContextManager[OpenedBody]:
            return transport.open_stream(request, offset=offset, chunk_size=chunk_size)

        return opener

    def iter_report(self, report_id: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
        """The export's bytes in bounded chunks (never the whole body in memory)."""
        with self.open_download(report_id, chunk_size)(0) as body:
            yield from body.chunks


class CriteoMpoAsyncHook(_CriteoMpoConnection, ReportApiAsyncHook):
    """Non-blocking hook used by triggers: status calls and downloads over the loop's shared aiohttp session.

    :param criteo_mpo_conn_id: a ``criteo_mpo`` connection.
    """

    def __init__(self, criteo_mpo_conn_id: str = "criteo_mpo_default", **kwargs: Any) -> None:
        super().__init__(criteo_mpo_conn_id, **kwargs)

    async def create_report(self, report: CriteoReportRequest) -> ReportStatus:
        """Submit an export job, with the same single retry budget as :meth:`CriteoMpoHook.create_report`."""
        transport = await self.get_transport()
        request, retry = create_call(self.protocol, report, transport.retry)  # type: ignore[arg-type]
        return self.checked(self.protocol.parse_job(await transport.send(request, retry=retry)))  # type: ignore[attr-defined]

    async def get_report_status(self, report_id: str) -> ReportStatus:
        """The export's current status."""
        report_id = validate_report_id(report_id)
        transport = await self.get_transport()
        return self.checked(self.protocol.parse_job(await transport.send(self.protocol.status_request(report_id))))  # type: ignore[attr-defined]

    get_job_status = get_report_status

    async def iter_report(self, report_id: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> AsyncIterator[bytes]:
        """The export's bytes in bounded chunks."""
        report_id = validate_report_id(report_id)
        transport = await self.get_transport()
        async for chunk in transport.iter_download(self.protocol.download_request(report_id), chunk_size):  # type: ignore[attr-defined]
            yield chunk
