"""Output formats of the transfers: one module per format, each a :class:`FormatWriter` of typed record batches.

``raw`` (the bytes as served) and ``csv`` of a CSV source are byte copies (:mod:`common.report_output`);
``csv`` of a JSON source, ``parquet`` and ``ndjson`` are written from record batches by the writer registered
here. Adding a format is one module with a writer class plus one line in :data:`_WRITERS`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

from airflow_report_provider.common.exceptions import ReportValidationError

__all__ = [
    "OUTPUT_FORMATS",
    "PARQUET_COMPRESSIONS",
    "FormatWriter",
    "WriterOptions",
    "check_output_format",
    "new_writer",
    "require_pyarrow",
]

OUTPUT_FORMATS = ("raw", "csv", "parquet", "ndjson")
PARQUET_COMPRESSIONS = ("zstd", "snappy")
#: format -> "module:class" (imported on first use: pyarrow is an optional extra).
_WRITERS = {
    "csv": "airflow_report_provider.common.landing.formats.csv:CsvWriter",
    "parquet": "airflow_report_provider.common.landing.formats.parquet:ParquetFormatWriter",
    "ndjson": "airflow_report_provider.common.landing.formats.ndjson:NdjsonWriter",
}


@dataclass(frozen=True)
class WriterOptions:
    """Settings a writer may use: Parquet compression and rows per row group."""

    parquet_compression: str = "zstd"
    row_group_size: int = 500_000


class FormatWriter(Protocol):
    """Writes record batches of one schema to a binary file object, in order; ``close`` ends the file."""

    #: Whether the output may be gzipped while streaming (not Parquet: it compresses itself).
    gzip_allowed: bool

    def __init__(self, out: BinaryIO, schema: Any, options: WriterOptions) -> None: ...

    def write(self, batch: Any) -> None: ...

    def close(self) -> None: ...


def check_output_format(value: Any) -> str:
    """The output format name; ``ReportValidationError`` naming ``output_format`` otherwise."""
    if not isinstance(value, str) or value.strip().lower() not in OUTPUT_FORMATS:
        raise ReportValidationError("output_format", f"must be one of {', '.join(OUTPUT_FORMATS)}", value)
    return value.strip().lower()


def require_pyarrow(output_format: str) -> None:
    """A clear error naming the ``parquet`` extra when pyarrow is missing."""
    try:
        import pyarrow  # noqa: F401
        import pyarrow.csv  # noqa: F401
    except ImportError:
        raise ReportValidationError(
            "output_format",
            "needs pyarrow for typed output and column_types: pip install 'airflow-report-provider[parquet]'",
            output_format,
        ) from None


def writer_class(output_format: str) -> type[FormatWriter]:
    """The writer class of a format."""
    module, _, name = _WRITERS[output_format].partition(":")
    return getattr(importlib.import_module(module), name)


def new_writer(output_format: str, out: BinaryIO, schema: Any, options: WriterOptions) -> FormatWriter:
    """A writer of ``output_format`` over ``out``."""
    return writer_class(output_format)(out, schema, options)
