"""CSV: the parts of a CSV report joined byte for byte (header once), or text batches written as CSV rows."""

from __future__ import annotations

import csv
import io
from typing import Any, BinaryIO

from airflow_report_provider.common.landing.formats import WriterOptions

__all__ = ["CsvWriter", "RowCounter"]


class CsvWriter:
    """Writes text batches (a JSON export's rows) as RFC 4180 CSV: the header, then the rows."""

    gzip_allowed = True

    def __init__(self, out: BinaryIO, schema: Any, options: WriterOptions) -> None:
        self._out = out
        self._text = io.StringIO()
        self._csv = csv.writer(self._text, lineterminator="\n")
        self._csv.writerow(schema.names)
        self._flush()

    def write(self, batch: Any) -> None:
        columns = [["" if value is None else str(value) for value in column.to_pylist()] for column in batch.columns]
        self._csv.writerows(zip(*columns))
        self._flush()

    def close(self) -> None:
        self._flush()

    def _flush(self) -> None:
        data = self._text.getvalue()
        if data:
            self._out.write(data.encode("utf-8"))
            self._text.seek(0)
            self._text.truncate()


class RowCounter:
    """Counts CSV records in a byte stream fed piecewise (newlines outside double quotes)."""

    def __init__(self) -> None:
        self.records = 0
        self._in_quotes = False
        self._last = b"\n"

    def feed(self, data: bytes | memoryview) -> None:
        data = bytes(data)
        if not data:
            return
        pieces = data.split(b'"')
        for index, piece in enumerate(pieces):
            inside = self._in_quotes != (index % 2 == 1)
            if not inside:
                self.records += piece.count(b"\n")
        self._in_quotes = self._in_quotes != ((len(pieces) - 1) % 2 == 1)
        self._last = data[-1:]

    @property
    def open_line(self) -> bool:
        """The bytes fed so far end inside a record (no newline after it yet)."""
        return self._last != b"\n"

    def finish(self) -> int:
        """Records counted, plus a last one not ended by a newline."""
        return self.records + (0 if self._last == b"\n" else 1)
