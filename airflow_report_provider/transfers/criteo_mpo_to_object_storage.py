"""Transfer a Criteo MPO real-time export into object storage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_report_provider.apis.criteo_mpo import validate_report_id
from airflow_report_provider.common.exceptions import ReportProviderError, ReportValidationError
from airflow_report_provider.common.states import ReportState
from airflow_report_provider.common.landing.settings import DEFAULT_ROW_GROUP_SIZE
from airflow_report_provider.common.landing.sources import DEFAULT_CHUNK_SIZE
from airflow_report_provider.operators.arguments import is_runtime_value
from airflow_report_provider.operators.criteo_mpo import CRITEO_REPORT_FIELDS, CriteoMpoReportOperatorBase
from airflow_report_provider.operators.outcomes import fail_task
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


class CriteoMpoReportToObjectStorageOperator(CriteoMpoReportOperatorBase):
    """Submit a Criteo MPO export (or take ``report_id``), wait until Done, stream its bytes to ``destination``.

    The wait defers to :class:`CriteoMpoReportTrigger` when ``deferrable`` (no worker slot held). The bytes
    are streamed in bounded chunks and published atomically: the destination holds the whole file or nothing.
    Returns ``{"uri", "bytes", "sha256", "report_id", ...}``. Every report argument, ``report_id`` and
    ``destination`` accept a literal, a Jinja template or an XComArg / TaskFlow output.

    Report parameters are those of :class:`CriteoMpoCreateReportOperator`; in addition:

    :param destination: object-storage URL or ObjectStoragePath (templated), e.g.
        ``s3://aws_default@bucket/mpo/{{ ds }}/report.csv`` or ``file:///data/mpo.csv``.
    :param report_id: download this existing export instead of submitting one (e.g. ``create.output``).
    :param compression: ``"gzip"`` to compress while streaming (name the destination ``.gz`` yourself).
    :param chunk_size: read size of the HTTP body, bytes.
    :param block_size: write block (multipart part) size of the object store, bytes.
    :param max_download_attempts: opens of the download in total (a cut connection resumes with HTTP Range).
    :param output_format: ``"raw"`` (the bytes as served, default), ``"csv"``, ``"parquet"`` or ``"ndjson"``
        (typed: Clicks/Displays int64, Cost float64, ``*Id`` strings, Hour/Minute timestamps, others strings).
    :param column_types: column name -> ``"string"|"int64"|"float64"|"decimal(p,s)"|"date"|"timestamp"``,
        overriding the default types.
    :param parquet_compression: ``"zstd"`` (default) or ``"snappy"``.
    :param row_group_size: rows per Parquet row group.
    :param checksum: ``"sha256"`` (default: the XCom's ``sha256`` of the written object) or ``None`` to skip
        hashing (a third less CPU per GiB).
    """

    template_fields: Sequence[str] = (*CRITEO_REPORT_FIELDS, "criteo_mpo_conn_id", "report_id", *TRANSFER_TEMPLATE_FIELDS)
    ui_color = "#f7e0c9"

    def __init__(
        self,
        *,
        destination: Any,
        report_id: Any = None,
        compression: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        block_size: int | None = None,
        max_download_attempts: int = 3,
        progress_interval: float = 5.0,
        output_format: Any = "raw",
        column_types: Any = None,
        parquet_compression: str = "zstd",
        row_group_size: int = DEFAULT_ROW_GROUP_SIZE,
        checksum: str | None = "sha256",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.destination = destination
        self.report_id = report_id
        self.output_format = output_format
        self.column_types = column_types
        self.write_options = WriteOptions.from_arguments(locals())
        check_destination_syntax(destination)
        self.write_options.output_settings(output_format, column_types, at_parse=True)
        if report_id is not None:
            if not is_runtime_value(report_id):
                validate_report_id(report_id)
        elif self.advertiser_ids is None:
            raise ReportValidationError("advertiser_ids", "is required unless report_id names an existing export")
        else:
            self.check_literal_arguments()

    def execute(self, context: Context) -> dict[str, Any]:
        landing = landing_for_run(self)
        report_id = given_job_id(self, validate_report_id)
        if report_id is not None:
            return deliver(self, context, self.job_wait().until_done(self, self.hook, report_id, "execute_complete"), landing)
        report, window = self.build_report(context)
        self.wait_until_settled(window, "execute_after_settled")
        return self.submit_and_deliver(context, report, landing)

    def execute_after_settled(self, context: Context, event: Any = None) -> dict[str, Any]:
        report, _ = self.build_report(context)
        return self.submit_and_deliver(context, report, landing_for_run(self))

    def submit_and_deliver(self, context: Context, report: Any, landing: Landing) -> dict[str, Any]:
        status = self.submit(context, report)
        if status.state is ReportState.SUCCEEDED:
            self.log.info("Export %s is already Done (cached identical request)", status.job_id)
        return deliver(self, context, self.wait_until_done(status, "execute_complete"), landing)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger: download when the export is Done, else fail with its status and code."""
        landing = landing_for_run(self)
        return deliver(self, context, self.job_done(event), landing)

    def download(self, report_id: str, landing: Landing) -> dict[str, Any]:
        """Stream the export into the destination, converted to the output format while it downloads; the XCom dict."""
        try:
            opener = self.hook.open_download(report_id, self.write_options.chunk_size)
            return self.write_options.write(
                opener,
                landing,
                self.log,
                f"Criteo export {report_id}",
                api="criteo",
                source_format=str(self.file_format or "csv"),
                report_id=report_id,
            )
        except ReportProviderError as exc:
            raise fail_task(exc) from exc

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the export (API host, advertisers, window) in, the written file out."""
        from airflow_report_provider.common.observability.lineage import criteo_transfer_lineage

        return criteo_transfer_lineage(self, task_instance)
