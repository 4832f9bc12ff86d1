"""Transfer a Walmart on-request report into object storage."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_report_provider.apis.walmart import validate_request_id
from airflow_report_provider.common.archives import inspect_report_file, open_report_member
from airflow_report_provider.common.exceptions import ReportProviderError
from airflow_report_provider.common.streaming import DEFAULT_CHUNK_SIZE, file_opener, stream_to_local_file
from airflow_report_provider.operators.arguments import is_runtime_value
from airflow_report_provider.operators.outcomes import fail_task
from airflow_report_provider.operators.walmart import WALMART_REPORT_FIELDS, WalmartReportOperatorBase
from airflow_report_provider.transfers.base import (
    WriteOptions,
    check_destination_syntax,
    deliver,
    destination_for_run,
    given_job_id,
)

if TYPE_CHECKING:
    from airflow.sdk import Context


class WalmartReportToObjectStorageOperator(WalmartReportOperatorBase):
    """Request a Walmart report (or take ``request_id``), wait until READY, stream the file to ``destination``.

    The wait defers to :class:`WalmartReportTrigger` when ``deferrable``. The download URL is asked for right
    before downloading and again if it expired. By default the CSV inside the ZIP / gzip download is written
    (detected by magic bytes; the download is spooled to a local temporary file, memory stays bounded);
    ``unpack=False`` keeps the file as served. Returns ``{"uri", "bytes", "sha256", "request_id", "format", ...}``.
    Every report argument, ``request_id`` and ``destination`` accept a literal, a Jinja template or an XComArg.

    Report parameters are those of :class:`WalmartCreateReportRequestOperator`; in addition:

    :param destination: object-storage URL or ObjectStoragePath (templated).
    :param request_id: download this existing request instead of creating one (e.g. ``create.output``).
    :param unpack: write the CSV inside a zip / gzip download (default) instead of the file as served.
    :param strip_bom: drop a UTF-8 byte-order mark at the start of the CSV (default keeps the bytes exact).
    :param compression: ``"gzip"`` to compress while streaming.
    :param chunk_size: read size, bytes. :param block_size: object-store write block size, bytes.
    :param max_download_attempts: opens of the download in total (cut connections resume with HTTP Range).
    """

    template_fields: Sequence[str] = (*WALMART_REPORT_FIELDS, "walmart_conn_id", "destination", "request_id")
    template_fields_renderers = {"request_body": "json"}
    ui_color = "#cfe3f7"

    def __init__(
        self,
        *,
        destination: Any,
        request_id: Any = None,
        unpack: bool = True,
        strip_bom: bool = False,
        compression: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        block_size: int | None = None,
        max_download_attempts: int = 3,
        progress_interval: float = 5.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.destination = destination
        self.request_id = request_id
        self.unpack = unpack
        self.strip_bom = strip_bom
        self.write_options = WriteOptions(compression, chunk_size, block_size, max_download_attempts, progress_interval)
        check_destination_syntax(destination)
        if request_id is not None:
            if not is_runtime_value(request_id):
                validate_request_id(request_id)
        else:
            self.check_literal_arguments()

    def execute(self, context: Context) -> dict[str, Any]:
        destination = destination_for_run(self.destination)
        request_id = given_job_id(self, validate_request_id)
        if request_id is not None:
            return deliver(self, context, self.job_wait().until_done(self, self.hook, request_id, "execute_complete"), destination)
        status = self.submit(context, self.build_report(context))
        return deliver(self, context, self.wait_until_done(status, "execute_complete"), destination)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger: download when the report is READY, else fail with its status."""
        destination = destination_for_run(self.destination)
        return deliver(self, context, self.job_done(event), destination)

    def download(self, request_id: str, destination: Any) -> dict[str, Any]:
        """Stream the report (or the CSV inside it) into the destination; the XCom dict."""
        description = f"Walmart report {request_id}"
        options = self.write_options
        try:
            opener = self.hook.open_download(request_id, options.chunk_size)
            if not self.unpack:
                return options.write(opener, destination, self.log, description, request_id=request_id)
            with tempfile.TemporaryDirectory(prefix="walmart-report-") as spool_dir:
                spool = os.path.join(spool_dir, "download")
                stream_to_local_file(
                    opener,
                    spool,
                    chunk_size=options.chunk_size,
                    max_attempts=options.max_download_attempts,
                    progress_interval=options.progress_interval,
                    log=self.log,
                    description=f"{description} (download)",
                )
                found = inspect_report_file(spool)
                self.log.info("Downloaded a %s file; writing %s", found.format, found.member)
                with open_report_member(spool, strip_bom=self.strip_bom) as member:
                    return options.write(
                        file_opener(member, options.chunk_size),
                        destination,
                        self.log,
                        description,
                        request_id=request_id,
                        format=found.format,
                        member=found.member,
                    )
        except ReportProviderError as exc:
            raise fail_task(exc) from exc

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the report (API host, type, version) in, the written file out."""
        from airflow_report_provider.common.lineage import walmart_transfer_lineage

        return walmart_transfer_lineage(self, task_instance)
