"""Destination handling shared by the transfer operators of every API.

The bytes go through the one streaming writer (:func:`common.streaming.stream_to_object_storage`): bounded chunks,
atomic publication, length check, optional gzip, sha256, resume, progress lines.
"""

from __future__ import annotations

from dataclasses import dataclass
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
from airflow_report_provider.operators.arguments import is_runtime_value
from airflow_report_provider.operators.outcomes import fail_task

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
    """Parse-time check of a literal destination: no connection lookup, no filesystem (ObjectStoragePath would
    build one). Templates, XComArgs and ObjectStoragePaths are checked at execute time."""
    from airflow.sdk import ObjectStoragePath

    if not is_runtime_value(destination) and not isinstance(destination, ObjectStoragePath):
        _destination_url(destination)


def check_destination(destination: Any) -> Any:
    """An ObjectStoragePath for ``destination`` (execute time: this looks up the storage connection)."""
    from airflow.sdk import ObjectStoragePath

    if isinstance(destination, ObjectStoragePath):
        if str(destination).endswith("/"):
            raise ReportValidationError("destination", "must name a file, not a directory", redact_url(str(destination)))
        return destination
    url = _destination_url(destination)
    try:
        return ObjectStoragePath(url)
    except Exception as exc:
        raise ReportValidationError(
            "destination", f"is not a usable object-storage URL ({type(exc).__name__})", redact_url(url)
        ) from None


def destination_for_run(destination: Any) -> Any:
    """The rendered destination as an ObjectStoragePath, checked before any HTTP call (a bad one fails the task
    without retries)."""
    try:
        return check_destination(destination)
    except ReportValidationError as exc:
        raise fail_task(exc) from exc


def given_job_id(task: Any, validate: Any) -> str | None:
    """The existing job the transfer was told to download (``report_id`` / ``request_id``), checked; ``None`` when
    it submits its own."""
    value = getattr(task, task.api.job_id_field)
    if value in (None, ""):
        return None
    try:
        return validate(value)
    except ReportValidationError as exc:
        raise fail_task(exc) from exc


def deliver(task: Any, context: Any, job_id: str, destination: Any) -> dict[str, Any]:
    """Download the finished job into the destination; once written, a job the task submitted is consumed (a
    cleared task submits afresh)."""
    result = lineage.remember(task, task.download(job_id, destination))  # kept on the task for OpenLineage
    if getattr(task, task.api.job_id_field) in (None, ""):
        task.ledger(context).consume()
    return result


@dataclass(frozen=True)
class WriteOptions:
    """How a transfer writes: optional gzip, read and write sizes, download attempts, progress lines."""

    compression: str | None = None
    chunk_size: int = DEFAULT_CHUNK_SIZE
    block_size: int | None = None
    max_download_attempts: int = 3
    progress_interval: float = 5.0

    def __post_init__(self) -> None:
        if self.compression is not None and self.compression not in COMPRESSIONS:
            raise ReportValidationError("compression", f"must be one of {', '.join(COMPRESSIONS)} or None", self.compression)

    def write(self, opener: ByteOpener, destination: Any, log: Any, description: str, **extra: Any) -> dict[str, Any]:
        """Stream the opener's bytes to the destination; the XCom dict (uri, bytes, sha256, ...) plus ``extra``."""
        result = stream_to_object_storage(
            opener,
            destination,
            compression=self.compression,
            chunk_size=self.chunk_size,
            block_size=self.block_size,
            max_attempts=self.max_download_attempts,
            progress_interval=self.progress_interval,
            log=log,
            description=description,
        )
        return {**result.as_xcom(), **extra}
