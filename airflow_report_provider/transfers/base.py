"""Destination handling shared by the transfer operators of every API.

The bytes go through the one streaming writer (:func:`common.streaming.stream_to_object_storage`): bounded chunks,
atomic publication, length check, optional gzip, sha256, resume, progress lines.
"""

from __future__ import annotations

from typing import Any

from airflow_report_provider.common.exceptions import ReportValidationError
from airflow_report_provider.common.redaction import redact_url
from airflow_report_provider.common.report_output import OutputSettings, check_output_params, write_report
from airflow_report_provider.common.streaming import COMPRESSIONS, DEFAULT_CHUNK_SIZE, ByteOpener

TRANSFER_TEMPLATE_FIELDS = ("destination",)
#: Output parameters a DAG author templates (issue 11: query-ready output).
OUTPUT_TEMPLATE_FIELDS = ("output_format", "column_types")


def _destination_url(destination: Any) -> str:
    """The destination as a URL string; a clear error naming the field when it cannot be one."""
    if not isinstance(destination, str) or not destination.strip():
        raise ReportValidationError("destination", "is required: an object-storage URL or ObjectStoragePath", destination)
    text = destination.strip()
    if "://" not in text:
        if not text.startswith("/"):
            raise ReportValidationError(
                "destination", "must be an object-storage URL (s3://, gs://, file:///...) or an absolute path", destination
            )
        text = f"file://{text}"
    if text.endswith("/"):
        raise ReportValidationError("destination", "must name a file, not a directory", destination)
    return text


def check_destination_syntax(destination: Any) -> None:
    """Parse-time check: no connection lookup, no filesystem (ObjectStoragePath would build one)."""
    from airflow.sdk import ObjectStoragePath

    if not isinstance(destination, ObjectStoragePath):
        _destination_url(destination)


def check_destination(destination: Any) -> Any:
    """An ObjectStoragePath for ``destination`` (execute time: this looks up the storage connection)."""
    from airflow.sdk import ObjectStoragePath

    if isinstance(destination, ObjectStoragePath):
        return destination
    url = _destination_url(destination)
    try:
        return ObjectStoragePath(url)
    except Exception as exc:
        raise ReportValidationError(
            "destination", f"is not a usable object-storage URL ({type(exc).__name__})", redact_url(url)
        ) from None


class ObjectStorageTransferMixin:
    """Parameters and the write step of a transfer operator."""

    log: Any

    def _init_transfer(
        self,
        *,
        destination: Any,
        compression: str | None,
        chunk_size: int,
        block_size: int | None,
        max_download_attempts: int,
        progress_interval: float,
    ) -> None:
        self.destination = destination
        self.compression = compression
        self.chunk_size = chunk_size
        self.block_size = block_size
        self.max_download_attempts = max_download_attempts
        self.progress_interval = progress_interval
        if compression is not None and compression not in COMPRESSIONS:
            raise ReportValidationError("compression", f"must be one of {', '.join(COMPRESSIONS)} or None", compression)
        if not (isinstance(destination, str) and ("{{" in destination or "{%" in destination)):
            check_destination_syntax(destination)

    def _init_output(
        self, *, output_format: Any, column_types: Any, parquet_compression: Any, row_group_size: Any, strip_bom: bool = False
    ) -> None:
        """Output parameters (format, typing, Parquet knobs); literal values are checked now, at DAG parse."""
        self.output_format = output_format
        self.column_types = column_types
        self.parquet_compression = parquet_compression
        self.row_group_size = row_group_size
        self.strip_bom = strip_bom
        check_output_params(**self._output_params(), at_parse=True)

    def _output_params(self) -> dict[str, Any]:
        return {
            "output_format": self.output_format,
            "column_types": self.column_types,
            "parquet_compression": self.parquet_compression,
            "row_group_size": self.row_group_size,
            "compression": self.compression,
            "strip_bom": self.strip_bom,
        }

    def output_settings(self) -> OutputSettings:
        """The rendered output parameters, validated (execute time; pyarrow present when they need it)."""
        settings = check_output_params(**self._output_params(), check_dependencies=True)
        assert settings is not None
        return settings

    def check_transfer_params(self) -> Any:
        """Validate the rendered destination and output parameters before any HTTP call (a bad one fails the task
        without retries)."""
        from airflow_report_provider.operators.base import fail_task

        try:
            self.output_settings()
            return check_destination(self.destination)
        except ReportValidationError as exc:
            raise fail_task(exc) from exc

    def download(self, job_id: str) -> dict[str, Any]:
        """Stream the finished job's file into the destination; the XCom dict."""
        raise NotImplementedError

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger: download when the job is done, else fail with its status and code."""
        self.check_transfer_params()
        return self.download(self.check_event(event))  # type: ignore[attr-defined]

    def write_report(
        self,
        opener: ByteOpener | list[ByteOpener],
        description: str,
        *,
        api: str,
        source_format: str = "csv",
        archived: bool = False,
        **extra: Any,
    ) -> dict[str, Any]:
        """Land the report in ``output_format`` at the destination (:func:`common.report_output.write_report`);
        the XCom dict (uri, bytes, sha256, rows, ...) plus ``extra``."""
        result = write_report(
            opener,
            check_destination(self.destination),
            self.output_settings(),
            api=api,
            source_format=source_format,
            archived=archived,
            chunk_size=self.chunk_size,
            block_size=self.block_size,
            max_attempts=self.max_download_attempts,
            progress_interval=self.progress_interval,
            log=self.log,
            description=description,
        )
        return {**result, **extra}


DEFAULT_TRANSFER_KWARGS: dict[str, Any] = {
    "compression": None,
    "chunk_size": DEFAULT_CHUNK_SIZE,
    "block_size": None,
    "max_download_attempts": 3,
    "progress_interval": 5.0,
}
