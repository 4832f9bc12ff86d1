"""Write a report's parts to one output: CSV parts joined byte for byte, or typed record batches through a format's
writer. Raises :class:`ReportContentError` (a value that does not fit, parts whose headers differ); the caller
discards the output then."""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from typing import Any

from airflow_report_provider.common.exceptions import ReportContentError
from airflow_report_provider.common.landing.formats import WriterOptions, new_writer
from airflow_report_provider.common.landing.formats.column_types import arrow_type, reader_type, resolve_types
from airflow_report_provider.common.landing.formats.csv import RowCounter
from airflow_report_provider.common.landing.formats.readers import (
    CsvConversionError,
    criteo_json_batches,
    csv_batches,
    read_csv_header,
)
from airflow_report_provider.common.landing.settings import OutputSettings
from airflow_report_provider.common.landing.parts import ReportPart
from airflow_report_provider.common.landing.sinks import Output

__all__ = ["ReadAsText", "copy_csv", "write_batches"]


class OutputFile(io.RawIOBase):
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


def _mismatch(part: ReportPart, names: list[str], expected: list[str]) -> ReportContentError:
    return ReportContentError(
        f"report part {part.name!r} has the header {names!r}, other parts {expected!r}; nothing was written"
    )


def copy_csv(parts: Sequence[ReportPart], output: Output, settings: OutputSettings, chunk_size: int) -> int:
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


def write_batches(
    parts: Sequence[ReportPart],
    output: Output,
    settings: OutputSettings,
    api: str,
    source_format: str,
    log: logging.Logger,
    text_columns: set[int],
) -> tuple[int, list[dict[str, str]]]:
    """Every part's rows, typed, through the format's writer; (rows, columns). ``text_columns``: timestamp columns
    pyarrow's reader must leave as text (see :class:`ReadAsText`)."""
    out = OutputFile(output)
    try:
        return _write_parts(parts, out, settings, api, source_format, log, text_columns)
    except BaseException:
        out.abandon()  # a failed writer's footer (written when it is collected) must not reach the output
        raise


def _write_parts(
    parts: Sequence[ReportPart], out: OutputFile, settings: OutputSettings, api: str, source_format: str, log: logging.Logger, text_columns: set[int]
) -> tuple[int, list[dict[str, str]]]:
    import pyarrow as pa

    from airflow_report_provider.common.landing.formats.column_types import cast_column

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
                    raise ReadAsText(exc.column) from None
                raise _locate(part, exc, columns, specs, part_first_row) from None
    if writer is None:
        raise ReportContentError("the report holds no file")
    writer.close()
    return row - 1, [{"name": name, "type": spec} for name, spec in zip(columns, specs)]


def _locate(part: ReportPart, error: CsvConversionError, columns: list[str], specs: list[str], first_row: int) -> ReportContentError:
    """The row of the value pyarrow's reader refused: the part read again as text and cast column by column
    (the error path only; a streamed Criteo export is downloaded again for it)."""
    from airflow_report_provider.common.landing.formats.column_types import cast_column

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


class ReadAsText(Exception):
    """pyarrow's reader refused a timestamp without a zone offset: convert again with that column read as text
    (values without an offset are then taken as UTC)."""

    def __init__(self, column: int) -> None:
        super().__init__(column)
        self.column = column
