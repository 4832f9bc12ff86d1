"""Hooks for Walmart Marketplace on-request reports.

Both hooks drive :mod:`airflow_report_provider.apis.walmart` through the shared transports. Creating a report
request reattaches to a matching request of the last hour instead of spending the one-per-type-per-hour quota
twice; the pre-signed download URL is asked for right before downloading and again when it has expired.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

from airflow_report_provider.apis.walmart import (
    WALMART_DEFAULT_HOST,
    WALMART_DEFAULT_SERVICE_NAME,
    REQUEST_STATES,
    WalmartDownloadLink,
    WalmartProtocol,
    WalmartReportRequest,
    find_reusable_request,
    validate_request_id,
)
from airflow_report_provider.common.observability import lineage
from airflow_report_provider.common.exceptions import ApiError, RateLimitedError, ServerError, TransportError
from airflow_report_provider.common.observability.redaction import mask_secret, redact_url
from airflow_report_provider.common.http.messages import HttpRequest
from airflow_report_provider.common.states import ReportStatus
from airflow_report_provider.common.landing.streaming import ByteOpener, OpenedBody
from airflow_report_provider.common.http.transport import DEFAULT_CHUNK_SIZE
from airflow_report_provider.hooks.base import ConnectionSettings, ReportApiAsyncHook, ReportApiHook
from airflow_report_provider.hooks.extras import text
from airflow_report_provider.hooks.forms import connection_form

#: Requests created within this many seconds are reused instead of creating another (one per type per hour).
REUSE_WINDOW_SECONDS = 3600
#: How far ahead of this machine's clock Walmart's may run: the list's submission window ends this late.
CLOCK_SKEW = timedelta(minutes=10)


class _WalmartConnection:
    """What both Walmart hooks declare (see :class:`ReportApiHookBase`): the WM_* header extras, and the token
    detail call that proves a connection."""

    conn_name_attr = "walmart_conn_id"
    default_conn_name = "walmart_marketplace_default"
    conn_type = "walmart_marketplace"
    hook_name = "Walmart Marketplace"
    default_host = WALMART_DEFAULT_HOST
    api_extras = {"service_name": text, "channel_type": text, "market": text}
    known_statuses = frozenset(status.lower() for status in REQUEST_STATES)
    connection_ok_message = "Connection to Walmart Marketplace succeeded"

    def build_protocol(self, settings: ConnectionSettings) -> WalmartProtocol:
        extra = settings.extra
        return WalmartProtocol(
            host=settings.credentials.host,
            service_name=str(extra.get("service_name") or WALMART_DEFAULT_SERVICE_NAME),
            channel_type=extra.get("channel_type") or None,
            market=extra.get("market") or None,
        )

    def probe_request(self) -> HttpRequest:
        """Walmart's token detail (``/v3/token/detail``): the token and its scopes work."""
        return self.protocol.token_detail_request()  # type: ignore[attr-defined]


def _masked(links: list[WalmartDownloadLink]) -> list[WalmartDownloadLink]:
    """Register each pre-signed URL's query (its signature) with Airflow's secret masker."""
    for link in links:
        mask_secret(urlsplit(link.url).query)
    return links


def _now() -> datetime:
    return datetime.now(timezone.utc)


