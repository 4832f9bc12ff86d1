"""Write a finished report to its destination in the output format asked for: the transfers' one entry point.

* ``raw``: the bytes as served, through :func:`common.streaming.stream_to_object_storage` (resume, atomic).
* ``csv`` of a CSV report: the parts joined byte for byte, the header once.
* ``parquet`` / ``ndjson`` (and ``csv`` of a JSON export): text record batches (:mod:`formats.readers`), typed
  (:mod:`formats.column_types`), written by the format's writer (:mod:`common.formats`).

Sources: a Criteo export is read straight from the HTTP body through a :class:`ResumableReader` (no spool: a cut
body resumes with HTTP Range while pyarrow parses). A Walmart download is spooled to a local temporary file first,
as before, because a zip is read from its end (central directory); each of its parts is then read in order.
The output is one :class:`common.sinks.Output`: published whole, or discarded on any error (a bad value, parts
whose headers differ, a cut download that does not resume), so the destination never holds a partial file.
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, closing, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

from airflow_report_provider.common.archives import inspect_report_file, open_report_member
from airflow_report_provider.common.destinations import (
    as_storage_path,
    public_uri,
    record_lineage,
    sink_factory,
    validate_settings,
)
from airflow_report_provider.common.exceptions import ReportContentError, ReportValidationError, TransferError
from airflow_report_provider.common.formats import (
    PARQUET_COMPRESSIONS,
    WriterOptions,
    check_output_format,
    new_writer,
    require_pyarrow,
)
from airflow_report_provider.common.formats.column_types import arrow_type, check_column_types, reader_type, resolve_types
from airflow_report_provider.common.formats.csv import RowCounter
from airflow_report_provider.common.formats.readers import (
    CsvConversionError,
    criteo_json_batches,
    csv_batches,
    read_csv_header,
)
from airflow_report_provider.common.resumable_reader import ResumableReader
from airflow_report_provider.common.sinks import COMPRESSIONS, Output, scrub
from airflow_report_provider.common.sources import DEFAULT_CHUNK_SIZE, ByteOpener
from airflow_report_provider.common.streaming import stream_to_local_file, stream_to_object_storage

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

__all__ = ["DEFAULT_ROW_GROUP_SIZE", "OutputSettings", "check_output_params", "write_report"]

DEFAULT_ROW_GROUP_SIZE = 500_000
_LOG = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------------ settings


@dataclass(frozen=True)
class OutputSettings:
    """How the report lands: format, typing overrides, Parquet knobs, optional gzip, BOM handling."""

    output_format: str = "raw"
    column_types: Mapping[str, str] = field(default_factory=dict)
    parquet_compression: str = "zstd"
    row_group_size: int = DEFAULT_ROW_GROUP_SIZE
    compression: str | None = None
    strip_bom: bool = False

    @property
    def typed(self) -> bool:
        return self.output_format in ("parquet", "ndjson")


def _literal(value: Any) -> bool:
    """A plain value checkable at DAG parse (not a Jinja string, not an XComArg or other lazy object)."""
    if isinstance(value, str):
        return "{{" not in value and "{%" not in value
    if isinstance(value, Mapping):
        return all(_literal(k) and _literal(v) for k, v in value.items())
    return value is None or isinstance(value, (int, float, bool))


def check_output_params(
    *,
    output_format: Any,
    column_types: Any = None,
    parquet_compression: Any = "zstd",
    row_group_size: Any = DEFAULT_ROW_GROUP_SIZE,
    compression: Any = None,
    strip_bom: bool = False,
    at_parse: bool = False,
    check_dependencies: bool = False,
) -> OutputSettings | None:
    """Validate the output parameters (``ReportValidationError`` naming the field); the settings when all are
    plain values. ``at_parse`` skips the values that are templated or lazy (checked again at execute);
    ``check_dependencies`` also requires pyarrow when the settings need it (execute time, before any HTTP call)."""
    values = (output_format, column_types, parquet_compression, row_group_size, compression)
    if at_parse and not all(_literal(value) for value in values):
        # check what can be checked now; the rest waits for execute
        if _literal(output_format):
            check_output_format(output_format)
        if _literal(column_types):
            check_column_types(column_types)
        return None
    fmt = check_output_format(output_format)
    types = check_column_types(column_types)
    codec = parquet_compression.strip().lower() if isinstance(parquet_compression, str) else parquet_compression
    if codec not in PARQUET_COMPRESSIONS:
        raise ReportValidationError("parquet_compression", f"must be one of {', '.join(PARQUET_COMPRESSIONS)}", parquet_compression)
    if isinstance(row_group_size, bool) or not isinstance(row_group_size, int) or row_group_size < 1:
        raise ReportValidationError("row_group_size", "must be a positive number of rows", row_group_size)
    if compression is not None and compression not in COMPRESSIONS:
        raise ReportValidationError("compression", f"must be one of {', '.join(COMPRESSIONS)} or None", compression)
    if compression is not None and fmt == "parquet":
        raise ReportValidationError("compression", "must be None for parquet (use parquet_compression)", compression)
    settings = OutputSettings(fmt, types, codec, row_group_size, compression, strip_bom)
    if check_dependencies and (settings.typed or settings.column_types):
        require_pyarrow(fmt)
    return settings


# ------------------------------------------------------------------------------------------------ parts


@dataclass(frozen=True)
class _Part:
    """One file of the report: ``name`` for errors, ``open()`` for its bytes."""

    name: str
    open: Callable[[], AbstractContextManager[BinaryIO]]


@dataclass
class _Transport:
    chunk_size: int
    max_attempts: int
    progress_interval: float
    log: logging.Logger
    description: str
    source_bytes: int = 0
    attempts: int = 0
    details: dict[str, Any] = field(default_factory=dict)


def _streamed_part(opener: ByteOpener, t: _Transport) -> _Part:
    @contextmanager
    def open_body() -> Iterator[BinaryIO]:
        reader = ResumableReader(
            opener, max_attempts=t.max_attempts, description=t.description, log=t.log, progress_interval=t.progress_interval
        )
        with closing(reader):
            yield reader  # type: ignore[misc]
        t.source_bytes += reader.offset
        t.attempts += reader.attempts

    return _Part("export", open_body)


def _spooled_parts(openers: Sequence[ByteOpener], spool_dir: str, t: _Transport) -> list[_Part]:
    """Download every file to the spool (resumable), then list each one's parts in order."""
    parts: list[_Part] = []
    formats, members = [], []
    for index, opener in enumerate(openers):
        path = os.path.join(spool_dir, f"download-{index}")
        label = t.description if len(openers) == 1 else f"{t.description} (file {index + 1}/{len(openers)})"
        result = stream_to_local_file(
            opener, path, chunk_size=t.chunk_size, max_attempts=t.max_attempts,
            progress_interval=t.progress_interval, log=t.log, description=f"{label} (download)",
        )
        t.source_bytes += result.source_bytes
        t.attempts += result.attempts
        found = inspect_report_file(path)
        t.log.info("%s: a %s file holding %s", label, found.format, ", ".join(found.members))
        formats.append(found.format)
        for member in found.members:
            name = member if len(openers) == 1 else f"file {index + 1} member {member}"
            chosen = member if found.format == "zip" else None
            parts.append(_Part(name, lambda path=path, chosen=chosen: open_report_member(path, member=chosen)))
            members.append(member)
    t.details = {"format": formats[0] if len(set(formats)) == 1 else formats, "member": members[0], "members": members}
    return parts


