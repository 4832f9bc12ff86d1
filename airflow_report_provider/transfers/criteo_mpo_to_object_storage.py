"""Transfer a Criteo MPO real-time export into object storage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_report_provider.apis.criteo_mpo import validate_report_id
from airflow_report_provider.common.exceptions import ReportValidationError
from airflow_report_provider.operators.criteo_mpo import CRITEO_REPORT_FIELDS, CriteoMpoReportOperatorBase
from airflow_report_provider.transfers.base import TRANSFER_TEMPLATE_FIELDS, ReportTransferOperator

if TYPE_CHECKING:
    from airflow_report_provider.common.landing.settings import OutputSettings
    from airflow_report_provider.common.landing.sources import ByteOpener
    from airflow_report_provider.compat import Context


class CriteoMpoReportToObjectStorageOperator(ReportTransferOperator, CriteoMpoReportOperatorBase):
    """Submit a Criteo MPO export (or take ``report_id``), wait until Done, stream its bytes to ``destination``.

    The wait defers to :class:`CriteoMpoReportTrigger` when ``deferrable`` (no worker slot held). The bytes
    are streamed in bounded chunks and published atomically: the destination holds the whole file or nothing.
    Returns ``{"uri", "bytes", "sha256", "report_id", ...}``. Every report argument, ``report_id`` and
    ``destination`` accept a literal, a Jinja template or an XComArg / TaskFlow output.

    Report parameters are those of :class:`CriteoMpoCreateReportOperator`; the write parameters (``destination``,
    ``output_format``, ``column_types``, ``compression``, ``checksum``, ...) those of
    :class:`~airflow_report_provider.transfers.base.ReportTransferOperator`. In addition:

    :param report_id: download this existing export instead of submitting one (e.g. ``create.output``).

    ``output_format`` defaults to ``"raw"`` (the bytes as served); typed output gives Clicks/Displays int64, Cost
    float64, ``*Id`` strings, Hour/Minute timestamps, other columns strings.
    """

    template_fields: Sequence[str] = (*CRITEO_REPORT_FIELDS, "criteo_mpo_conn_id", "report_id", *TRANSFER_TEMPLATE_FIELDS)
    ui_color = "#f7e0c9"
    validate_job_id = staticmethod(validate_report_id)

    def __init__(self, *, destination: Any, report_id: Any = None, **kwargs: Any) -> None:
        super().__init__(destination=destination, **kwargs)
        self.report_id = report_id
        self.check_job_arguments()

    def check_literal_arguments(self) -> None:
        if self.advertiser_ids is None:
            raise ReportValidationError("advertiser_ids", "is required unless report_id names an existing export")
        super().check_literal_arguments()

    def execute_after_settled(self, context: Context, event: Any = None) -> dict[str, Any]:
        """Resume once the window's data has settled: submit, wait, land."""
        return self.land(context, settled=True)

    @property
    def source_format(self) -> str:
        return str(self.file_format or "csv")

    def open_download(self, job_id: str, settings: OutputSettings) -> ByteOpener:
        """The export's body, resumable with HTTP Range."""
        return self.hook.open_download(job_id, self.write_options.chunk_size)
