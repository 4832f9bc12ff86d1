"""Transfer a Criteo MPO real-time export into object storage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_report_provider.apis.criteo_mpo import validate_report_id
from airflow_report_provider.common.exceptions import ReportProviderError, ReportValidationError
from airflow_report_provider.common.states import ReportState
from airflow_report_provider.common.streaming import DEFAULT_CHUNK_SIZE
from airflow_report_provider.operators.arguments import is_runtime_value
from airflow_report_provider.operators.criteo_mpo import CRITEO_REPORT_FIELDS, CriteoMpoReportOperatorBase
from airflow_report_provider.operators.outcomes import fail_task
from airflow_report_provider.transfers.base import (
    WriteOptions,
    check_destination_syntax,
    deliver,
    destination_for_run,
    given_job_id,
)

if TYPE_CHECKING:
    from airflow.sdk import Context


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
    """

    template_fields: Sequence[str] = (*CRITEO_REPORT_FIELDS, "criteo_mpo_conn_id", "destination", "report_id")
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
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.destination = destination
        self.report_id = report_id
        self.write_options = WriteOptions(compression, chunk_size, block_size, max_download_attempts, progress_interval)
        check_destination_syntax(destination)
        if report_id is not None:
            if not is_runtime_value(report_id):
                validate_report_id(report_id)
        elif self.advertiser_ids is None:
            raise ReportValidationError("advertiser_ids", "is required unless report_id names an existing export")
        else:
            self.check_literal_arguments()

    def execute(self, context: Context) -> dict[str, Any]:
        destination = destination_for_run(self.destination)
        report_id = given_job_id(self, validate_report_id)
        if report_id is not None:
            return deliver(self, context, self.job_wait().until_done(self, self.hook, report_id, "execute_complete"), destination)
        report, window = self.build_report(context)
        self.wait_until_settled(window, "execute_after_settled")
        return self.submit_and_deliver(context, report, destination)

    def execute_after_settled(self, context: Context, event: Any = None) -> dict[str, Any]:
        report, _ = self.build_report(context)
        return self.submit_and_deliver(context, report, destination_for_run(self.destination))

    def submit_and_deliver(self, context: Context, report: Any, destination: Any) -> dict[str, Any]:
        status = self.submit(context, report)
        if status.state is ReportState.SUCCEEDED:
            self.log.info("Export %s is already Done (cached identical request)", status.job_id)
        return deliver(self, context, self.wait_until_done(status, "execute_complete"), destination)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger: download when the export is Done, else fail with its status and code."""
        destination = destination_for_run(self.destination)
        return deliver(self, context, self.job_done(event), destination)

    def download(self, report_id: str, destination: Any) -> dict[str, Any]:
        """Stream the export into the destination; the XCom dict."""
        try:
            opener = self.hook.open_download(report_id, self.write_options.chunk_size)
            return self.write_options.write(opener, destination, self.log, f"Criteo export {report_id}", report_id=report_id)
        except ReportProviderError as exc:
            raise fail_task(exc) from exc

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the export (API host, advertisers, window) in, the written file out."""
        from airflow_report_provider.common.lineage import criteo_transfer_lineage

        return criteo_transfer_lineage(self, task_instance)
