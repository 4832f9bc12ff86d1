"""Transfer a Walmart on-request report into object storage."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_report_provider.apis.walmart import validate_request_id
from airflow_report_provider.common.exceptions import ReportProviderError
from airflow_report_provider.common.landing.settings import DEFAULT_ROW_GROUP_SIZE
from airflow_report_provider.common.landing.sources import DEFAULT_CHUNK_SIZE
from airflow_report_provider.operators.arguments import is_runtime_value
from airflow_report_provider.operators.outcomes import fail_task
from airflow_report_provider.operators.walmart import WALMART_REPORT_FIELDS, WalmartReportOperatorBase
from airflow_report_provider.transfers.base import (
    TRANSFER_TEMPLATE_FIELDS,
    Landing,
    WriteOptions,
    check_destination_syntax,
    deliver,
    given_job_id,
    landing_for_run,
)

if TYPE_CHECKING:
    from airflow_report_provider.compat import Context


class WalmartReportToObjectStorageOperator(WalmartReportOperatorBase):
    """Request a Walmart report (or take ``request_id``), wait until READY, stream the file to ``destination``.

    The wait defers to :class:`WalmartReportTrigger` when ``deferrable``. The download URL is asked for right
    before downloading and again if it expired. By default the CSV inside the ZIP / gzip download is written
    (detected by magic bytes; the download is spooled to a local temporary file, memory stays bounded), every
    part of a split report in order with the header once; ``output_format="raw"`` keeps the file as served.
    Returns ``{"uri", "bytes", "sha256", "rows", "request_id", "format", ...}``. Every report argument,
    ``request_id`` and ``destination`` accept a literal, a Jinja template or an XComArg.

    Report parameters are those of :class:`WalmartCreateReportRequestOperator`; in addition:

    :param destination: object-storage URL or ObjectStoragePath (templated).
    :param request_id: download this existing request instead of creating one (e.g. ``create.output``).
    :param output_format: ``"csv"`` (default: the CSV unpacked, every part), ``"raw"`` (the file as served),
        ``"parquet"`` or ``"ndjson"`` (columns as strings unless ``column_types`` says otherwise).
    :param column_types: column name -> ``"string"|"int64"|"float64"|"decimal(p,s)"|"date"|"timestamp"``.
    :param parquet_compression: ``"zstd"`` (default) or ``"snappy"``. :param row_group_size: rows per row group.
    :param unpack: deprecated: ``unpack=False`` is ``output_format="raw"``.
    :param strip_bom: drop the UTF-8 byte-order mark Walmart puts before the CSV header (default; ``False`` keeps
        it; ``output_format="raw"`` always lands the file as served).
    :param compression: ``"gzip"`` to compress while streaming.
    :param chunk_size: read size, bytes. :param block_size: object-store write block size, bytes.
    :param max_download_attempts: opens of the download in total (cut connections resume with HTTP Range).
    :param checksum: ``"sha256"`` (default: the XCom's ``sha256`` of the written object) or ``None`` to skip hashing.
    """

    template_fields: Sequence[str] = (*WALMART_REPORT_FIELDS, "walmart_conn_id", "request_id", *TRANSFER_TEMPLATE_FIELDS)
    template_fields_renderers = {"request_body": "json"}
    ui_color = "#cfe3f7"

    def __init__(
        self,
        *,
        destination: Any,
        request_id: Any = None,
        output_format: Any = None,
        column_types: Any = None,
        parquet_compression: str = "zstd",
        row_group_size: int = DEFAULT_ROW_GROUP_SIZE,
        unpack: bool | None = None,
        strip_bom: bool = True,
        compression: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        block_size: int | None = None,
        max_download_attempts: int = 3,
        progress_interval: float = 5.0,
        checksum: str | None = "sha256",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if unpack is not None:
            warnings.warn("unpack is deprecated: use output_format ('csv' or 'raw')", DeprecationWarning, stacklevel=2)
            if output_format is None:
                output_format = "csv" if unpack else "raw"
        self.destination = destination
        self.request_id = request_id
        self.output_format = "csv" if output_format is None else output_format
        self.column_types = column_types
        self.write_options = WriteOptions.from_arguments(locals())
        check_destination_syntax(destination)
        self.write_options.output_settings(self.output_format, column_types, at_parse=True)
        if request_id is not None:
            if not is_runtime_value(request_id):
                validate_request_id(request_id)
        else:
            self.check_literal_arguments()

    def execute(self, context: Context) -> dict[str, Any]:
        landing = landing_for_run(self)
        request_id = given_job_id(self, validate_request_id)
        if request_id is not None:
            return deliver(self, context, self.job_wait().until_done(self, self.hook, request_id, "execute_complete"), landing)
        status = self.submit(context, self.build_report(context))
        return deliver(self, context, self.wait_until_done(status, "execute_complete"), landing)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger: download when the report is READY, else fail with its status."""
        return deliver(self, context, self.job_done(event), landing_for_run(self))

    def download(self, request_id: str, landing: Landing) -> dict[str, Any]:
        """Stream the report (every part of it, unpacked, unless ``raw``) into the destination; the XCom dict."""
        chunk_size = self.write_options.chunk_size
        try:
            if landing.settings.output_format == "raw":
                openers = [self.hook.open_download(request_id, chunk_size)]
            else:
                openers = self.hook.open_download_parts(request_id, chunk_size)
            return self.write_options.write(
                openers, landing, self.log, f"Walmart report {request_id}", api="walmart", archived=True, request_id=request_id
            )
        except ReportProviderError as exc:
            raise fail_task(exc) from exc

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the report request (API host, type, version) in, the written file out."""
        from airflow_report_provider.common.observability.lineage import walmart_transfer_lineage

        return walmart_transfer_lineage(self, task_instance)