# ------------------------------------------------------------------------------------------------ writing


class _OutputFile(io.RawIOBase):
    """A write-only file over an :class:`Output` (for pyarrow's writers)."""

    def __init__(self, output: Output) -> None:
        super().__init__()
        self._output = output
        self._position = 0
        self._abandoned = False

    def writable(self) -> bool:
        return True

    def abandon(self) -> None:
        """Ignore further writes (a failed writer's footer must not reach a discarded output)."""
        self._abandoned = True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        if self._abandoned:
            return view.nbytes
        self._output.write(view)
        self._position += view.nbytes
        return view.nbytes

    def tell(self) -> int:
        return self._position


def _mismatch(part: _Part, names: list[str], expected: list[str]) -> ReportContentError:
    return ReportContentError(
        f"report part {part.name!r} has the header {names!r}, other parts {expected!r}; nothing was written"
    )


def _copy_csv(parts: Sequence[_Part], output: Output, settings: OutputSettings, chunk_size: int) -> int:
    """The CSV parts byte for byte, the first header once; the data rows copied."""
    counter = RowCounter()
    expected: list[str] | None = None
    open_line = False  # the output's last line has no newline yet
    for part in parts:
        with part.open() as stream:
            header, rest = read_csv_header(stream)
            if expected is None:
                expected = header.names
                raw = header.raw[3:] if settings.strip_bom and header.bom else header.raw
                output.write(raw)
                open_line = bool(raw) and not raw.endswith(b"\n")
            elif header.names and header.names != expected:
                raise _mismatch(part, header.names, expected)
            wrote = False
            for chunk in iter(lambda: rest.read(chunk_size), b""):
                if open_line:  # the previous part's last row (or the header) had no newline
                    output.write(b"\n")
                    counter.feed(b"\n")
                    open_line = False
                output.write(chunk)
                counter.feed(chunk)
                wrote = True
            if wrote:
                open_line = counter.open_line
    return counter.finish()