class WalmartMarketplaceHook(_WalmartConnection, ReportApiHook):
    """Blocking hook: create (or reuse) report requests, read status, list, and stream the report file.

    :param walmart_conn_id: a ``walmart_marketplace`` connection (host, client id as login, secret as password).
    """

    # The connection form for Airflow before 3.2 (later ones read the provider info): hooks/forms.py.
    get_connection_form_widgets, get_ui_field_behaviour = connection_form("walmart_marketplace")

    def __init__(self, walmart_conn_id: str = "walmart_marketplace_default", **kwargs: Any) -> None:
        super().__init__(walmart_conn_id, **kwargs)

    @property
    def walmart(self) -> WalmartProtocol:
        return self.protocol  # type: ignore[return-value]

    # -- requests ---------------------------------------------------------------------------------------------
    def create_report_request(self, report: WalmartReportRequest, *, reuse: bool = True) -> ReportStatus:
        """A request for this report: a matching one of the last hour when ``reuse``, else a new one.

        The create POST is never re-sent: after a 429 (hourly quota), a 5xx or a cut connection the recent
        requests are listed again and a match is reused; otherwise the error is raised.
        """
        if reuse:
            found = self.find_recent_request(report)
            if found is not None:
                self.log.info("Reusing report request %s (%s) made within the hour", found.job_id, found.raw_status)
                return found
        try:
            return self.walmart.parse_request(self.get_conn().send(self.walmart.create_request(report)))
        except (RateLimitedError, ServerError, TransportError) as exc:
            found = self.find_recent_request(report)
            if found is not None:
                self.log.info("Create answered %s; reusing request %s made within the hour", type(exc).__name__, found.job_id)
                return found
            raise

    def find_recent_request(self, report: WalmartReportRequest, now: datetime | None = None) -> ReportStatus | None:
        """The newest non-ERROR request of the same type, version and body submitted within the hour.

        Walmart needs both submission dates; the window ends a little after ``now`` to allow for clock skew.
        """
        now = now or _now()
        candidates = self.list_report_requests(
            report_type=report.report_type,
            report_version=report.report_version,
            submitted_after=now - timedelta(seconds=REUSE_WINDOW_SECONDS),
            submitted_before=now + CLOCK_SKEW,
        )
        return find_reusable_request(candidates, report, now, REUSE_WINDOW_SECONDS)

    def get_request_status(self, request_id: str) -> ReportStatus:
        """The request's status (RECEIVED, INPROGRESS, READY, ERROR, ...)."""
        request_id = validate_request_id(request_id)
        return self.checked(self.walmart.parse_request(self.get_conn().send(self.walmart.status_request(request_id))))

    get_job_status = get_request_status

    def list_report_requests(self, **filters: Any) -> list[ReportStatus]:
        """Every request matching the filters, following ``nextCursor`` through all pages."""
        transport = self.get_conn()
        found: list[ReportStatus] = []
        request = self.walmart.list_request(**filters)
        while True:
            page, cursor = self.walmart.parse_list(transport.send(request))
            found.extend(page)
            if not cursor:
                return found
            request = self.walmart.list_request(cursor=cursor)

    # -- download ---------------------------------------------------------------------------------------------
    def get_download_links(self, request_id: str) -> list[WalmartDownloadLink]:
        """Fresh pre-signed URL(s) of a READY report (short-lived: ask right before downloading)."""
        request_id = validate_request_id(request_id)
        return _masked(self.walmart.parse_download(self.get_conn().send(self.walmart.download_url_request(request_id))))

    def open_download(self, request_id: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> ByteOpener:
        """An opener of the report file for the streaming writer (a report split into several files raises:
        use :meth:`open_download_parts`).

        Each open asks for a new URL when the last one has expired, and once more when the blob store refuses
        the URL; resumed opens ask for HTTP Range.
        """
        lineage.record_hook_input(self, request_id)
        return self._link_opener(request_id, chunk_size, 0, [], set(), single=True)

    def open_download_parts(self, request_id: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> list[ByteOpener]:
        """One opener per file of the report, in the order the download answer lists them (a split report
        gives several); each renews its URL like :meth:`open_download`."""
        lineage.record_hook_input(self, request_id)
        links = self.get_download_links(request_id)
        if len(links) > 1:
            self.log.info("Report %s is split into %d files", request_id, len(links))
        unused = set(range(len(links)))  # just fetched: each link's first open takes it as it is
        return [self._link_opener(request_id, chunk_size, index, links, unused) for index in range(len(links))]

    def _link_opener(
        self,
        request_id: str,
        chunk_size: int,
        index: int,
        links: list[WalmartDownloadLink],
        unused: set[int],
        *,
        single: bool = False,
    ) -> ByteOpener:
        """An opener of file ``index``; ``links`` (and ``unused``: indices not opened since the links were
        fetched) are shared by the report's openers and renewed in place."""
        transport = self.get_conn()

        def fresh_link(force: bool = False) -> WalmartDownloadLink:
            if not force and index in unused:
                unused.discard(index)
                return links[index]
            if force or not links or links[index].is_expired(_now()):
                renewed = self.get_download_links(request_id)
                if single and len(renewed) > 1:
                    raise ApiError(
                        f"report {request_id} is split into {len(renewed)} files; write it with output_format "
                        "'csv', 'parquet' or 'ndjson' to land every part (nothing was written)",
                        api="walmart",
                        job_id=request_id,
                    )
                if links and len(renewed) != len(links):
                    raise ApiError(
                        f"the download answer of report {request_id} changed from {len(links)} to {len(renewed)} files",
                        api="walmart",
                        job_id=request_id,
                    )
                links[:] = renewed
                link = links[index]
                self.log.info("Download URL for %s: %s (expires %s)", request_id, link.redacted, link.expires_at)
            return links[index]

        @contextlib.contextmanager
        def opener(offset: int) -> Iterator[OpenedBody]:
            def open_with(link: WalmartDownloadLink) -> contextlib.AbstractContextManager[OpenedBody]:
                return transport.open_stream(self.walmart.blob_request(link), offset=offset, chunk_size=chunk_size)

            with contextlib.ExitStack() as stack:
                link = fresh_link()
                try:
                    body = stack.enter_context(open_with(link))
                except ApiError as exc:
                    if exc.status not in (401, 403):
                        raise
                    self.log.info("The blob store refused %s (HTTP %s); asking for a new URL", redact_url(link.url), exc.status)
                    body = stack.enter_context(open_with(fresh_link(force=True)))
                yield body

        return opener


class WalmartMarketplaceAsyncHook(_WalmartConnection, ReportApiAsyncHook):
    """Non-blocking hook used by triggers: status calls over the loop's shared aiohttp session.

    :param walmart_conn_id: a ``walmart_marketplace`` connection.
    """

    def __init__(self, walmart_conn_id: str = "walmart_marketplace_default", **kwargs: Any) -> None:
        super().__init__(walmart_conn_id, **kwargs)

    async def get_request_status(self, request_id: str) -> ReportStatus:
        """The request's status."""
        request_id = validate_request_id(request_id)
        transport = await self.get_transport()
        return self.checked(self.protocol.parse_request(await transport.send(self.protocol.status_request(request_id))))  # type: ignore[attr-defined]

    get_job_status = get_request_status

    async def get_download_links(self, request_id: str) -> list[WalmartDownloadLink]:
        """Fresh pre-signed URL(s) of a READY report."""
        request_id = validate_request_id(request_id)
        transport = await self.get_transport()
        return _masked(self.protocol.parse_download(await transport.send(self.protocol.download_url_request(request_id))))  # type: ignore[attr-defined]

    async def iter_report_file(self, request_id: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> AsyncIterator[bytes]:
        """The report file (zip, gzip or plain, as served) in bounded chunks. A report split into several files
        raises before any byte: use :meth:`iter_report_files` or :meth:`download_report_files`."""
        links = await self.get_download_links(request_id)
        if len(links) > 1:
            raise ApiError(
                f"report {request_id} is split into {len(links)} files; read them with iter_report_files",
                api="walmart",
                job_id=request_id,
            )
        async for _, chunk in self._iter_files(request_id, links, chunk_size):
            yield chunk

    async def iter_report_files(self, request_id: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> AsyncIterator[tuple[int, bytes]]:
        """Every file of the report, in the order the download answer lists them: ``(file index, chunk)``."""
        links = await self.get_download_links(request_id)
        async for item in self._iter_files(request_id, links, chunk_size):
            yield item

    async def download_report_files(
        self, request_id: str, directory: str, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> list[str]:
        """Spool every file of the report into ``directory`` (``download-0``, ``download-1``, ...); their paths."""
        paths: list[str] = []
        handle = None
        try:
            async for index, chunk in self.iter_report_files(request_id, chunk_size):
                if index == len(paths):
                    if handle is not None:
                        handle.close()
                    paths.append(os.path.join(directory, f"download-{index}"))
                    handle = open(paths[-1], "wb")  # noqa: SIM115 - closed below
                handle.write(chunk)  # type: ignore[union-attr]
        finally:
            if handle is not None:
                handle.close()
        return paths

    async def _iter_files(
        self, request_id: str, links: list[WalmartDownloadLink], chunk_size: int
    ) -> AsyncIterator[tuple[int, bytes]]:
        """Each link in turn; a link refused before its first byte is renewed once."""
        transport = await self.get_transport()
        for index in range(len(links)):
            for attempt in range(2):
                started = False
                try:
                    async for chunk in transport.iter_download(self.protocol.blob_request(links[index]), chunk_size):  # type: ignore[attr-defined]
                        started = True
                        yield index, chunk
                    break
                except ApiError as exc:
                    if started or attempt or exc.status not in (401, 403):
                        raise
                    self.log.info("The blob store refused %s (HTTP %s); asking for a new URL", links[index].redacted, exc.status)
                    renewed = await self.get_download_links(request_id)
                    if len(renewed) != len(links):
                        raise ApiError(
                            f"the download answer of report {request_id} changed from {len(links)} to {len(renewed)} files",
                            api="walmart",
                            job_id=request_id,
                        ) from exc
                    links = renewed
