"""Read a report as text record batches, incrementally: CSV (header first) and Criteo's columnar JSON.

Every value is read as text (typing is :mod:`column_types`' job), so memory holds one batch, never the file.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Iterator
from typing import Any, BinaryIO

from airflow_report_provider.common.landing.archives import UTF8_BOM
from airflow_report_provider.common.exceptions import ReportContentError
from airflow_report_provider.common.landing.sources import ReadStream

__all__ = ["CsvConversionError", "CsvHeader", "read_csv_header", "csv_batches", "criteo_json_batches", "JSON_BATCH_ROWS"]

#: pyarrow's read size. Its streaming reader reads up to a few dozen blocks ahead of the consumer (held outside
#: its memory pool), so the block size bounds memory as much as the row group does.
CSV_BLOCK_SIZE = 256 << 10
_CONVERSION = re.compile(r"In CSV column #(\d+): (.*)", re.S)
JSON_BATCH_ROWS = 16384
_SLOW_ROWS = 256
_JSON_READ_SIZE = 1 << 20


class CsvHeader:
    """A CSV's first record: its bytes as served (``raw``, with the BOM when there was one) and its names."""

    def __init__(self, raw: bytes, bom: bool, names: list[str]) -> None:
        self.raw = raw
        self.bom = bom
        self.names = names


def read_csv_header(stream: BinaryIO) -> tuple[CsvHeader, BinaryIO]:
    """The header record of ``stream`` and a stream of everything after it (nothing is read twice)."""
    head = bytearray()
    while True:
        block = stream.read(64 * 1024)
        if not block:
            end = len(head)
            break
        head += block
        end = _record_end(head)
        if end >= 0:
            break
    line, rest = bytes(head[:end]), bytes(head[end:])
    bom = line.startswith(UTF8_BOM)
    text = line[len(UTF8_BOM) :] if bom else line
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError:
        raise ReportContentError("the CSV header is not UTF-8 text") from None
    names = next(csv.reader([decoded.rstrip("\r\n")]), []) if decoded.strip() else []
    return CsvHeader(line, bom, names), _Prepended(rest, stream)


def _record_end(data: bytearray) -> int:
    """The index after the first newline outside quotes, or -1 (quotes counted from the beginning)."""
    quotes = 0
    for index in range(len(data)):
        byte = data[index]
        if byte == 0x22:
            quotes += 1
        elif byte == 0x0A and quotes % 2 == 0:
            return index + 1
    return -1


class _Prepended(ReadStream):
    """``prefix`` then the rest of ``stream``."""

    def __init__(self, prefix: bytes, stream: BinaryIO) -> None:
        super().__init__()
        self._prefix = prefix
        self._stream = stream

    def readinto(self, buffer: Any) -> int:
        if self._prefix or not hasattr(self._stream, "readinto"):
            return super().readinto(buffer)
        return self._stream.readinto(buffer)  # no copy of ours in between

    def read(self, size: int | None = -1) -> bytes:
        if self._prefix:
            if size is None or size < 0 or size >= len(self._prefix):
                data, self._prefix = self._prefix, b""
                return data
            data, self._prefix = self._prefix[:size], self._prefix[size:]
            return data
        return self._stream.read(-1 if size is None else size)


class CsvConversionError(Exception):
    """pyarrow's CSV reader met a value that does not fit its column's type (it does not say the row): an internal
    signal, turned into a :class:`ReportContentError` naming the row by the caller."""

    def __init__(self, column: int, reason: str) -> None:
        self.column, self.reason = column, reason
        super().__init__(f"CSV column #{column}: {reason}")


