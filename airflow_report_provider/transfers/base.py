"""Destination handling shared by the transfer operators of every API.

The bytes go through the one streaming writer (:func:`common.streaming.stream_to_object_storage`): bounded chunks,
atomic publication, length check, optional gzip, sha256, resume, progress lines.
"""

from __future__ import annotations

from typing import Any

from airflow_report_provider.common import lineage
from airflow_report_provider.common.exceptions import ReportValidationError
from airflow_report_provider.common.redaction import redact_url
from airflow_report_provider.common.streaming import (
    COMPRESSIONS,
    DEFAULT_CHUNK_SIZE,
    ByteOpener,
    stream_to_object_storage,
)

TRANSFER_TEMPLATE_FIELDS = ("destination",)


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

    def check_transfer_params(self) -> Any:
        """Validate the rendered destination before any HTTP call (a bad one fails the task without retries)."""
        from airflow_report_provider.operators.base import fail_task

        try:
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

    def write_report(self, opener: ByteOpener, description: str, **extra: Any) -> dict[str, Any]:
        """Stream the opener's bytes to the destination; the XCom dict (uri, bytes, sha256, ...) plus ``extra``."""
        result = stream_to_object_storage(
            opener,
            check_destination(self.destination),
            compression=self.compression,
            chunk_size=self.chunk_size,
            block_size=self.block_size,
            max_attempts=self.max_download_attempts,
            progress_interval=self.progress_interval,
            log=self.log,
            description=description,
        )
        return lineage.remember(self, {**result.as_xcom(), **extra})  # kept on self for OpenLineage


DEFAULT_TRANSFER_KWARGS: dict[str, Any] = {
    "compression": None,
    "chunk_size": DEFAULT_CHUNK_SIZE,
    "block_size": None,
    "max_download_attempts": 3,
    "progress_interval": 5.0,
}
