"""What the transfer operators of every API share: the destination, the output settings, and delivery.

The bytes go through the one report writer (:func:`common.report_output.write_report`): bounded chunks, atomic
publication, length check, optional gzip, sha256, resume, progress lines, and the typed formats.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, NamedTuple

from airflow_report_provider.common.observability import lineage
from airflow_report_provider.common.exceptions import ReportValidationError
from airflow_report_provider.common.landing.settings import DEFAULT_ROW_GROUP_SIZE, OutputSettings, check_output_params
from airflow_report_provider.common.observability.redaction import redact_url
from airflow_report_provider.common.landing.sinks import validate_checksum, validate_compression
from airflow_report_provider.common.landing.sources import DEFAULT_CHUNK_SIZE, ByteOpener
from airflow_report_provider.operators.arguments import is_runtime_value
from airflow_report_provider.operators.outcomes import fail_task

TRANSFER_TEMPLATE_FIELDS = ("destination", "output_format", "column_types")


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
    from airflow_report_provider.compat import ObjectStoragePath

    if not is_runtime_value(destination) and not isinstance(destination, ObjectStoragePath):
        _destination_url(destination)


def check_destination(destination: Any) -> Any:
    """An ObjectStoragePath for ``destination`` (execute time: this looks up the storage connection)."""
    from airflow_report_provider.compat import ObjectStoragePath

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


class Landing(NamedTuple):
    """Where and how this run writes: the destination path and the checked output settings."""

    destination: Any
    settings: OutputSettings


def landing_for_run(task: Any) -> Landing:
    """The task's rendered destination and output settings, checked before any HTTP call."""
    return task.write_options.landing(task.destination, task.output_format, task.column_types)


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


def deliver(task: Any, context: Any, job_id: str, landing: Landing) -> dict[str, Any]:
    """Download the finished job into the destination; once written, a job the task submitted is consumed (a
    cleared task submits afresh)."""
    result = lineage.remember(task, task.download(job_id, landing))  # kept on the task for OpenLineage
    if getattr(task, task.api.job_id_field) in (None, ""):
        task.ledger(context).consume()
    return result


@dataclass(frozen=True)
class WriteOptions:
    """How a transfer writes (the arguments that are not templated): gzip, read and write sizes, download attempts,
    progress lines, Parquet compression and row groups, BOM removal, the checksum of the written object."""

    compression: str | None = None
    chunk_size: int = DEFAULT_CHUNK_SIZE
    block_size: int | None = None
    max_download_attempts: int = 3
    progress_interval: float = 5.0
    parquet_compression: str = "zstd"
    row_group_size: int = DEFAULT_ROW_GROUP_SIZE
    strip_bom: bool = True
    checksum: str | None = "sha256"

    @classmethod
    def from_arguments(cls, arguments: Mapping[str, Any]) -> WriteOptions:
        """The write options among a transfer's ``__init__`` arguments (``locals()``), by name."""
        return cls(**{option.name: arguments[option.name] for option in fields(cls) if option.name in arguments})

    def __post_init__(self) -> None:
        object.__setattr__(self, "compression", validate_compression(self.compression))
        validate_checksum(self.checksum)

    def output_settings(self, output_format: Any, column_types: Any, *, at_parse: bool = False) -> OutputSettings | None:
        """The output settings checked (``ReportValidationError`` naming the field). At parse, values that arrive
        later are skipped; at execute, pyarrow must be there when the settings need it."""
        return check_output_params(
            output_format=output_format,
            column_types=column_types,
            parquet_compression=self.parquet_compression,
            row_group_size=self.row_group_size,
            compression=self.compression,
            strip_bom=self.strip_bom,
            at_parse=at_parse,
            check_dependencies=not at_parse,
        )

    def landing(self, destination: Any, output_format: Any, column_types: Any) -> Landing:
        """The rendered destination and output settings, checked before any HTTP call (a bad one fails the task
        without retries)."""
        try:
            settings = self.output_settings(output_format, column_types)
            assert settings is not None
            return Landing(check_destination(destination), settings)
        except ReportValidationError as exc:
            raise fail_task(exc) from exc

    def write(
        self,
        openers: ByteOpener | list[ByteOpener],
        landing: Landing,
        log: Any,
        description: str,
        *,
        api: str,
        source_format: str = "csv",
        archived: bool = False,
        **extra: Any,
    ) -> dict[str, Any]:
        """Land the report at the destination in its output format; the XCom dict (uri, bytes, sha256, rows, ...)
        plus ``extra``."""
        from airflow_report_provider.common.landing.writer import write_report  # the formats load when a task runs

        result = write_report(
            openers,
            landing.destination,
            landing.settings,
            api=api,
            source_format=source_format,
            archived=archived,
            chunk_size=self.chunk_size,
            block_size=self.block_size,
            max_attempts=self.max_download_attempts,
            progress_interval=self.progress_interval,
            log=log,
            description=description,
            checksum=self.checksum,
        )
        return {**result, **extra}