def csv_batches(
    stream: BinaryIO, names: list[str], types: list[Any] | None = None, *, block_size: int | None = None
) -> Iterator[Any]:
    """Record batches of the CSV rows after the header (pyarrow's streaming reader): each column of the Arrow
    type in ``types`` (parsed by the reader itself), text when not given. Every empty cell, and only those, is
    null; a value that does not fit raises :class:`CsvConversionError`."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if not names:
        return
    generated = [f"f{index}" for index in range(len(names))]  # duplicate header names must not clash
    types = types or [pa.string()] * len(names)
    # pyarrow takes a short read for a block: a buffered reader fills every read but the last
    buffered = io.BufferedReader(stream if isinstance(stream, io.RawIOBase) else _Prepended(b"", stream), 1 << 16)  # type: ignore[arg-type]
    if not buffered.peek(1):
        return  # a header and no row
    try:
        yield from _read_csv(pa, pacsv, buffered, generated, types, block_size or CSV_BLOCK_SIZE)
    except pa.ArrowInvalid as exc:
        match = _CONVERSION.search(str(exc))
        if match:
            raise CsvConversionError(int(match.group(1)), match.group(2).strip()) from None
        raise ReportContentError(f"the CSV cannot be read: {exc}") from None


def _read_csv(pa: Any, pacsv: Any, buffered: Any, generated: list[str], types: list[Any], block_size: int) -> Iterator[Any]:
    reader = pacsv.open_csv(
        buffered,
        read_options=pacsv.ReadOptions(column_names=generated, block_size=block_size),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types=dict(zip(generated, types)),
            null_values=[""],
            strings_can_be_null=True,  # the caller gives text columns their "" back (a cheap fill where needed)
            quoted_strings_can_be_null=True,
        ),
    )
    for batch in reader:
        if batch.num_rows:
            yield batch


# ------------------------------------------------------------------------------------------------ Criteo JSON


class _JsonScanner:
    """Values of a JSON text read piecewise; numbers keep their literal text."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._decoder = json.JSONDecoder(parse_float=str, parse_int=str, parse_constant=str)
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self._buffer = ""
        self._pos = 0
        self._eof = False

    def _fill(self) -> bool:
        if self._eof:
            return False
        data = self._stream.read(_JSON_READ_SIZE)
        if not data:
            self._eof = True
        text = self._utf8.decode(data, final=not data)
        self._buffer = self._buffer[self._pos :] + text
        self._pos = 0
        return True

    def peek(self) -> str | None:
        """The next non-blank character (not consumed), ``None`` at the end."""
        while True:
            buffer, pos = self._buffer, self._pos
            while pos < len(buffer) and buffer[pos] in " \t\r\n":
                pos += 1
            self._pos = pos
            if pos < len(buffer):
                return buffer[pos]
            if not self._fill():
                return None

    def expect(self, chars: str) -> str:
        found = self.peek()
        if found is None or found not in chars:
            raise ReportContentError(f"the JSON export is malformed: expected one of {chars!r}, found {found!r}")
        self._pos += 1
        return found

    def rows(self) -> list[Any]:
        """Every whole row of the data array already in the buffer, parsed at once (C speed); ``[]`` when the
        buffer holds none, or when a cut there is ambiguous (then :meth:`value` reads one row).

        A cut after a ``]`` inside a string leaves that string open, so the parse fails: a parse that succeeds
        cut at a real row end."""
        if self.peek() != "[":
            return []
        buffer, start = self._buffer, self._pos
        end = buffer.rfind("]", start)
        for candidate in (end, buffer.rfind("],", start, end)):
            if candidate <= start:
                return []
            try:
                rows = self._decoder.decode("[" + buffer[start : candidate + 1] + "]")
            except json.JSONDecodeError:
                continue
            self._pos = candidate + 1
            return rows
        return []

    def value(self) -> Any:
        self.peek()
        while True:
            try:
                value, end = self._decoder.raw_decode(self._buffer, self._pos)
            except json.JSONDecodeError:
                if self._fill():
                    continue
                raise ReportContentError("the JSON export is malformed or cut short") from None
            if end >= len(self._buffer) and not self._eof and self._fill():
                continue  # a number at the buffer's end may go on in the next read
            self._pos = end
            return value


def criteo_json_batches(stream: BinaryIO, *, batch_rows: int = JSON_BATCH_ROWS) -> tuple[list[str], Iterator[Any]]:
    """``{"columns": [...], "data": [[...], ...], "rows": N}`` read incrementally: the columns, then text batches."""
    scanner = _JsonScanner(stream)
    scanner.expect("{")
    columns: list[str] | None = None
    while scanner.peek() != "}":
        key = scanner.value()
        scanner.expect(":")
        if key == "columns":
            columns = [str(name) for name in scanner.value()]
        elif key == "data":
            if columns is None:
                raise ReportContentError("the JSON export lists its data before its columns")
            return columns, _json_rows(scanner, columns, batch_rows)
        else:
            scanner.value()
        if scanner.expect(",}") == "}":
            break
    return columns or [], iter(())


def _json_rows(scanner: _JsonScanner, columns: list[str], batch_rows: int) -> Iterator[Any]:
    import pyarrow as pa

    scanner.expect("[")
    rows: list[list[Any]] = []
    row_number = 0
    slow = 0  # rows to read one by one before trying the block parse again (bounds the cost of failed tries)
    if scanner.peek() == "]":
        scanner.expect("]")
    else:
        while True:
            block = scanner.rows() if not slow else []
            if not block:
                block, slow = [scanner.value()], max(slow - 1, 0) if slow else _SLOW_ROWS
            for row in block:
                row_number += 1
                if not isinstance(row, list) or len(row) != len(columns):
                    raise ReportContentError(f"the JSON export's data row {row_number} does not hold {len(columns)} values")
                rows.append(row)
            if len(rows) >= batch_rows:
                yield _text_batch(pa, rows, len(columns))
                rows = []
            if scanner.expect(",]") == "]":
                break
    if rows:
        yield _text_batch(pa, rows, len(columns))
    while scanner.peek() not in ("}", None):  # the keys after "data" ("rows": N)
        scanner.expect(",")
        scanner.value()
        scanner.expect(":")
        scanner.value()


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _text_batch(pa: Any, rows: list[list[Any]], width: int) -> Any:
    arrays = []
    for column in zip(*rows):
        try:
            arrays.append(pa.array(column, pa.string()))  # strings, numbers' literals and nulls: C speed
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # booleans or nested values: their JSON text
            arrays.append(pa.array([_text(value) for value in column], pa.string()))
    return pa.RecordBatch.from_arrays(arrays, names=[f"f{index}" for index in range(width)])
