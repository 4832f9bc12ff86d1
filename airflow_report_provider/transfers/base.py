"""What every transfer operator shares: its write arguments, its ``execute`` flow, delivery and lineage.

An API's transfer (:mod:`.criteo_mpo_to_object_storage`, :mod:`.walmart_to_object_storage`) declares its own
arguments (the existing job id, anything particular to its files) and how to open its download; the bytes go through
the one report writer (:func:`common.landing.writer.write_report`) into the :class:`Destination` resolved at the
start of the try.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from airflow_report_provider.common.exceptions import ReportProviderError, ReportValidationError
from airflow_report_provider.common.landing.destination import Destination
from airflow_report_provider.common.landing.settings import DEFAULT_ROW_GROUP_SIZE, OutputSettings, check_output_params
from airflow_report_provider.common.landing.sinks import validate_checksum, validate_compression
from airflow_report_provider.common.landing.sources import DEFAULT_CHUNK_SIZE, ByteOpener
from airflow_report_provider.common.observability import lineage
from airflow_report_provider.common.observability.redaction import redact_url
from airflow_report_provider.operators.arguments import is_runtime_value
from airflow_report_provider.operators.base import ReportJobOperator
from airflow_report_provider.operators.outcomes import fail_task

if TYPE_CHECKING:
    from airflow_report_provider.compat import Context

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
    """Where and how this try writes: the destination, resolved once, and the checked output settings."""

    destination: Destination
    settings: OutputSettings


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
        """The rendered destination, resolved, and the output settings, checked before any HTTP call (a bad one
        fails the task without retries)."""
        try:
            settings = self.output_settings(output_format, column_types)
            assert settings is not None
            return Landing(Destination.resolve(check_destination(destination), self.block_size), settings)
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
    ) -> dict[str, Any]:
        """Land the report at the destination in its output format; the XCom dict (uri, bytes, sha256, rows, ...)."""
        from airflow_report_provider.common.landing.writer import write_report  # the formats load when a task runs

        return write_report(
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


class ReportTransferOperator(ReportJobOperator):
    """Submit a report job (or take an existing one), wait until it is done, land its file at ``destination``.

    The shared arguments of every transfer:

    :param destination: object-storage URL or ObjectStoragePath (templated), e.g.
        ``s3://aws_default@bucket/reports/{{ ds }}/report.csv`` or ``file:///data/report.csv``.
    :param output_format: ``"raw"`` (the bytes as served), ``"csv"``, ``"parquet"`` or ``"ndjson"`` (typed rows).
    :param column_types: column name -> ``"string"|"int64"|"float64"|"decimal(p,s)"|"date"|"timestamp"``,
        overriding the default types.
    :param compression: ``"gzip"`` to compress while streaming (name the destination ``.gz`` yourself).
    :param chunk_size: read size of the download, bytes.
    :param block_size: write block (multipart part) size of the object store, bytes.
    :param max_download_attempts: opens of the download in total (a cut connection resumes with HTTP Range).
    :param progress_interval: seconds between progress lines of a long download.
    :param parquet_compression: ``"zstd"`` (default) or ``"snappy"``.
    :param row_group_size: rows per Parquet row group.
    :param checksum: ``"sha256"`` (default: the XCom's ``sha256`` of the written object) or ``None`` to skip
        hashing (a third less CPU per GiB).

    Each API's transfer sets :attr:`validate_job_id`, :attr:`default_output_format`, and :meth:`open_download`.
    """

    template_fields: Sequence[str] = TRANSFER_TEMPLATE_FIELDS
    #: The API's check of an existing job id (``report_id``, ``request_id``); raises ``ReportValidationError``.
    validate_job_id: ClassVar[Callable[[Any], str]]
    default_output_format: ClassVar[str] = "raw"

    def __init__(
        self,
        *,
        destination: Any,
        output_format: Any = None,
        column_types: Any = None,
        compression: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        block_size: int | None = None,
        max_download_attempts: int = 3,
        progress_interval: float = 5.0,
        parquet_compression: str = "zstd",
        row_group_size: int = DEFAULT_ROW_GROUP_SIZE,
        checksum: str | None = "sha256",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.destination = destination
        self.output_format = self.default_output_format if output_format is None else output_format
        self.column_types = column_types
        self.write_options = WriteOptions.from_arguments(locals())
        check_destination_syntax(destination)
        self.write_options.output_settings(self.output_format, column_types, at_parse=True)

    def check_job_arguments(self) -> None:
        """DAG-parse check: the existing job id when one is given, else the report arguments."""
        job_id = getattr(self, self.api.job_id_field)
        if job_id is None:
            self.check_literal_arguments()
        elif not is_runtime_value(job_id):
            type(self).validate_job_id(job_id)

    # -- execute, top to bottom ----------------------------------------------------------------------------------
    def execute(self, context: Context) -> dict[str, Any]:
        return self.land(context)

    def land(self, context: Context, **submit_options: Any) -> dict[str, Any]:
        """Check the landing, submit (or take the given job), wait until done, deliver."""
        landing = self.landing()
        job_id = self.given_job_id()
        if job_id is None:
            job_id = self.wait_until_done(self.submit_job(context, **submit_options), "execute_complete")
        else:
            job_id = self.job_wait().until_done(self, self.hook, job_id, "execute_complete")
        return self.deliver(context, job_id, landing)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger: land the file when the job is done, else fail with its status and code."""
        landing = self.landing()
        return self.deliver(context, self.job_done(event), landing)

    def landing(self) -> Landing:
        """This try's destination and output settings, from the rendered arguments, checked before any HTTP call."""
        return self.write_options.landing(self.destination, self.output_format, self.column_types)

    def given_job_id(self) -> str | None:
        """The existing job to download (``report_id`` / ``request_id``), checked; ``None`` when it submits its own."""
        value = getattr(self, self.api.job_id_field)
        if value in (None, ""):
            return None
        try:
            return type(self).validate_job_id(value)
        except ReportValidationError as exc:
            raise fail_task(exc) from exc

    def deliver(self, context: Context, job_id: str, landing: Landing) -> dict[str, Any]:
        """Land the finished job's file; once written, a job the task submitted is consumed (a cleared task
        submits afresh)."""
        result = self.download(job_id, landing)
        self.remember_lineage(result)
        if getattr(self, self.api.job_id_field) in (None, ""):
            self.ledger(context).consume()
        return result

    def download(self, job_id: str, landing: Landing) -> dict[str, Any]:
        """Stream the job's file into the destination in the output format; the XCom dict."""
        try:
            openers = self.open_download(job_id, landing.settings)
            result = self.write_options.write(
                openers,
                landing,
                self.log,
                f"{self.api.job_noun} {job_id}",
                api=self.api.name,
                source_format=self.source_format,
                archived=self.api.archived_downloads,
            )
        except ReportProviderError as exc:
            raise fail_task(exc) from exc
        return {**result, self.api.job_id_field: job_id}

    def open_download(self, job_id: str, settings: OutputSettings) -> ByteOpener | list[ByteOpener]:
        """The opener(s) of the job's file(s) through the API's hook."""
        raise NotImplementedError

    @property
    def source_format(self) -> str:
        """The format the API serves the report in (``csv`` or ``json``)."""
        return "csv"

    def remember_lineage(self, result: dict[str, Any]) -> None:
        """Keep what OpenLineage asks for after the task (in a fork of this process) on the operator."""
        self.lineage_record = lineage.TransferRecord.of(self.hook, result[self.api.job_id_field], result)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the report of the downloaded job in (named as the hook names it), the written file out."""
        record: lineage.TransferRecord | None = getattr(self, "lineage_record", None)
        return record.operator_lineage() if record is not None else None
