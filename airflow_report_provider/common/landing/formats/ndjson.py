"""NDJSON: one JSON object per row, keys in column order.

Integers and floats are JSON numbers (NaN is null), decimals are strings with their exact digits, dates
``YYYY-MM-DD``, timestamps ISO-8601 with their UTC offset, empty typed cells null.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from decimal import Decimal
from typing import Any, BinaryIO

from airflow_report_provider.common.landing.formats import WriterOptions


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class NdjsonWriter:
    """Writes each batch's rows as lines."""

    gzip_allowed = True

    def __init__(self, out: BinaryIO, schema: Any, options: WriterOptions) -> None:
        self._out = out
        self._names = list(schema.names)
        self._convert = [self._needs_conversion(field.type) for field in schema]
        self._encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

    @staticmethod
    def _needs_conversion(arrow_type: Any) -> bool:
        import pyarrow.types as t

        return not (t.is_string(arrow_type) or t.is_large_string(arrow_type) or t.is_integer(arrow_type))

    def write(self, batch: Any) -> None:
        columns = []
        for column, convert in zip(batch.columns, self._convert):
            values = column.to_pylist()
            columns.append([_plain(value) for value in values] if convert else values)
        names, encode = self._names, self._encode
        lines = [encode(dict(zip(names, row))) for row in zip(*columns)]
        if lines:
            self._out.write(("\n".join(lines) + "\n").encode("utf-8"))

    def close(self) -> None:
        pass