def _write_batches(
    parts: Sequence[_Part],
    output: Output,
    settings: OutputSettings,
    api: str,
    source_format: str,
    log: logging.Logger,
    text_columns: set[int],
) -> tuple[int, list[dict[str, str]]]:
    """Every part's rows, typed, through the format's writer; (rows, columns)."""
    out = _OutputFile(output)
    try:
        return _write_parts(parts, out, settings, api, source_format, log, text_columns)
    except BaseException:
        out.abandon()
        raise


def _write_parts(
    parts: Sequence[_Part],
    out: _OutputFile,
    settings: OutputSettings,
    api: str,
    source_format: str,
    log: logging.Logger,
    text_columns: set[int],
) -> tuple[int, list[dict[str, str]]]:
    import pyarrow as pa

    from airflow_report_provider.common.formats.column_types import cast_column

    writer = None
    columns: list[str] = []
    specs: list[str] = []
    reader_types: list[Any] = []
    schema = None
    row = 1
    for part in parts:
        part_first_row = row
        with part.open() as stream:
            if source_format == "json":
                names, source = criteo_json_batches(stream)
            else:
                header, source = read_csv_header(stream)
                names = header.names
            if writer is None:
                columns = names
                specs = resolve_types(api, names, settings.column_types) if settings.typed else ["string"] * len(names)
                reader_types = [reader_type("string" if i in text_columns else spec) for i, spec in enumerate(specs)]
                unknown = sorted(set(settings.column_types) - set(names))
                if unknown:
                    log.warning("column_types names columns the report does not have: %s", ", ".join(unknown))
                schema = pa.schema([pa.field(name, arrow_type(spec)) for name, spec in zip(names, specs)])
                options = WriterOptions(settings.parquet_compression, settings.row_group_size)
                writer = new_writer(settings.output_format, out, schema, options)
            elif names != columns:
                if not names:
                    continue  # an empty part
                raise _mismatch(part, names, columns)
            csv_source = source_format != "json"
            batches = csv_batches(source, names, reader_types) if csv_source else source
            try:
                for batch in batches:
                    arrays = [
                        cast_column(batch.column(i), specs[i], columns[i], row, empties_are_null=csv_source)
                        for i in range(len(columns))
                    ]
                    writer.write(pa.RecordBatch.from_arrays(arrays, schema=schema))
                    row += batch.num_rows
            except CsvConversionError as exc:
                if specs[exc.column] == "timestamp" and exc.column not in text_columns and "zone offset" in exc.reason:
                    raise _ReadAsText(exc.column) from None
                raise _locate(part, exc, columns, specs, part_first_row) from None
    if writer is None:
        raise ReportContentError("the report holds no file")
    writer.close()
    return row - 1, [{"name": name, "type": spec} for name, spec in zip(columns, specs)]


def _locate(part: _Part, error: CsvConversionError, columns: list[str], specs: list[str], first_row: int) -> ReportContentError:
    """The row of the value pyarrow's reader refused: the part read again as text and cast column by column
    (the error path only; a streamed Criteo export is downloaded again for it)."""
    from airflow_report_provider.common.formats.column_types import cast_column

    column = columns[error.column] if error.column < len(columns) else f"#{error.column}"
    try:
        with part.open() as stream:
            header, rest = read_csv_header(stream)
            row = first_row
            for batch in csv_batches(rest, header.names):
                cast_column(batch.column(error.column), specs[error.column], column, row, empties_are_null=True)
                row += batch.num_rows
    except ReportContentError as located:
        return located
    except Exception:  # the source could not be read again: report what the reader said
        pass
    return ReportContentError(f"column {column!r}: {error.reason}; nothing was written")


def _open_output(path: ObjectStoragePath, block_size: int | None, settings: OutputSettings, uri: str) -> Output:
    try:
        return Output(sink_factory(path, block_size)(), settings.compression, uri)
    except Exception as exc:
        raise TransferError(f"opening {uri} failed: {type(exc).__name__}: {scrub(str(exc))}") from exc


