"""Transfer a Criteo MPO real-time export into object storage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_report_provider.apis.criteo_mpo import validate_report_id
from airflow_report_provider.common.exceptions import ReportProviderError, ReportValidationError
from airflow_report_provider.common.states import ReportState
from airflow_report_provider.common.report_output import DEFAULT_ROW_GROUP_SIZE
from airflow_report_provider.common.streaming import DEFAULT_CHUNK_SIZE
from airflow_report_provider.operators.base import default_deferrable, fail_task, is_templated
from airflow_report_provider.operators.criteo_mpo import CRITEO_REPORT_FIELDS, CriteoMpoReportMixin
from airflow_report_provider.transfers.base import OUTPUT_TEMPLATE_FIELDS, ObjectStorageTransferMixin

if TYPE_CHECKING:
    from airflow.sdk import Context


class CriteoMpoReportToObjectStorageOperator(CriteoMpoReportMixin, ObjectStorageTransferMixin, BaseOperator):
    """Submit a Criteo MPO export (or take ``report_id``), wait until Done, stream its bytes to ``destination``.

    The wait defers to :class:`CriteoMpoReportTrigger` when ``deferrable`` (no worker slot held). The bytes
    are streamed in bounded chunks and published atomically: the destination holds the whole file or nothing.
    Returns ``{"uri", "bytes", "sha256", "report_id", ...}``.

    Report parameters are those of :class:`CriteoMpoCreateReportOperator`; in addition:

    :param destination: object-storage URL or ObjectStoragePath (templated), e.g.
        ``s3://aws_default@bucket/mpo/{{ ds }}/report.csv`` or ``file:///data/mpo.csv``.
    :param report_id: download this existing export instead of submitting one.
    :param compression: ``"gzip"`` to compress while streaming (name the destination ``.gz`` yourself).
    :param chunk_size: read size of the HTTP body, bytes.
    :param block_size: write block (multipart part) size of the object store, bytes.
    :param max_download_attempts: opens of the download in total (a cut connection resumes with HTTP Range).
    :param output_format: ``"raw"`` (the bytes as served, default), ``"csv"``, ``"parquet"`` or ``"ndjson"``
        (typed: Clicks/Displays int64, Cost float64, ``*Id`` strings, Hour/Minute UTC timestamps, others strings).
    :param column_types: column name -> ``"string"|"int64"|"float64"|"decimal(p,s)"|"date"|"timestamp"``,
        overriding the default types.
    :param parquet_compression: ``"zstd"`` (default) or ``"snappy"``.
    :param row_group_size: rows per Parquet row group.
    """

    template_fields: Sequence[str] = (
        *CRITEO_REPORT_FIELDS, "criteo_mpo_conn_id", "destination", "report_id", *OUTPUT_TEMPLATE_FIELDS
    )
    ui_color = "#f7e0c9"

    def __init__(
        self,
        *,
        destination: Any,
        advertiser_ids: Any = None,
        report_id: str | None = None,
        campaign_ids: Any = None,
        seller_ids: Any = None,
        dimensions: Any = None,
        metrics: Any = None,
        file_format: str = "csv",
        lookback_window: Any = None,
        report_start: Any = None,
        report_end: Any = None,
        timezone: str | None = None,
        currency: str | None = None,
        criteo_mpo_conn_id: str = "criteo_mpo_default",
        deferrable: bool = default_deferrable(),
        poll_interval: float | None = None,
        max_poll_interval: float | None = None,
        timeout: Any = None,
        data_latency: Any = None,
        compression: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        block_size: int | None = None,
        max_download_attempts: int = 3,
        progress_interval: float = 5.0,
        output_format: str = "raw",
        column_types: Any = None,
        parquet_compression: str = "zstd",
        row_group_size: int = DEFAULT_ROW_GROUP_SIZE,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.report_id = report_id
        self._init_transfer(
            destination=destination,
            compression=compression,
            chunk_size=chunk_size,
            block_size=block_size,
            max_download_attempts=max_download_attempts,
            progress_interval=progress_interval,
        )
        self._init_output(
            output_format=output_format,
            column_types=column_types,
            parquet_compression=parquet_compression,
            row_group_size=row_group_size,
        )
        if report_id is None and advertiser_ids is None:
            raise ReportValidationError("advertiser_ids", "is required unless report_id names an existing export")
        if report_id is not None and not is_templated(report_id):
            validate_report_id(report_id)
        self._init_report_params(
            advertiser_ids=advertiser_ids,
            campaign_ids=campaign_ids,
            seller_ids=seller_ids,
            dimensions=dimensions,
            metrics=metrics,
            file_format=file_format,
            lookback_window=lookback_window,
            report_start=report_start,
            report_end=report_end,
            timezone=timezone,
            currency=currency,
            criteo_mpo_conn_id=criteo_mpo_conn_id,
            deferrable=deferrable,
            poll_interval=poll_interval,
            max_poll_interval=max_poll_interval,
            timeout=timeout,
            data_latency=data_latency,
            check_static=report_id is None,
        )

    def execute(self, context: Context) -> dict[str, Any]:
        self.check_transfer_params()
        if self.report_id:
            try:
                report_id = validate_report_id(self.report_id)
            except ReportValidationError as exc:
                raise fail_task(exc) from exc
            return self.download(self.wait_until_done(report_id, "execute_complete"))
        report, window = self.build_report(context)
        self.wait_until_settled(window, "execute_after_settled")
        return self._submit_then_download(context)

    def execute_after_settled(self, context: Context, event: Any = None) -> dict[str, Any]:
        return self._submit_then_download(context)

    def _submit_then_download(self, context: Context) -> dict[str, Any]:
        report, _ = self.build_report(context)
        status = self.submit(context, report)
        if status.state is ReportState.SUCCEEDED:
            self.log.info("Export %s is already Done (cached identical request)", status.job_id)
            return self.download(status.job_id)
        return self.download(self.wait_until_done(status.job_id, "execute_complete"))

    def download(self, report_id: str) -> dict[str, Any]:
        """Stream the export into the destination; the XCom dict."""
        try:
            return self.write_report(
                self.hook.open_download(report_id, self.chunk_size),
                f"Criteo export {report_id}",
                api="criteo",
                source_format=str(self.file_format or "csv"),
                report_id=report_id,
            )
        except ReportProviderError as exc:
            raise fail_task(exc) from exc
