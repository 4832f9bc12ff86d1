"""Parquet: row groups of ``row_group_size`` rows, zstd (default) or snappy, written as batches arrive."""

from __future__ import annotations

from typing import Any, BinaryIO

from airflow_report_provider.common.landing.formats import WriterOptions


class ParquetFormatWriter:
    """Buffers at most one row group of batches, then writes it (memory bounded by the row-group size)."""

    gzip_allowed = False

    def __init__(self, out: BinaryIO, schema: Any, options: WriterOptions) -> None:
        import pyarrow.parquet as pq

        self._schema = schema
        self._rows_per_group = options.row_group_size
        self._pending: list[Any] = []
        self._pending_rows = 0
        self._writer = pq.ParquetWriter(out, schema, compression=options.parquet_compression)

    def write(self, batch: Any) -> None:
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        while self._pending_rows >= self._rows_per_group:
            self._flush(self._rows_per_group)

    def close(self) -> None:
        if self._pending_rows:
            self._flush(self._pending_rows)
        self._writer.close()

    def _flush(self, rows: int) -> None:
        import pyarrow as pa

        table = pa.Table.from_batches(self._pending, self._schema)
        self._writer.write_table(table.slice(0, rows), row_group_size=rows)
        rest = table.slice(rows)
        self._pending = rest.to_batches() if rest.num_rows else []
        self._pending_rows = rest.num_rows