class _ReadAsText(Exception):
    """pyarrow's reader refused a timestamp without a zone offset: convert again with that column read as text
    (values without an offset are then taken as UTC)."""

    def __init__(self, column: int) -> None:
        super().__init__(column)
        self.column = column


def _convert(
    parts: Callable[[], Sequence[_Part]],
    path: ObjectStoragePath,
    settings: OutputSettings,
    *,
    api: str,
    source_format: str,
    block_size: int | None,
    t: _Transport,
) -> dict[str, Any]:
    uri = public_uri(path)
    started = time.monotonic()
    t.log.info("%s: writing %s to %s", t.description, settings.output_format, uri)
    output: Output | None = None
    text_columns: set[int] = set()
    try:
        sources = parts()
        while True:
            output = _open_output(path, block_size, settings, uri)
            if settings.output_format == "csv" and source_format == "csv":
                rows, columns = _copy_csv(sources, output, settings, t.chunk_size), None
                break
            try:
                rows, columns = _write_batches(sources, output, settings, api, source_format, t.log, text_columns)
                break
            except _ReadAsText as retry:  # timestamps without a zone offset: start again, that column as text
                output.discard(t.log)
                output = None
                text_columns |= {retry.column}
                t.log.info("%s: column #%d has timestamps without a zone offset; converting again", t.description, retry.column)
        output.publish()
    except BaseException:
        if output is not None:
            output.discard(t.log)
        raise
    record_lineage(path)
    t.log.info("%s: wrote %d rows, %d bytes to %s", t.description, rows, output.written, uri)
    result: dict[str, Any] = {
        "uri": uri,
        "bytes": output.written,
        "source_bytes": t.source_bytes,
        "sha256": output.sha256.hexdigest(),
        "compression": settings.compression,
        "attempts": t.attempts,
        "seconds": round(time.monotonic() - started, 3),
        "output_format": settings.output_format,
        "rows": rows,
        **t.details,
    }
    if columns is not None and settings.typed:
        result["columns"] = columns
    return result


def write_report(
    openers: ByteOpener | Sequence[ByteOpener],
    destination: str | os.PathLike[str] | ObjectStoragePath,
    settings: OutputSettings,
    *,
    api: str,
    source_format: str = "csv",
    archived: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    block_size: int | None = None,
    max_attempts: int = 3,
    progress_interval: float = 5.0,
    log: logging.Logger | None = None,
    description: str = "report",
) -> dict[str, Any]:
    """Land the report at ``destination`` in ``settings.output_format``; the XCom dict.

    ``openers``: one per file of the report (Walmart may list several). ``api`` (``"criteo"``/``"walmart"``)
    picks the default column types; ``source_format`` is ``"csv"`` or ``"json"`` (Criteo's columnar export);
    ``archived``: the files may be zip / gzip / plain (detected by magic bytes) and are spooled locally first.
    Nothing is published unless every row was written. Returns ``uri``, ``bytes``, ``sha256``, ``rows``
    (``None`` for ``raw``), ``columns`` (parquet / ndjson) and the download figures.
    """
    log = log or _LOG
    openers = [openers] if callable(openers) else list(openers)
    if not openers:
        raise ReportContentError(f"{description}: the download answer listed no file")
    source_format = (source_format or "csv").lower()
    if settings.output_format == "raw":
        if len(openers) > 1:
            raise ReportContentError(
                f"{description} is split into {len(openers)} files; output_format='raw' keeps one file as served: "
                "use 'csv', 'parquet' or 'ndjson' to land every part (nothing was written)"
            )
        result = stream_to_object_storage(
            openers[0], destination, compression=settings.compression, chunk_size=chunk_size, block_size=block_size,
            max_attempts=max_attempts, progress_interval=progress_interval, log=log, description=description,
        )
        return {**result.as_xcom(), "output_format": "raw", "rows": None}
    if settings.typed or settings.column_types or source_format == "json":
        require_pyarrow(settings.output_format)
    path = as_storage_path(destination)
    validate_settings(chunk_size, max_attempts, block_size, path.protocol)
    t = _Transport(chunk_size, max_attempts, progress_interval, log, description)
    if not archived:
        return _convert(lambda: [_streamed_part(o, t) for o in openers], path, settings, api=api,
                        source_format=source_format, block_size=block_size, t=t)
    with tempfile.TemporaryDirectory(prefix="report-spool-") as spool_dir:
        return _convert(lambda: _spooled_parts(openers, spool_dir, t), path, settings, api=api,
                        source_format=source_format, block_size=block_size, t=t)
