"""Transfer a Walmart on-request report into object storage."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_report_provider.apis.walmart import validate_request_id
from airflow_report_provider.common.exceptions import ReportProviderError, ReportValidationError
from airflow_report_provider.common.states import ReportState
from airflow_report_provider.common.report_output import DEFAULT_ROW_GROUP_SIZE
from airflow_report_provider.common.streaming import DEFAULT_CHUNK_SIZE
from airflow_report_provider.operators.base import default_deferrable, fail_task, is_templated
from airflow_report_provider.operators.walmart import WALMART_REPORT_FIELDS, WalmartReportMixin
from airflow_report_provider.transfers.base import OUTPUT_TEMPLATE_FIELDS, ObjectStorageTransferMixin

if TYPE_CHECKING:
    from airflow.sdk import Context


class WalmartReportToObjectStorageOperator(WalmartReportMixin, ObjectStorageTransferMixin, BaseOperator):
    """Request a Walmart report (or take ``request_id``), wait until READY, stream the file to ``destination``.

    The wait defers to :class:`WalmartReportTrigger` when ``deferrable``. The download URL is asked for right
    before downloading and again if it expired. By default the CSV inside the ZIP / gzip download is written
    (detected by magic bytes; the download is spooled to a local temporary file, memory stays bounded), every
    part of a split report in order with the header once; ``output_format="raw"`` keeps the file as served.
    Returns ``{"uri", "bytes", "sha256", "rows", "request_id", "format", ...}``.

    Report parameters are those of :class:`WalmartCreateReportRequestOperator`; in addition:

    :param destination: object-storage URL or ObjectStoragePath (templated).
    :param request_id: download this existing request instead of creating one.
    :param output_format: ``"csv"`` (default: the CSV unpacked, every part), ``"raw"`` (the file as served),
        ``"parquet"`` or ``"ndjson"`` (columns as strings unless ``column_types`` says otherwise).
    :param column_types: column name -> ``"string"|"int64"|"float64"|"decimal(p,s)"|"date"|"timestamp"``.
    :param parquet_compression: ``"zstd"`` (default) or ``"snappy"``. :param row_group_size: rows per row group.
    :param unpack: deprecated: ``unpack=False`` is ``output_format="raw"``.
    :param strip_bom: drop a UTF-8 byte-order mark at the start of the CSV (default keeps the bytes exact).
    :param compression: ``"gzip"`` to compress while streaming.
    :param chunk_size: read size, bytes. :param block_size: object-store write block size, bytes.
    :param max_download_attempts: opens of the download in total (cut connections resume with HTTP Range).
    """

    template_fields: Sequence[str] = (
        *WALMART_REPORT_FIELDS, "walmart_conn_id", "destination", "request_id", *OUTPUT_TEMPLATE_FIELDS
    )
    template_fields_renderers = {"request_body": "json"}
    ui_color = "#cfe3f7"

    def __init__(
        self,
        *,
        destination: Any,
        report_type: str | None = None,
        report_version: str | None = None,
        request_body: Any = None,
        request_id: str | None = None,
        walmart_conn_id: str = "walmart_marketplace_default",
        reuse_existing: bool = True,
        max_quota_wait: float | None = None,
        use_data_interval: bool = True,
        deferrable: bool = default_deferrable(),
        poll_interval: float | None = None,
        max_poll_interval: float | None = None,
        timeout: Any = None,
        output_format: str | None = None,
        column_types: Any = None,
        parquet_compression: str = "zstd",
        row_group_size: int = DEFAULT_ROW_GROUP_SIZE,
        unpack: bool | None = None,
        strip_bom: bool = False,
        compression: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        block_size: int | None = None,
        max_download_attempts: int = 3,
        progress_interval: float = 5.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if request_id is not None and not is_templated(request_id):
            validate_request_id(request_id)
        self.request_id = request_id
        if unpack is not None:
            warnings.warn("unpack is deprecated: use output_format ('csv' or 'raw')", DeprecationWarning, stacklevel=2)
            if output_format is None:
                output_format = "csv" if unpack else "raw"
        self._init_transfer(
            destination=destination,
            compression=compression,
            chunk_size=chunk_size,
            block_size=block_size,
            max_download_attempts=max_download_attempts,
            progress_interval=progress_interval,
        )
        self._init_output(
            output_format=output_format or "csv",
            column_types=column_types,
            parquet_compression=parquet_compression,
            row_group_size=row_group_size,
            strip_bom=strip_bom,
        )
        self._init_report_params(
            report_type=report_type,
            report_version=report_version,
            request_body=request_body,
            walmart_conn_id=walmart_conn_id,
            reuse_existing=reuse_existing,
            max_quota_wait=max_quota_wait,
            use_data_interval=use_data_interval,
            deferrable=deferrable,
            poll_interval=poll_interval,
            max_poll_interval=max_poll_interval,
            timeout=timeout,
            check_static=request_id is None,
        )

    def execute(self, context: Context) -> dict[str, Any]:
        self.check_transfer_params()
        if self.request_id:
            try:
                request_id = validate_request_id(self.request_id)
            except ReportValidationError as exc:
                raise fail_task(exc) from exc
            return self.download(self.wait_until_done(request_id, "execute_complete"))
        status = self.submit(context, self.build_report(context))
        if status.state is ReportState.SUCCEEDED:
            return self.download(status.job_id)
        return self.download(self.wait_until_done(status.job_id, "execute_complete"))

    def download(self, request_id: str) -> dict[str, Any]:
        """Stream the report (or the CSV inside it) into the destination; the XCom dict."""
        description = f"Walmart report {request_id}"
        try:
            if self.output_settings().output_format == "raw":
                openers = [self.hook.open_download(request_id, self.chunk_size)]
            else:
                openers = self.hook.open_download_parts(request_id, self.chunk_size)
            return self.write_report(openers, description, api="walmart", archived=True, request_id=request_id)
        except ReportProviderError as exc:
            raise fail_task(exc) from exc
