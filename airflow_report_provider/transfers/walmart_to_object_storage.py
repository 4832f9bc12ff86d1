"""Transfer a Walmart on-request report into object storage."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_report_provider.apis.walmart import validate_request_id
from airflow_report_provider.operators.walmart import WALMART_REPORT_FIELDS, WalmartReportOperatorBase
from airflow_report_provider.transfers.base import TRANSFER_TEMPLATE_FIELDS, ReportTransferOperator

if TYPE_CHECKING:
    from airflow_report_provider.common.landing.settings import OutputSettings
    from airflow_report_provider.common.landing.sources import ByteOpener


class WalmartReportToObjectStorageOperator(ReportTransferOperator, WalmartReportOperatorBase):
    """Request a Walmart report (or take ``request_id``), wait until READY, stream the file to ``destination``.

    The wait defers to :class:`WalmartReportTrigger` when ``deferrable``. The download URL is asked for right
    before downloading and again if it expired. By default the CSV inside the ZIP / gzip download is written
    (detected by magic bytes; the download is spooled to a local temporary file, memory stays bounded), every
    part of a split report in order with the header once; ``output_format="raw"`` keeps the file as served.
    Returns ``{"uri", "bytes", "sha256", "rows", "request_id", "format", ...}``. Every report argument,
    ``request_id`` and ``destination`` accept a literal, a Jinja template or an XComArg.

    Report parameters are those of :class:`WalmartCreateReportRequestOperator`; the write parameters
    (``destination``, ``output_format``, ``column_types``, ``compression``, ``checksum``, ...) those of
    :class:`~airflow_report_provider.transfers.base.ReportTransferOperator`. In addition:

    :param request_id: download this existing request instead of creating one (e.g. ``create.output``).
    :param strip_bom: drop the UTF-8 byte-order mark Walmart puts before the CSV header (default; ``False`` keeps
        it; ``output_format="raw"`` always lands the file as served).
    :param unpack: deprecated: ``unpack=False`` is ``output_format="raw"``.

    ``output_format`` defaults to ``"csv"`` (the CSV unpacked, every part); typed output has string columns unless
    ``column_types`` says otherwise.
    """

    template_fields: Sequence[str] = (*WALMART_REPORT_FIELDS, "walmart_conn_id", "request_id", *TRANSFER_TEMPLATE_FIELDS)
    template_fields_renderers = {"request_body": "json"}
    ui_color = "#cfe3f7"
    validate_job_id = staticmethod(validate_request_id)
    default_output_format = "csv"

    def __init__(
        self,
        *,
        destination: Any,
        request_id: Any = None,
        output_format: Any = None,
        strip_bom: bool = True,
        unpack: bool | None = None,
        **kwargs: Any,
    ) -> None:
        if unpack is not None:
            warnings.warn("unpack is deprecated: use output_format ('csv' or 'raw')", DeprecationWarning, stacklevel=2)
            if output_format is None:
                output_format = "csv" if unpack else "raw"
        super().__init__(destination=destination, output_format=output_format, **kwargs)
        self.request_id = request_id
        self.write_options = dataclasses.replace(self.write_options, strip_bom=strip_bom)
        self.check_job_arguments()

    def open_download(self, job_id: str, settings: OutputSettings) -> ByteOpener | list[ByteOpener]:
        """The file as served (``raw``), else one opener per file of the report; each renews its expired URL."""
        if settings.output_format == "raw":
            return [self.hook.open_download(job_id, self.write_options.chunk_size)]
        return self.hook.open_download_parts(job_id, self.write_options.chunk_size)
